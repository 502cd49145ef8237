"""JAX/Flax trainer for TPU slices (CPU backend in tests); see ../../README.md."""
