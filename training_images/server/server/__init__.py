"""ONNX Runtime model server speaking the Open Inference Protocol (KServe v2 REST) with Prometheus metrics."""
