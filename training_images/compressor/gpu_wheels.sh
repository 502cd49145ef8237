#!/usr/bin/env bash
# Wheels the GPU check needs that the device image lacks (its python3 is 3.12 with torch,
# transformers 5.17, accelerate, pyarrow and pandas already there; nothing can be fetched on it).
# Run here, then carry the folder: `run(carry=[".gpu_wheels"], command="bash training_images/compressor/gpu_check.sh")`.
set -euo pipefail
DEST="${1:-.gpu_wheels}"
mkdir -p "$DEST"
PIP="${PIP:-.venv/bin/pip}"
"$PIP" download --quiet --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
  --platform manylinux_2_17_x86_64 --implementation cp -d "$DEST" \
  llmcompressor==0.14.0.1 compressed-tensors==0.19.0 auto-round==0.15.1 datasets==5.2.0 \
  pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
  loguru==0.7.3 multiprocess==0.70.19 dill
du -sh "$DEST"
