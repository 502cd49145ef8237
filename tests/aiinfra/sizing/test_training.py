"""Training sizing end to end over the real catalog: counts, hours, cost, feasibility reasons, ranking."""

from __future__ import annotations

import math

import pytest

from aiinfra.catalog.prices import hourly_price
from aiinfra.sizing import SizingError, TrainingGoal, plan_training
from aiinfra.sizing.formulas import GIB
from aiinfra.sizing.training import Candidate, TrainingPlan


def only(plan: TrainingPlan, instance: str) -> Candidate:
    found = [c for c in plan.candidates if c.instance_or_slice == instance]
    assert len(found) == 1, [c.key for c in found]
    return found[0]


def test_p5_for_7b_on_2t_tokens_in_30_days_hand_computed() -> None:
    plan = plan_training(TrainingGoal(params=7e9, tokens=2e12, deadline_hours=720, accelerators=("h100",),
                                      clouds=("aws",), regions=("us-east-1",)))
    c = only(plan, "p5.48xlarge")
    # 6 x 7e9 x 2e12 = 8.4e22 FLOPs; / (989e12 x 0.155 (Hopper, up to 20B)) / 3600 / 0.9 goodput
    # = 169,245 H100-hours
    acc_hours = 8.4e22 / (989e12 * 0.155) / 3600 / 0.9
    # ceil(169,245 / 720) = 236 GPUs -> 30 instances of 8 = 240 GPUs, 705.2 h
    assert (c.units, c.count) == (30, 240)
    assert c.hours == pytest.approx(acc_hours / 240)
    # pessimistic: MFU x 0.8 and goodput 0.85
    assert c.pessimistic_hours == pytest.approx(8.4e22 / (989e12 * 0.155 * 0.8) / 3600 / 0.85 / 240)
    assert c.accelerator_hours == pytest.approx(acc_hours)
    price = hourly_price("p5.48xlarge", "us-east-1").hourly_usd
    assert c.cost_on_demand_usd == pytest.approx(30 * price * acc_hours / 240)
    assert c.pessimistic_cost_usd == pytest.approx(30 * price * c.pessimistic_hours)
    assert c.feasible and c.reasons == ()
    # 240 ranks: DDP needs 16 x 7e9 B = 104 GiB > 72 GiB usable; ZeRO-1 (4 + 12/240) x 7e9 fits
    assert c.sharding == "zero1"
    assert c.network is not None and c.network.tier == "ultra" and c.network.keeps_up
    assert any("Running On-Demand P instances" in n and "5760 vCPUs" in n for n in c.notes)


def test_recommended_is_the_cheapest_feasible_candidate() -> None:
    plan = plan_training(TrainingGoal(params=7e9, tokens=2e12, deadline_hours=720))
    feasible = [c for c in plan.candidates if c.feasible]
    assert plan.recommended is not None
    assert plan.recommended.cost_usd == min(c.cost_usd for c in feasible if c.cost_usd is not None)
    assert plan.candidates[0] is plan.recommended
    # every cloud and TPUs are considered
    assert {c.cloud for c in plan.candidates} == {"aws", "gcp"}
    assert any(c.offering.is_tpu for c in plan.candidates)


def test_no_deadline_takes_the_fewest_accelerators_that_fit() -> None:
    plan = plan_training(TrainingGoal(params=70e9, tokens=1e12, accelerators=("h100",), regions=("us-east-1",)))
    c = only(plan, "p5.48xlarge")
    # 70e9 x 16 B = 1.12e12 B over (72 GiB - activations) per GPU
    usable = 80 * GIB * 0.9 - plan.activation_bytes
    assert c.min_to_fit == math.ceil(1.12e12 / usable)
    assert c.count == math.ceil(c.min_to_fit / 8) * 8


def test_activations_that_overflow_one_device_are_infeasible() -> None:
    plan = plan_training(TrainingGoal(params=7e9, tokens=2e12, accelerators=("l4",), seq_len=131072,
                                      regions=("us-east-1",)))
    # 33 layers x 4224 hidden: (2 x 33 + 34) x 131072 x 4224 B = 51.6 GiB > 24 x 0.9 = 21.6 GiB
    assert plan.candidates[0].reasons == (
        "one sequence's activations (51.6 GiB) exceed the usable 21.6 GiB of a l4; needs tensor/sequence "
        "parallelism (not sized here) or a shorter --seq-len",)
    assert plan.recommended is None


def test_slow_network_and_batch_ceiling_rule_out_small_instances() -> None:
    plan = plan_training(TrainingGoal(params=7e9, tokens=2e12, deadline_hours=720, accelerators=("a10g",),
                                      regions=("us-east-1",)))
    c = only(plan, "g5.xlarge")
    assert c.reasons == (
        "3319 data-parallel ranks exceed the global batch of 1024 sequences; raise --global-batch or the deadline "
        "(tensor/pipeline parallelism is not sized here)",
        "gradient sync needs 41 Gbit/s per node but the g5.xlarge network gives 10; the assumed MFU would not hold",
    )


def test_tpu_need_beyond_the_largest_slice_is_infeasible() -> None:
    plan = plan_training(TrainingGoal(params=70e9, tokens=15e12, deadline_hours=720, accelerators=("tpu-v5e",),
                                      regions=("us-central1",)))
    c = plan.candidates[0]
    assert c.instance_or_slice == "v5litepod-256"
    assert c.reasons[0] == ("needs 29673 chips; the largest v5e slice is v5litepod-256 (256 chips) and multislice "
                            "is not sized here")
    assert c.reasons[1].endswith("over the 720 h deadline")


def test_tpu_slice_rounds_up_to_a_valid_size() -> None:
    plan = plan_training(TrainingGoal(params=7e9, tokens=2e12, deadline_hours=720, accelerators=("tpu-v6e",),
                                      regions=("us-central1",)))
    c = plan.candidates[0]
    # 8.4e22 / (918e12 x 0.462) / 3600 / 0.9 goodput = 61,129 chip-hours; / 720 -> 85 chips -> v6e-128
    assert c.instance_or_slice == "v6e-128" and c.count == 128
    assert c.cost_on_demand_usd == pytest.approx(hourly_price("v6e-128", "us-central1").hourly_usd * c.hours)


def test_budget_filters_and_reports_the_overrun() -> None:
    plan = plan_training(TrainingGoal(params=7e9, tokens=2e12, budget_usd=1000, accelerators=("h100",),
                                      clouds=("aws",), regions=("us-east-1",)))
    assert plan.recommended is None
    c = only(plan, "p5.48xlarge")
    assert c.reasons == (f"costs ${c.cost_on_demand_usd:,.0f} (on-demand), over the $1,000 budget",)


def test_spot_ranks_by_spot_price() -> None:
    plan = plan_training(TrainingGoal(params=7e9, tokens=2e12, deadline_hours=720, accelerators=("h100",),
                                      clouds=("aws",), regions=("us-east-1",), spot=True))
    c = only(plan, "p5.48xlarge")
    assert c.market == "spot" and c.cost_usd == c.cost_spot_usd
    assert c.cost_spot_usd is not None and c.cost_on_demand_usd is not None
    assert c.cost_spot_usd < c.cost_on_demand_usd


def test_fp16_is_not_offered_on_tpus() -> None:
    plan = plan_training(TrainingGoal(params=1e9, tokens=2e10, precision="fp16", accelerators=("tpu-v5p",)))
    assert all("TPUs compute in bf16, not fp16; use --precision bf16" in c.reasons for c in plan.candidates)


def test_samples_mode_uses_three_times_forward_flops() -> None:
    plan = plan_training(TrainingGoal(params=25e6, samples=1.28e6 * 90, flops_per_sample=4.1e9,
                                      bytes_per_sample=110_000, accelerators=("a100-80gb",)))
    assert plan.flops == pytest.approx(3 * 1.28e6 * 90 * 4.1e9)
    assert plan.dataset_bytes == pytest.approx(1.28e6 * 90 * 110_000)


def test_mfu_ten_points_lower_stretches_hours_in_proportion() -> None:
    plan = plan_training(TrainingGoal(params=7e9, tokens=2e12, accelerators=("h100",), clouds=("aws",),
                                      regions=("us-east-1",)))
    rec = plan.recommended
    assert rec is not None
    same = plan.sensitivity["same_configuration"]
    # no deadline: the count comes from memory alone and stays; hours scale by 0.155 / 0.055 (Hopper, up to 20B)
    assert same["count"] == rec.count
    assert same["hours"] == pytest.approx(rec.hours * 0.155 / 0.055, abs=0.01)
    assert same["mfu"] == pytest.approx(0.055)
    assert plan.sensitivity["mfu_delta"] == -0.10


def test_mfu_override_replaces_every_family() -> None:
    plan = plan_training(TrainingGoal(params=7e9, tokens=2e12, mfu=0.5, accelerators=("h100", "tpu-v5p")))
    assert {c.mfu for c in plan.candidates} == {0.5}
    rows = {a["key"]: a for a in plan.assumptions_json()}
    assert rows["mfu.h100"]["source"] == "user (--mfu)"


def test_every_printed_assumption_has_a_value_and_a_source() -> None:
    plan = plan_training(TrainingGoal(params=7e9, tokens=2e12, deadline_hours=720))
    rows = plan.to_json()["assumptions"]
    assert {"flops_per_param_token", "mfu.hopper", "mfu.tpu", "mfu.ampere"} <= {r["key"] for r in rows}
    for row in rows:
        assert row["source"] and isinstance(row["value"], float)


def test_json_has_the_documented_shape() -> None:
    out = plan_training(TrainingGoal(params=7e9, tokens=2e12, deadline_hours=720)).to_json()
    assert {"inputs", "assumptions", "candidates", "recommended"} <= set(out)
    assert {"cloud", "region", "accelerator", "instance_or_slice", "count", "hours", "accelerator_hours", "cost_usd",
            "feasible", "reasons"} <= set(out["candidates"][0])
    assert out["storage"]["checkpoint_gb"] == 98.0  # (2 + 12) x 7e9
    assert out["storage"]["dataset_gb"] == 8000.0  # 2e12 x 4 B


@pytest.mark.parametrize(
    ("goal", "message"),
    [
        (TrainingGoal(params=-7e9, tokens=2e12), "--params: -7e9 must be a positive number"),
        (TrainingGoal(params=7e9, tokens=2e12, accelerators=("h10",)),
         "--accelerator: 'h10' is not a known accelerator; did you mean 'h100'? (known: a100-40gb, a100-80gb, "
         "a10g, b200, h100, h200, l4, l40s, v4, v5e, v5p, v6e)"),
        (TrainingGoal(params=7e9, tokens=2e12, deadline_hours=100, budget_usd=1e5),
         "--deadline-hours and --budget-usd: give one, not both (a deadline sizes the cluster; a budget caps the "
         "cost of the smallest one that fits)"),
        (TrainingGoal(params=7e9), "--tokens: is required (or --samples with --flops-per-sample)"),
        (TrainingGoal(params=7e9, samples=1e6), "--flops-per-sample: is required with --samples (forward-pass "
                                                "FLOPs of one sample)"),
        (TrainingGoal(params=7e9, tokens=2e12, precision="fp8"),
         "--precision: 'fp8' is not allowed; expected one of bf16, fp16"),
        (TrainingGoal(params=7e9, tokens=2e12, mfu=1.5),
         "--mfu: 1.5 is not a utilisation; expected a fraction in (0, 1], e.g. 0.4"),
        (TrainingGoal(params=7e9, tokens=2e12, regions=("us-east-9",)),
         "--region: 'us-east-9' has no priced accelerators; did you mean 'us-east-2'?"),
        (TrainingGoal(params=7e9, tokens=2e12, clouds=("azure",)),
         "--cloud: 'azure' is not allowed; expected one of aws, gcp"),
    ],
)
def test_bad_input_is_one_clear_message(goal: TrainingGoal, message: str) -> None:
    with pytest.raises(SizingError) as err:
        plan_training(goal)
    assert err.value.problems == [message]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SizingError) as err:
        plan_training(TrainingGoal(params=0, tokens=-1, deadline_hours=1, budget_usd=1))
    assert len(err.value.problems) == 3


def test_budget_plan_over_the_day_limit_warns_and_shows_the_deadline_driven_alternative() -> None:
    # the review's case: a $250,000 budget on spot picks 4 x v6e for ~15,000 h (~21 months)
    plan = plan_training(TrainingGoal(params=7e9, tokens=2e12, budget_usd=250_000, spot=True))
    rec, alt = plan.recommended, plan.alternative
    assert rec is not None and alt is not None
    assert rec.hours > 60 * 24
    assert len(plan.warnings) == 1
    assert plan.warnings[0].startswith(f"with the $250,000 budget the cheapest plan runs {rec.hours / 24:,.0f} days")
    assert "over the 60-day limit (--max-days)" in plan.warnings[0]
    # the alternative is the cheapest plan that meets a 60-day deadline
    assert alt.feasible and alt.hours <= 60 * 24 and alt.count > rec.count
    deadline = plan_training(TrainingGoal(params=7e9, tokens=2e12, deadline_hours=60 * 24, spot=True))
    assert deadline.recommended is not None and alt.key == deadline.recommended.key
    assert plan.to_json()["alternative"]["instance_or_slice"] == alt.instance_or_slice


def test_max_days_moves_the_limit_and_a_short_run_does_not_warn() -> None:
    goal = TrainingGoal(params=1e9, tokens=2e10, accelerators=("h100",), regions=("us-east-1",))
    assert plan_training(goal).warnings == ()
    tight = plan_training(TrainingGoal(params=1e9, tokens=2e10, accelerators=("h100",), regions=("us-east-1",),
                                       max_days=0.01))
    assert tight.warnings and "over the 0.01-day limit" in tight.warnings[0]
    assert tight.alternative is not None and tight.alternative.hours <= 0.24


def test_max_days_with_a_deadline_is_refused() -> None:
    with pytest.raises(SizingError) as err:
        plan_training(TrainingGoal(params=7e9, tokens=2e12, deadline_hours=100, max_days=10))
    assert err.value.problems == ["--max-days: applies to plans without a deadline; --deadline-hours already bounds "
                                  "the run"]


def test_a_tpu_chip_has_its_canonical_name_and_older_spellings_still_select_it() -> None:
    def plan(name: str) -> TrainingPlan:
        return plan_training(TrainingGoal(params=7e9, tokens=2e12, deadline_hours=720, accelerators=(name,),
                                          regions=("us-central1",)))

    canonical, older = plan("v6e"), plan("tpu-v6e")
    assert canonical.recommended is not None and older.recommended is not None
    assert canonical.recommended.accelerator == older.recommended.accelerator == "v6e"
    assert canonical.recommended.instance_or_slice == older.recommended.instance_or_slice
