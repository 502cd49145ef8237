#!/usr/bin/env bash
# GPU check of the compressor's LLM path (one GPU, < 5 min on an H200): a trained small Llama
# quantized to FP8 and W4A16 (perplexity delta, size ratio), and decode tokens/s of a ~1.1B
# Llama in bf16 against FP8 / int4 kernels. See gpu_check.py. Run from the repo root; logs and
# summary.json go to "$OUT/". The device image has torch and transformers but not llm-compressor:
# prepare its wheels here with training_images/compressor/gpu_wheels.sh and carry .gpu_wheels.
set -euo pipefail
OUT="${OUT:-/tmp/gpu_check}"
WHEELS="${WHEELS:-.gpu_wheels}"
mkdir -p "$OUT"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
SITE="$WORK/site"
if ! python3 -c "import llmcompressor, compressed_tensors" 2>/dev/null; then
  ls "$WHEELS"/*.whl >/dev/null 2>&1 || { echo "llmcompressor missing and no wheels in $WHEELS (run gpu_wheels.sh)"; exit 2; }
  python3 -m pip install --quiet --no-index --no-deps --target "$SITE" "$WHEELS"/*.whl
fi
export PYTHONPATH="$PWD/training_images/compressor:$PWD/training_images/common:$SITE${PYTHONPATH:+:$PYTHONPATH}"
export LLM_COMPRESSOR_LOG_DISABLED=true TOKENIZERS_PARALLELISM=false
timeout 290 python3 training_images/compressor/gpu_check.py "$WORK" 2>&1 | tee "$OUT/gpu_check.log"
