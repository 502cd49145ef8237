"""What the API-model check adds to `aiinfra plan`, measured side by side with the plan in one run.

For each default stack, two fresh processes, as a user or CI runs them:
- `aiinfra plan --stack S --no-policy --format json` (the whole command, check included), and
- the check alone on that plan's resources, in a new interpreter, so it pays what a plan
  pays for it: importing botocore, loading each service model and discovery excerpt once
  (the `aiinfra` package itself is imported before the clock starts: a plan has it already).
A third run of the check in that same process (models cached) shows what is left when warm.
`added` = check cold / whole command: the share of a plan's time the check costs.

    .venv/bin/python bench/apicheck.py [--stacks dev,prod]

Last line: {stack: {"plan_s", "check_cold_s", "check_warm_s", "added", "resources", "problems"}}.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STACKS = ("dev", "staging", "prod", "gcp-dev", "gcp-prod")

_CHECK = """
import json, sys, time
from types import SimpleNamespace
from aiinfra.apicheck import check_resources  # no model is loaded yet: botocore is imported by the check
t0 = time.perf_counter()
doc = json.load(open(sys.argv[1]))
rs = [SimpleNamespace(type=r["type"], name=r["name"], inputs=r["inputs"], custom=r["custom"])
      for r in doc["resources"]]
t1 = time.perf_counter()
problems = check_resources(rs)
t2 = time.perf_counter()
check_resources(rs)
t3 = time.perf_counter()
print(json.dumps({"cold": t2 - t0, "warm": t3 - t2, "problems": len(problems),
                  "resources": len(rs)}))
"""


def main(argv: list[str]) -> int:
    stacks = tuple(argv[1].split(",")) if argv[:1] == ["--stacks"] and len(argv) == 2 else STACKS
    aiinfra = str(Path(sys.executable).with_name("aiinfra"))
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for stack in stacks:
            plan_json = Path(tmp) / f"{stack}.json"
            t0 = time.perf_counter()
            with plan_json.open("w") as fh:
                run = subprocess.run([aiinfra, "plan", "--stack", stack, "--no-policy", "--format", "json"],
                                     cwd=ROOT, stdout=fh, stderr=subprocess.PIPE, text=True)
            plan_s = time.perf_counter() - t0
            if run.returncode != 0:
                last = (run.stderr.strip().splitlines() or [""])[-1]
                print(f"{stack}: aiinfra plan exited {run.returncode} ({last}); skipped")
                continue
            got = json.loads(subprocess.run([sys.executable, "-c", _CHECK, str(plan_json)], cwd=ROOT, check=True,
                                            capture_output=True, text=True).stdout)
            out[stack] = {"resources": got["resources"], "problems": got["problems"], "plan_s": round(plan_s, 2),
                          "check_cold_s": round(got["cold"], 3), "check_warm_s": round(got["warm"], 4),
                          "added": round(got["cold"] / plan_s, 3)}
            print(f"{stack:9} {got['resources']:4} resources  aiinfra plan {plan_s:6.2f} s  check cold "
                  f"{got['cold']:6.3f} s  warm {got['warm']:7.4f} s  added {got['cold'] / plan_s:6.1%}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
