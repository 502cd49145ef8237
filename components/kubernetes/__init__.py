"""Kubernetes clusters (EKS, GKE) with accelerator node pools and the device plugins that make them schedulable."""
