"""Workloads on the cluster: distributed training jobs (torchrun across nodes) and the compressed-model server."""
