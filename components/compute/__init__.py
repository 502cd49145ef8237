"""Accelerator capacity: GPU instance groups and TPU pods."""
