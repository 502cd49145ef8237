"""Pricers per platform: one module per cloud, each with its own `PRICERS` and free-type table.

- `aws.py`: every `aws:` type the components create;
- `gcp.py`: every `gcp:` type;
- `kubernetes.py`: the `kubernetes:` objects priced themselves (jobs, claims); the rest are free.
- `serving.py`: a GPU Deployment's floor (nodes its minimum replicas keep beyond its pool's minimum).
- `tpu_queued.py`: the TPU queued resource made through the REST API (components/compute/tpu_queued.py).

To price a new resource type, write `def _thing(res: CostResource, ctx: Context) -> CostLine`
in the module of its provider, build it from `aiinfra/costs/inputs.py` (`get`, `num`, `quote`,
`unit`, `Part`, `cost_line`; raise `Unpriced` for a missing cost-deciding value), and add its
type token to that module's `PRICERS`. A type with no charge goes in the module's
`FREE_TYPES` instead. `aiinfra/costs/estimate.py` merges the tables and refuses a token listed twice.
"""
