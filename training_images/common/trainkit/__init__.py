"""Framework-free pieces both trainer images share (no torch, no jax): config, batch order, health, log events.

The torch trainer (training_images/trainer) and the JAX TPU trainer (training_images/trainer_tpu)
import these so one Job spec drives either image and both draw the same batches.
"""
