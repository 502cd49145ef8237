"""Compression benchmark: trains the fp32 digits teacher with the trainer, runs the compressor, prints the stage table.

Everything is measured side by side in one run, single-threaded. The last
line of output is one JSON object: size_ratio, accuracy_drop_pp,
speedup_batch1, speedup_batch64 (final int8 ONNX vs the fp32 teacher).

    .venv/bin/python bench/compression.py [--out DIR]
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
for image in ("trainer", "compressor"):
    sys.path.insert(0, str(ROOT / "training_images" / image))

# The reference teacher (shared with tests/training_images/conftest.py).
from compressor.reference import TEACHER_FLAGS  # noqa: E402 (after the image paths are set)


def build_artifacts(out: Path) -> dict[str, Any]:
    """Digits data -> trained teacher checkpoint -> compressed artifacts + report under ``out``."""
    import torch
    from compressor.pipeline import CompressConfig, run
    from trainer import config, data, train

    torch.set_num_threads(1)
    data.write_digits(out / "data", seed=0)
    cfg = config.load(["--data-uri", str(out / "data"), "--checkpoint-dir", str(out / "teacher"), *TEACHER_FLAGS], {})
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
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        report = build_artifacts(out)
        print((out / "artifacts" / "report.md").read_text())
    s = report["summary"]
    print(json.dumps({k: round(v, 4) + 0.0 for k, v in s.items()}))  # +0.0 turns -0.0 into 0.0
    return 0


if __name__ == "__main__":
    sys.exit(main())
