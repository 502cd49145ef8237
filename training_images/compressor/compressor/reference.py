"""The reference teacher the compression result is measured against (bench and tests share it).

A 64-512-512-10 MLP trained by the trainer on scikit-learn's digits for 2000 steps of
batch 64; the compressed artifact must be >= 10x smaller, within 1 point of its accuracy,
and faster on the CPU at batch 1 and 64.
"""

TEACHER_FLAGS: tuple[str, ...] = (
    "--hidden", "512,512",
    "--max-steps", "2000",
    "--checkpoint-every", "1000",
    "--log-every", "1000",
    "--weight-decay", "0.01",
    "--lr-schedule", "cosine",
    "--heartbeat-file", "",
)
