"""`aiinfra size`: from a training (or serving) goal to the cheapest configuration that meets it.

Prints ranked candidates across AWS instance types, GCP machine types and TPU slices with
count, hours and cost, every assumption with its source, the plan at 10 points lower MFU,
and with `--emit-stack-config` the stack-file block for the recommended one.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from aiinfra.commands.common import fail, finite_float
from aiinfra.sizing import (
    Optimizer,
    Quantization,
    ServingGoal,
    ServingPlan,
    SizingError,
    TrainingGoal,
    TrainingPlan,
    plan_serving,
    plan_training,
    stack_config_yaml,
)
from aiinfra.sizing.formulas import show_number
from aiinfra.sizing.training import Candidate, known_accelerators

TABLE_ROWS = 15


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "size", help="size accelerators, storage and network for a training goal (or --serve for serving)",
        description="Turn a training goal (parameters, tokens, deadline or budget) or a serving goal "
                    "(--serve: parameters, quantization, context, requests/s) into ranked, priced "
                    "configurations across AWS, GCP and TPU, with every assumption and its source.")
    goal = p.add_argument_group("goal")
    goal.add_argument("--params", type=finite_float, required=True, help="model parameters, e.g. 7e9")
    goal.add_argument("--tokens", type=finite_float, help="training tokens, e.g. 2e12")
    goal.add_argument("--samples", type=finite_float, help="training samples (instead of --tokens)")
    goal.add_argument("--flops-per-sample", type=finite_float, help="forward-pass FLOPs per sample (with --samples)")
    goal.add_argument("--bytes-per-sample", type=finite_float, help="stored bytes per sample (with --samples)")
    goal.add_argument("--deadline-hours", type=finite_float, help="finish within this many hours (sizes the cluster)")
    goal.add_argument("--budget-usd", type=finite_float, help="spend at most this (instead of a deadline)")
    model = p.add_argument_group("model and training")
    model.add_argument("--precision", default="bf16", help="bf16 (default) or fp16 mixed precision")
    model.add_argument("--optimizer", default=Optimizer.ADAM.value,
                       help=f"{' or '.join(o.value for o in Optimizer)} (default adam)")
    model.add_argument("--seq-len", type=int, help="tokens per sequence (default 4096)")
    model.add_argument("--global-batch", type=int, help="sequences per optimizer step (default 1024)")
    model.add_argument("--layers", type=int, help="transformer layers (default: derived from --params)")
    model.add_argument("--hidden", type=int, help="hidden size (default: derived from --params)")
    model.add_argument("--mfu", type=finite_float, help="model FLOPs utilisation for every accelerator (default: per "
                                                 "family, from the literature)")
    model.add_argument("--checkpoints-kept", type=int, help="checkpoints kept on shared storage (default 3)")
    model.add_argument("--dataset-gb", type=finite_float, help="dataset size on shared storage (default: tokens x 4 B)")
    model.add_argument("--max-days", type=finite_float,
                       help="without a deadline, warn when the run takes longer and show the plan that finishes "
                            "in this many days (default 60)")
    where = p.add_argument_group("where")
    where.add_argument("--accelerator", action="append", default=[], metavar="NAME",
                       help=f"only these accelerators (repeatable): {', '.join(known_accelerators())} (canonical "
                            "catalog names, TPUs by generation; tpu-v5p and other cloud spellings also accepted)")
    where.add_argument("--cloud", action="append", default=[], help="only aws or gcp (repeatable)")
    where.add_argument("--region", action="append", default=[], help="only these regions (repeatable)")
    where.add_argument("--spot", action="store_true", help="spot capacity allowed (rank by the spot price)")
    serve = p.add_argument_group("serving (--serve)")
    serve.add_argument("--serve", action="store_true", help="size model serving instead of training")
    serve.add_argument("--quantization", default=Quantization.FP16.value,
                       help=f"weights as {', '.join(q.value for q in Quantization)} (default fp16)")
    serve.add_argument("--context", type=int, default=4096,
                       help="longest sequence served, prompt + output (the engine's max model length)")
    serve.add_argument("--rps", type=finite_float, help="target requests per second")
    serve.add_argument("--prompt-tokens", type=int, help="mean prompt tokens per request (default 1024)")
    serve.add_argument("--output-tokens", type=int, help="mean generated tokens per request (default 256)")
    serve.add_argument("--kv-heads", type=int,
                       help="key/value heads, grouped-query attention (default 8; attention heads for MHA)")
    serve.add_argument("--prefix-cache-hit", type=finite_float,
                       help="share of prompt tokens served from the prefix cache (default 0)")
    serve.add_argument("--engine-efficiency", type=finite_float,
                       help="share of the GPU roofline the serving engine achieves (default 0.38, vLLM's profile)")
    out = p.add_argument_group("output")
    out.add_argument("--format", choices=("table", "json"), default="table")
    out.add_argument("--emit-stack-config", action="store_true",
                     help="print the stack-file block (gpuGroups/tpuPods/storage/network) for the recommended one")
    out.add_argument("--limit", type=int, default=TABLE_ROWS, help=f"table rows (default {TABLE_ROWS})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.serve:
            return _serve(args)
        return _train(args)
    except SizingError as exc:
        return fail(str(exc).replace("\n", "\nerror: "))


def _train(args: argparse.Namespace) -> int:
    problems: list[str] = []
    for flag, value in (("--rps", args.rps), ("--prompt-tokens", args.prompt_tokens),
                        ("--output-tokens", args.output_tokens), ("--kv-heads", args.kv_heads),
                        ("--prefix-cache-hit", args.prefix_cache_hit), ("--engine-efficiency", args.engine_efficiency)):
        if value is not None:
            problems.append(f"{flag}: is a serving option; add --serve or remove it")
    optimizer = _enum(Optimizer, args.optimizer, "--optimizer", problems)
    if problems:
        raise SizingError(problems)
    goal = TrainingGoal(
        params=args.params, tokens=args.tokens, samples=args.samples, flops_per_sample=args.flops_per_sample,
        bytes_per_sample=args.bytes_per_sample, deadline_hours=args.deadline_hours, budget_usd=args.budget_usd,
        precision=args.precision, optimizer=optimizer or Optimizer.ADAM, seq_len=args.seq_len,
        global_batch=args.global_batch, layers=args.layers, hidden=args.hidden,
        accelerators=tuple(args.accelerator), clouds=tuple(args.cloud), regions=tuple(args.region),
        spot=args.spot, mfu=args.mfu, checkpoints_kept=args.checkpoints_kept, dataset_gb=args.dataset_gb,
        max_days=args.max_days,
    )
    plan = plan_training(goal)
    if args.emit_stack_config:
        if plan.recommended is None:
            return fail("no feasible configuration to emit; relax the deadline, budget or filters "
                        "(see `aiinfra size` without --emit-stack-config for the reasons)")
        print(stack_config_yaml(plan), end="")
        return 0
    if args.format == "json":
        print(json.dumps(plan.to_json(), indent=2))
    else:
        print(render_training(plan, args.limit))
    return 0


def _serve(args: argparse.Namespace) -> int:
    problems: list[str] = []
    quant = _enum(Quantization, args.quantization, "--quantization", problems)
    for flag, value in (("--tokens", args.tokens), ("--samples", args.samples),
                        ("--deadline-hours", args.deadline_hours), ("--budget-usd", args.budget_usd),
                        ("--max-days", args.max_days)):
        if value is not None:
            problems.append(f"{flag}: is a training option; remove it with --serve")
    if args.emit_stack_config:
        problems.append("--emit-stack-config: is for training plans; serving runs on the cluster's node pools")
    if problems:
        raise SizingError(problems)
    goal = ServingGoal(
        params=args.params, quantization=quant or Quantization.FP16, context=args.context,
        rps=args.rps if args.rps is not None else -1.0, output_tokens=args.output_tokens,
        prompt_tokens=args.prompt_tokens, kv_heads=args.kv_heads, prefix_cache_hit=args.prefix_cache_hit,
        engine_efficiency=args.engine_efficiency, layers=args.layers,
        hidden=args.hidden, accelerators=tuple(args.accelerator), clouds=tuple(args.cloud),
        regions=tuple(args.region), spot=args.spot, mfu=args.mfu, rps_given=args.rps is not None,
    )
    plan = plan_serving(goal)
    if args.format == "json":
        print(json.dumps(plan.to_json(), indent=2))
    else:
        print(render_serving(plan, args.limit))
    return 0


def _enum(kind: Any, value: str, flag: str, problems: list[str]) -> Any:
    try:
        return kind(value)
    except ValueError:
        problems.append(f"{flag}: {value!r} is not allowed; expected one of {', '.join(k.value for k in kind)}")
        return None


# ----------------------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------------------


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.0f}"


def _row(rank: str, c: Candidate) -> list[str]:
    net = c.network
    return [rank, c.cloud, c.region, c.accelerator, c.instance_or_slice, str(c.count), f"{c.hours:,.1f}",
            f"{c.accelerator_hours:,.0f}", _usd(c.cost_on_demand_usd), _usd(c.cost_spot_usd),
            net.tier if net else "-", c.sharding or "-", "yes" if c.feasible else "no"]


def _grid(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]


def render_training(plan: TrainingPlan, limit: int = TABLE_ROWS) -> str:
    g = plan.goal
    target = (f"deadline {g.deadline_hours:g} h" if g.deadline_hours else
              f"budget ${g.budget_usd:,.0f}" if g.budget_usd else "no deadline: smallest configuration that fits")
    work = (f"{show_number(g.tokens)} tokens" if g.tokens else
            f"{show_number(g.samples or 0)} samples x {show_number(g.flops_per_sample or 0)} FLOPs")
    lines = [f"Training sizing: {show_number(g.params)} parameters, {work}, {target}", ""]
    lines.append(f"Compute   {plan.flops:.3e} FLOPs = {plan.flops_basis}")
    lines.append(f"          {plan.steps:,.0f} steps of {plan.global_batch} x {plan.seq_len} tokens")
    how = "derived from parameters" if plan.shape.derived else "given"
    lines.append(f"Model     {plan.shape.layers} layers x {plan.shape.hidden} hidden ({how})")
    mem = plan.memory_table()
    bpp = mem[0]["bytes_per_param"]
    lines.append(f"Memory    {bpp['weights']:g} B weights + {bpp['gradients']:g} B gradients + {bpp['optimizer']:g} B "
                 f"optimizer = {bpp['total']:g} B/parameter; activations {mem[0]['activations_gib']} GiB per device "
                 "(1 sequence, full recompute)")
    for row in mem[1:]:
        lines.append(f"          {row['sharding']:<6} {row['gib_per_device_at_1']:>9,.1f} GiB on 1 device, "
                     f"{row['gib_per_device']:>9,.1f} GiB each on {row['devices']}")
    s = plan.to_json()["storage"]
    lines.append(f"Storage   checkpoint {s['checkpoint_gb']:,} GB x {s['checkpoints_kept']} + dataset "
                 f"{s['dataset_gb']:,} GB = {s['total_gb']:,} GB; data read {s['data_read_mbps']:,} MB/s, "
                 f"checkpoint write {s['checkpoint_write_mbps']:,} MB/s")
    lines.append("")
    lines += _candidates_table(plan.candidates, plan.recommended, limit)
    lines.append("")
    rec = plan.recommended
    if rec is None:
        lines.append("No feasible configuration. Reasons for the cheapest:")
        for reason in plan.candidates[0].reasons if plan.candidates else ["no offering matches the filters"]:
            lines.append(f"  - {reason}")
    else:
        net = rec.network
        lines.append(f"Recommended: {rec.count} x {rec.accelerator} as {rec.units} x {rec.instance_or_slice} in "
                     f"{rec.cloud} {rec.region}, {rec.hours:,.1f} h, {_usd(rec.cost_usd)} {rec.market}, "
                     f"{rec.sharding}, tier {net.tier if net else 'standard'}")
        if net is not None and net.participants > 1:
            lines.append(f"  gradient sync {net.bytes_per_step / 1e9:,.1f} GB per step per participant needs "
                         f"{net.required_gbps:,.1f} of {net.available_gbps:,.0f} Gbit/s ({net.link})")
        asm = plan.assumptions
        lines.append(f"  expected {rec.hours:,.1f} h ({rec.accelerator_hours:,.0f} accelerator-hours, MFU {rec.mfu:g}, "
                     f"goodput {asm['goodput_expected']:g}), {_usd(rec.cost_usd)}; pessimistic "
                     f"{rec.pessimistic_hours:,.1f} h, {_usd(rec.pessimistic_cost_usd)} (MFU x "
                     f"{asm['pessimistic_mfu_factor']:g}, goodput {asm['goodput_pessimistic']:g})")
        for note in rec.notes:
            lines.append(f"  note: {note}")
    for warning in plan.warnings:
        lines.append(f"WARNING: {warning}")
    alt = plan.alternative
    if alt is not None:
        lines.append(f"  deadline-driven alternative: {alt.count} x {alt.accelerator} as {alt.units} x "
                     f"{alt.instance_or_slice} in {alt.cloud} {alt.region}, {alt.hours:,.1f} h, {_usd(alt.cost_usd)} "
                     f"{alt.market} (pessimistic {alt.pessimistic_hours:,.1f} h, {_usd(alt.pessimistic_cost_usd)})")
    lines += _sensitivity_lines(plan.sensitivity)
    lines += ["", "Assumptions (value, unit, source):"]
    for a in plan.assumptions_json():
        lines.append(f"  {a['key']} = {a['value']:g} {a['unit']}  [{a['source']}]")
    return "\n".join(lines)


def _candidates_table(cands: tuple[Candidate, ...], rec: Candidate | None, limit: int) -> list[str]:
    header = ["", "cloud", "region", "accelerator", "instance/slice", "count", "hours", "acc-hours", "on-demand",
              "spot", "tier", "sharding", "feasible"]
    shown = list(cands[:limit])
    if rec is not None and rec not in shown:
        shown.append(rec)
    rows = [_row("*" if c is rec else str(i + 1), c) for i, c in enumerate(shown)]
    out = _grid(header, rows)
    hidden = len(cands) - len(shown)
    if hidden > 0:
        out.append(f"... {hidden} more (use --limit or --format json)")
    out.append("* cheapest feasible; ranked feasible first, then by cost")
    return out


def _sensitivity_lines(sens: dict[str, Any]) -> list[str]:
    if not sens:
        return []
    lines = ["", f"If MFU is {abs(sens['mfu_delta']) * 100:.0f} points lower:"]
    same = sens.get("same_configuration")
    if same:
        state = "still feasible" if same["feasible"] else "not feasible: " + "; ".join(same["reasons"])
        lines.append(f"  same choice: {same['count']} x {same['accelerator']} ({same['instance_or_slice']}), "
                     f"{same['hours']:,.1f} h, {_usd(same['cost_usd'])}, {state}")
    new = sens.get("recommended")
    if new:
        lines.append(f"  cheapest then: {new['count']} x {new['accelerator']} ({new['instance_or_slice']}) in "
                     f"{new['cloud']} {new['region']}, {new['hours']:,.1f} h, {_usd(new['cost_usd'])}")
    else:
        lines.append("  no configuration is feasible")
    return lines


def render_serving(plan: ServingPlan, limit: int = TABLE_ROWS) -> str:
    g = plan.goal
    lines = [f"Serving sizing: {show_number(g.params)} parameters ({g.quantization.value}), {plan.rps:g} requests/s of "
             f"{plan.prompt_tokens} prompt + {plan.output_tokens} output tokens (mean), context up to {g.context}", ""]
    how = "derived from parameters" if plan.shape.derived else "given"
    lines.append(f"Model     {plan.shape.layers} layers x {plan.shape.hidden} hidden ({how})")
    asm = plan.assumptions
    lines.append(f"Memory    weights {plan.weights_bytes / 1e9:,.1f} GB; KV cache {plan.kv_per_token / 1e3:,.1f} KB "
                 f"per token = 2 x {plan.shape.layers} layers x {plan.kv_heads} KV heads x {asm['head_dim']:g} x "
                 f"{asm['serving_bytes_kv']:g} B; {plan.kv_per_mean_sequence / 1e6:,.1f} MB per mean request, "
                 f"{plan.kv_per_sequence / 1e9:,.2f} GB per {g.context}-token sequence")
    lines.append(f"Batching  continuous (paged KV: a sequence holds its own tokens), up to "
                 f"{asm['serving_max_batch']:g} sequences; prefix-cache hit {plan.prefix_cache_hit:g}; "
                 f"engine efficiency {plan.engine_efficiency:g}")
    lines.append("")
    header = ["", "cloud", "region", "accelerator", "instance/slice", "per replica", "batch", "req/s each",
              "replicas", "instances", "$/month", "feasible"]
    shown = list(plan.candidates[:limit])
    if plan.recommended is not None and plan.recommended not in shown:
        shown.append(plan.recommended)
    rows = []
    for i, c in enumerate(shown):
        rows.append(["*" if c is plan.recommended else str(i + 1), c.cloud, c.region, c.accelerator,
                     c.instance_or_slice, str(c.devices_per_replica), str(c.batch), f"{c.rps_per_replica:,.2f}",
                     str(c.replicas), str(c.instances), _usd(c.cost_per_month_usd), "yes" if c.feasible else "no"])
    lines += _grid(header, rows)
    lines.append("* cheapest feasible")
    if plan.recommended is not None:
        r = plan.recommended
        lines += ["", f"Recommended: {r.instances} x {r.instance_or_slice} ({r.replicas} replicas of "
                      f"{r.devices_per_replica} x {r.accelerator}) in {r.cloud} {r.region}, "
                      f"{_usd(r.cost_per_month_usd)} per month ({plan.hours_per_month} h)"]
        for note in r.notes:
            lines.append(f"  note: {note}")
    else:
        lines += ["", "No feasible configuration."]
        if plan.candidates:
            lines += [f"  - {reason}" for reason in plan.candidates[0].reasons]
    lines += ["", "Assumptions (value, unit, source):"]
    for a in plan.assumptions_json():
        lines.append(f"  {a['key']} = {a['value']:g} {a['unit']}  [{a['source']}]")
    return "\n".join(lines)
