"""Compression pipeline image: prune, fine-tune, distil, int8-quantize and export to ONNX, measuring each stage."""
