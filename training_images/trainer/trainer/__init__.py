"""Distributed trainer (DDP/FSDP) for the classifier and byte-level LM images."""
