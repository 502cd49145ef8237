"""Plan time against the mock engine's floor, measured side by side in one run.

For each case (the dev stack, the prod stack, a synthetic stack with 50 GPU groups) the
program is planned offline, and the same number of bare resources is registered under
the same runner (a program that does nothing else): the floor. The ratio says what our
components cost on top of the engine itself. Medians of several alternating repeats.

Last line: {"dev_ratio", "prod_ratio", "synthetic_ratio", "synthetic_resources"}.
"""

from __future__ import annotations

import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiinfra.offline import StackConfig, load_stack_config, run_plan  # noqa: E402

REPEATS = 5

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


def timed(cfg: StackConfig) -> tuple[float, int]:
    start = time.perf_counter()
    plan = run_plan(cfg)
    elapsed = time.perf_counter() - start
    return elapsed, len(plan.resources) - 1  # the root stack is not one of ours


def measure(name: str, cfg: StackConfig, folder: Path) -> dict[str, Any]:
    _, count = timed(cfg)  # warm-up: imports, caches
    floor = floor_config(folder, count)
    timed(floor)
    plan_times, floor_times = [], []
    for _ in range(REPEATS):
        plan_times.append(timed(cfg)[0])
        floor_times.append(timed(floor)[0])
    plan_s, floor_s = statistics.median(plan_times), statistics.median(floor_times)
    row: dict[str, Any] = {"case": name, "resources": count, "plan_s": round(plan_s, 3), "floor_s": round(floor_s, 3),
           "ratio": round(plan_s / floor_s, 2)}
    print(f"{name:<10} {count:>6} resources  plan {plan_s:7.3f} s  floor {floor_s:7.3f} s  ratio {row['ratio']:5.2f}")
    return row


def main() -> None:
    print(f"offline plan vs bare-resource floor (median of {REPEATS}, alternating)")
    with tempfile.TemporaryDirectory() as tmp:
        dev = measure("dev", load_stack_config(ROOT, "dev"), Path(tmp))
        prod = measure("prod", load_stack_config(ROOT, "prod"), Path(tmp))
        synth = measure("synthetic", synthetic_config(50), Path(tmp))
    print(json.dumps({"dev_ratio": dev["ratio"], "prod_ratio": prod["ratio"], "synthetic_ratio": synth["ratio"],
                      "synthetic_resources": synth["resources"]}))


if __name__ == "__main__":
    main()
