"""Plan time against the mock engine's floor, measured side by side in one run.

For each case (the dev stack, the prod stack, a synthetic stack with 50 GPU groups) the
program is planned offline, and the same number of bare resources is registered under
the same runner (a program that does nothing else): the floor. The ratio says what our
components cost on top of the engine itself. Medians of several alternating repeats.

Two clocks: wall time (`ratio`, the figure the issues quote) and the process's CPU time
(`cpu_ratio`, every thread of the plan: on a shared machine wall time also counts the time
other processes held the CPU, CPU time does not). `--profile` prints where a dev plan's
main-thread time goes, by area (our components, the offline runner, the Pulumi SDK, the
provider SDKs, asyncio) and the costliest functions (cProfile). `--explain` splits a plan's
CPU time three ways for dev and prod: the floor; a replay of the same resources with the same
inputs as bare resources (what the input volume costs); the real plan (what real provider
resources, Outputs between them, components, invokes and the tag transform cost on top); and
how many full garbage collections each ran into.

Last line: {"dev_ratio", "prod_ratio", "synthetic_ratio", "synthetic_resources", "dev_cpu_ratio", ...}.
"""

from __future__ import annotations

import copy
import cProfile
import gc
import json
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiinfra.offline import StackConfig, load_stack_config, run_plan  # noqa: E402

REPEATS = 11

FLOOR_PROGRAM = '''
import pulumi
n = pulumi.Config().require_int("count")
for i in range(n):
    pulumi.CustomResource("bench:index:Bare", f"bare-{i}", {"index": i})
'''


def synthetic_config(groups: int = 50) -> StackConfig:
    base = load_stack_config(ROOT, "staging")
    values = copy.deepcopy(base.values)
    types = ["g6.xlarge", "g6e.xlarge", "g5.xlarge", "g6.12xlarge", "g6e.12xlarge"]
    values["ai-infra:network"] = {"cidr": "10.40.0.0/16", "azCount": 3, "tier": "enhanced"}
    values["ai-infra:gpuGroups"] = [
        {"name": f"group-{i}", "instanceType": types[i % len(types)], "purchase": "mixed",
         "onDemandPercentageAboveBase": 20, "minSize": 0, "desiredCapacity": 1, "maxSize": 4}
        for i in range(groups)
    ]
    return StackConfig(project=base.project, stack="synthetic", project_dir=ROOT, main=ROOT / "__main__.py",
                       values=values)


def floor_config(folder: Path, count: int) -> StackConfig:
    (folder / "Pulumi.yaml").write_text("name: floor\nruntime: python\n")
    (folder / "__main__.py").write_text(FLOOR_PROGRAM)
    return StackConfig(project="floor", stack="bench", project_dir=folder, main=folder / "__main__.py",
                       values={"floor:count": str(count)})


def timed(cfg: StackConfig) -> tuple[float, int, float]:
    """Wall seconds, resources (without the root stack) and CPU seconds of one plan."""
    start, cpu = time.perf_counter(), time.process_time()
    plan = run_plan(cfg)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return elapsed, len(plan.resources) - 1, cpu  # the root stack is not one of ours


def measure(name: str, cfg: StackConfig, folder: Path) -> dict[str, Any]:
    _, count, _ = timed(cfg)  # warm-up: imports, caches
    floor = floor_config(folder, count)
    timed(floor)
    plan_runs, floor_runs = [], []
    for _ in range(REPEATS):
        plan_runs.append(timed(cfg))
        floor_runs.append(timed(floor))
    plan_s, floor_s = statistics.median(r[0] for r in plan_runs), statistics.median(r[0] for r in floor_runs)
    plan_cpu, floor_cpu = statistics.median(r[2] for r in plan_runs), statistics.median(r[2] for r in floor_runs)
    row: dict[str, Any] = {"case": name, "resources": count, "plan_s": round(plan_s, 3), "floor_s": round(floor_s, 3),
                           "ratio": round(plan_s / floor_s, 2), "cpu_ratio": round(plan_cpu / floor_cpu, 2)}
    print(f"{name:<10} {count:>6} resources  plan {plan_s:7.3f} s  floor {floor_s:7.3f} s  ratio {row['ratio']:5.2f}"
          f"  cpu ratio {row['cpu_ratio']:5.2f}")
    return row


AREAS = (("components/", "our components"), ("aiinfra/offline", "offline runner"), ("site-packages/pulumi/",
         "Pulumi SDK"), ("site-packages/pulumi_", "provider SDKs"), ("asyncio", "asyncio"))


def profile(cfg: StackConfig, runs: int = 10) -> None:
    """Where a plan's main-thread time goes: share by area (own time), then the costliest functions."""
    timed(cfg)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(runs):
        run_plan(cfg)
    prof.disable()
    stats = pstats.Stats(prof)
    shares: dict[str, float] = {}
    for (filename, _, _), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        area = next((label for needle, label in AREAS if needle in filename), "other (stdlib, protobuf)")
        shares[area] = shares.get(area, 0.0) + own
    total = sum(shares.values())
    print(f"main-thread time of {runs} dev plans, by area (own time):")
    for area, own in sorted(shares.items(), key=lambda kv: -kv[1]):
        print(f"  {area:<26} {own:6.3f} s  {100 * own / total:5.1f}%")
    stats.sort_stats("cumulative").print_stats(25)


REPLAY_PROGRAM = '''
import json
import pulumi
for r in json.load(open("resources.json")):
    if r["custom"]:
        pulumi.CustomResource("bench:index:" + r["kind"], r["name"], r["inputs"])
    else:
        pulumi.ComponentResource("bench:index:" + r["kind"], r["name"])
'''


def replay_config(cfg: StackConfig, folder: Path) -> StackConfig:
    """The stack's resources, with the inputs its plan gave them, registered as bare resources."""
    plan = run_plan(cfg)
    resources = [{"kind": r.type.rsplit(":", 1)[-1], "name": r.name, "custom": r.custom, "inputs": r.inputs}
                 for r in plan.resources if r.type != "pulumi:pulumi:Stack"]
    (folder / "Pulumi.yaml").write_text("name: replay\nruntime: python\n")
    (folder / "__main__.py").write_text(REPLAY_PROGRAM)
    (folder / "resources.json").write_text(json.dumps(resources))
    return StackConfig(project="replay", stack="bench", project_dir=folder, main=folder / "__main__.py", values={})


def explain(repeats: int = 9) -> None:
    """CPU medians of floor, replay and plan, alternating, with the full collections each met."""
    full = [0]

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            full[0] += 1

    gc.callbacks.append(count)
    for name in ("dev", "prod"):
        cfg = load_stack_config(ROOT, name)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "floor").mkdir()
            (Path(tmp) / "replay").mkdir()
            _, n, _ = timed(cfg)
            cases = {"floor": floor_config(Path(tmp) / "floor", n), "replay": replay_config(cfg, Path(tmp) / "replay"),
                     "plan": cfg}
            cpu: dict[str, list[float]] = {k: [] for k in cases}
            collections = dict.fromkeys(cases, 0)
            for c in cases.values():
                timed(c)
            for _ in range(repeats):
                for k, c in cases.items():
                    before = full[0]
                    cpu[k].append(timed(c)[2])
                    collections[k] += full[0] - before
        print(f"{name} ({n} resources), CPU per plan, median of {repeats}:")
        for k in cases:
            print(f"  {k:<7} {1000 * statistics.median(cpu[k]):7.1f} ms   full collections in {collections[k]} "
                  f"of {repeats} runs")
    gc.callbacks.remove(count)


def main() -> None:
    if "--profile" in sys.argv:
        profile(load_stack_config(ROOT, "dev"))
        return
    if "--explain" in sys.argv:
        explain()
        return
    print(f"offline plan vs bare-resource floor (median of {REPEATS}, alternating)")
    with tempfile.TemporaryDirectory() as tmp:
        dev = measure("dev", load_stack_config(ROOT, "dev"), Path(tmp))
        prod = measure("prod", load_stack_config(ROOT, "prod"), Path(tmp))
        synth = measure("synthetic", synthetic_config(50), Path(tmp))
    print(json.dumps({"dev_ratio": dev["ratio"], "prod_ratio": prod["ratio"], "synthetic_ratio": synth["ratio"],
                      "synthetic_resources": synth["resources"], "dev_cpu_ratio": dev["cpu_ratio"],
                      "prod_cpu_ratio": prod["cpu_ratio"], "synthetic_cpu_ratio": synth["cpu_ratio"]}))


if __name__ == "__main__":
    main()
