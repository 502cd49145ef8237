"""Compression benchmark: trains the fp32 digits teacher with the trainer, runs the compressor, prints the stage table.

Everything is measured side by side in one run, single-threaded. The last
line of output is one JSON object: size_ratio, accuracy_drop_pp,
speedup_batch1, speedup_batch64 (final int8 ONNX vs the fp32 teacher).

``--teacher-hidden`` trains a teacher of other hidden widths with the same trainer flags
(a bench-only choice: the reference teacher the tests use stays ``TEACHER_FLAGS``).

    .venv/bin/python bench/compression.py [--out DIR] [--teacher-hidden 512,512]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch loads: single-threaded for stable ratios

ROOT = Path(__file__).resolve().parents[1]
for image in ("common", "trainer", "compressor"):
    sys.path.insert(0, str(ROOT / "training_images" / image))

# Imported here, not inside build_artifacts, so that `--help` already proves the image paths resolve
# (tests/bench runs it: a missing path used to surface only after the argument parsing).
import torch  # noqa: E402
from compressor.pipeline import CompressConfig, run  # noqa: E402

# The reference teacher (shared with tests/training_images/conftest.py).
from compressor.reference import TEACHER_FLAGS  # noqa: E402
from trainer import config, data, train  # noqa: E402


def build_artifacts(out: Path, teacher_hidden: str = "") -> dict[str, Any]:
    """Digits data -> trained teacher checkpoint -> compressed artifacts + report under ``out``.

    ``teacher_hidden`` ("2048,2048") overrides the reference teacher's hidden widths; every other
    trainer flag stays ``TEACHER_FLAGS``.
    """
    torch.set_num_threads(1)
    data.write_digits(out / "data", seed=0)
    flags = [*TEACHER_FLAGS, *(["--hidden", teacher_hidden] if teacher_hidden else [])]
    cfg = config.load(["--data-uri", str(out / "data"), "--checkpoint-dir", str(out / "teacher"), *flags], {})
    with contextlib.redirect_stdout(io.StringIO()):  # trainer JSON logs are not part of the bench output
        train.run(cfg)
    return run(
        CompressConfig(
            checkpoint=str(out / "teacher"), data_uri=str(out / "data"), output_dir=str(out / "artifacts"), threads=1
        )
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", help="keep data, checkpoint and artifacts here (default: a temp dir)")
    p.add_argument(
        "--teacher-hidden", default="", help="teacher hidden widths, e.g. 2048,2048 (default: the reference 512,512)"
    )
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        report = build_artifacts(out, args.teacher_hidden)
        print((out / "artifacts" / "report.md").read_text())
    s = report["summary"]
    print(json.dumps({k: round(v, 4) + 0.0 for k, v in s.items()}))  # +0.0 turns -0.0 into 0.0
    return 0


if __name__ == "__main__":
    sys.exit(main())
