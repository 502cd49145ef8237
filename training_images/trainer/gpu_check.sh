#!/usr/bin/env bash
# GPU smoke check for the trainer (one GPU, nccl): DDP classifier, DDP LM,
# FSDP LM with a resume, SIGTERM, then the checkpoint stall on a 1.2B-parameter LM
# (bench/checkpoint.py: today's rank-0 torch.save format against sharded async DCP).
# Run from the repo root; logs go to "$OUT/". Needs python3 with torch (>= 2.11) + CUDA,
# boto3 and google-cloud-storage (the images' storage library); no network.
# Budget: ~5 min for the smoke runs, ~6 min for the stall. STALL=0 skips the stall,
# STALL=only runs only the stall.
set -euo pipefail
OUT="${OUT:-/tmp/gpu_check}"
STALL="${STALL:-1}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD/training_images/common:$PWD/training_images/trainer${PYTHONPATH:+:$PYTHONPATH}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

python3 - "$WORK" <<'PY' 2>&1 | tee "$OUT/env.log"
import sys, pathlib, numpy as np, torch
work = pathlib.Path(sys.argv[1])
print("torch", torch.__version__, "cuda", torch.version.cuda, "device", torch.cuda.get_device_name(0))
rng = np.random.default_rng(0)
# Synthetic but learnable classifier data: labels from a fixed random linear map.
x = rng.standard_normal((65536, 256)).astype(np.float32)
w = rng.standard_normal((256, 10)).astype(np.float32)
(work / "cls").mkdir()
np.savez(work / "cls/train.npz", x=x, y=(x @ w).argmax(1))
np.savez(work / "cls/val.npz", x=x[:2048], y=(x[:2048] @ w).argmax(1))
words = "the of and to in is was for on that with as by at from his her it an were are".split()
text = " ".join(rng.choice(words, size=2_000_000))
(work / "corpus.txt").write_text(text)
PY

stall() {
  # 1.2B parameters (the issue's run: d 2048, 24 layers, seq 2048, batch 8); ~14 GB of weights and
  # AdamW state per checkpoint. Steps between saves give the background write time to finish.
  echo "=== checkpoint_stall" | tee -a "$OUT/summary.log"
  timeout 480 python3 bench/checkpoint.py --device cuda --threads 8 --d-model 2048 --n-layers 24 --n-heads 16 \
    --seq-len 2048 --batch-size 8 --checkpoints 3 --steps-between 100 --dir "$WORK/bench_ckpt" \
    2>&1 | grep -v Warning | tee "$OUT/checkpoint_stall.log" | tail -6 | tee -a "$OUT/summary.log"
}
if [ "$STALL" = "only" ]; then stall; exit 0; fi

run() {  # name, then trainer flags
  local name="$1"; shift
  echo "=== $name" | tee -a "$OUT/summary.log"
  timeout 150 python3 -m torch.distributed.run --nnodes=1 --nproc-per-node=1 --node-rank=0 \
    --master-addr=127.0.0.1 --master-port=29511 -m trainer.train --device cuda "$@" \
    > "$OUT/$name.log" 2>&1 || { echo "FAILED: $name (see $name.log)" | tee -a "$OUT/summary.log"; tail -20 "$OUT/$name.log"; return 1; }
  grep -E '"event": "(train|resume|done)"' "$OUT/$name.log" | tail -4 | tee -a "$OUT/summary.log"
  # Sharded async checkpoints: blocked_seconds is what training waited, seconds until published.
  grep -E '"event": "checkpoint"' "$OUT/$name.log" | tail -2 | tee -a "$OUT/summary.log" || true
}

LM=(--model lm --d-model 1024 --n-layers 12 --n-heads 16 --seq-len 1024 --batch-size 16 --lr 3e-4
    --warmup-steps 10 --data-uri "$WORK/corpus.txt" --log-every 10)

run ddp_classifier --model classifier --hidden 4096,4096,4096 --batch-size 4096 --data-uri "$WORK/cls" \
  --checkpoint-dir "$WORK/ck_cls" --max-steps 200 --checkpoint-every 100 --log-every 50
run ddp_lm "${LM[@]}" --strategy ddp --checkpoint-dir "$WORK/ck_ddp_lm" --max-steps 60 --checkpoint-every 30
run fsdp_lm "${LM[@]}" --strategy fsdp --checkpoint-dir "$WORK/ck_fsdp_lm" --max-steps 40 --checkpoint-every 20
run fsdp_lm_resume "${LM[@]}" --strategy fsdp --checkpoint-dir "$WORK/ck_fsdp_lm" --max-steps 60 --checkpoint-every 20
grep -q '"event": "resume", .*"step": 40' "$OUT/fsdp_lm_resume.log" \
  && echo "fsdp resume from step 40: ok" | tee -a "$OUT/summary.log"
# Preemption on GPU: SIGTERM to torchrun mid-run must checkpoint the current step (nccl
# all-reduce of the stop flag) and exit non-zero; the relaunch resumes at that step.
echo "=== ddp_lm_sigterm" | tee -a "$OUT/summary.log"
python3 -m torch.distributed.run --nnodes=1 --nproc-per-node=1 --node-rank=0 --master-addr=127.0.0.1 \
  --master-port=29512 -m trainer.train --device cuda "${LM[@]}" --strategy ddp \
  --checkpoint-dir "$WORK/ck_sigterm" --max-steps 100000 --checkpoint-every 100000 > "$OUT/ddp_lm_sigterm.log" 2>&1 &
agent=$!
for _ in $(seq 1 120); do
  grep -q '"event": "train", .*"step": [2-9][0-9]' "$OUT/ddp_lm_sigterm.log" && break
  sleep 1
done
kill -TERM "$agent"
set +e; wait "$agent"; rc=$?; set -e
stopped=$(python3 -c 'import json,sys; print([json.loads(l)["step"] for l in open(sys.argv[1]) if "\"preempted\"" in l][0])' "$OUT/ddp_lm_sigterm.log")
echo "sigterm: torchrun exit $rc, checkpointed step $stopped" | tee -a "$OUT/summary.log"
run ddp_lm_sigterm_resume "${LM[@]}" --strategy ddp --checkpoint-dir "$WORK/ck_sigterm" --max-steps $((stopped + 10)) \
  --checkpoint-every 100000
grep -q "\"event\": \"resume\", .*\"step\": $stopped" "$OUT/ddp_lm_sigterm_resume.log" \
  && echo "sigterm resume from step $stopped: ok" | tee -a "$OUT/summary.log"
if [ "$STALL" != "0" ]; then stall; fi
echo "gpu_check: all passed" | tee -a "$OUT/summary.log"
