"""Canonical accelerator names: one name per accelerator on every cloud, and the one resolver.

(Named `canonical`, not `accelerators`: a submodule of that name would shadow
`aiinfra.catalog.accelerators()`.)

A GPU's canonical name is its catalog name (`h100`, `a100-40gb`, `l4`, `t4`); a TPU's is its
generation (`v4`, `v5e`, `v5p`, `v6e`). The estimator reports these names on every cloud, so the
policies, budgets and sizing compare one vocabulary. Each cloud's own spelling is written once,
on the catalog row that owns it, and gathered here:

| spelling | example | written in |
|---|---|---|
| canonical GPU | `h100` | `accelerators.json` rows; `aws_instances.json` `accelerator` names them |
| Compute Engine / GKE type of a machine's GPUs | `nvidia-h100-mega-80gb` | `gcp_machines.json` `accelerator_type` |
| GPU attachable to N1 | `nvidia-tesla-t4` -> `t4` | `gcp_machines.json` `n1_accelerators` |
| TPU accelerator type prefix | `v5litepod` | `tpu.json` `type_prefix` |
| TPU API enum | `V5LITE_POD` | `tpu.json` `api_type` |
| GKE TPU node label | `tpu-v5-lite-podslice` | `tpu.json` `gke_accelerator` |
| sizing's older TPU chip name | `tpu-v5p` | the rule `tpu-<generation>` here |

`accelerator_aliases()` is the one table (every spelling -> canonical name) and refuses a
spelling that would name two accelerators; `canonical_accelerator()` resolves any spelling.
"""

from __future__ import annotations

from functools import cache

from aiinfra.catalog import accelerators, aws_instance_type, aws_instance_types, aws_neuron_type, aws_neuron_types
from aiinfra.catalog.gcp import gcp_machine_type, gcp_machine_types, n1_accelerators
from aiinfra.catalog.tpu import gke_tpu_machine, tpu_generations

__all__ = [
    "TPU_CHIP_PREFIX",
    "accelerator_aliases",
    "accelerator_names",
    "canonical_accelerator",
    "machine_accelerators",
]

TPU_CHIP_PREFIX = "tpu-"
"""Sizing's older spelling of a TPU chip (`tpu-v5p`), still accepted as an alias."""


@cache
def accelerator_names() -> frozenset[str]:
    """Every canonical accelerator name: the GPUs of `accelerators.json`, the GPUs attachable to N1,
    and the TPU generations of `tpu.json`."""
    names = set(accelerators()) | {a.accelerator for a in n1_accelerators().values()}
    return frozenset(names | set(tpu_generations()))


@cache
def accelerator_aliases() -> dict[str, str]:
    """The one table: every cloud's spelling of an accelerator (and each canonical name) -> canonical name."""
    table: dict[str, str] = {}

    def add(alias: str, canonical: str) -> None:
        if not alias:
            return
        if table.setdefault(alias, canonical) != canonical:
            raise ValueError(f"accelerator spelling {alias!r} names both {table[alias]!r} and {canonical!r}")

    for name in accelerator_names():
        add(name, name)
    for m in gcp_machine_types().values():
        add(m.accelerator_type, m.accelerator)
    for a in n1_accelerators().values():
        add(a.name, a.accelerator)
    for g in tpu_generations().values():
        for alias in (g.type_prefix, g.api_type, g.gke_accelerator, f"{TPU_CHIP_PREFIX}{g.name}"):
            add(alias, g.name)
    return table


def canonical_accelerator(name: str) -> str | None:
    """The canonical name of any cloud's spelling of an accelerator (`nvidia-h100-80gb` -> `h100`,
    `tpu-v5-lite-podslice` -> `v5e`); None for a name the catalog does not know."""
    return accelerator_aliases().get(name)


def machine_accelerators(machine_type: str) -> tuple[int, str]:
    """(accelerators per machine, canonical name) of an EC2 instance type (GPU, or Trainium/Inferentia Neuron
    devices), a Compute Engine machine type that bundles GPUs, or a GKE TPU node machine type; (0, "") for any
    other."""
    aws = aws_instance_type(machine_type)
    if aws is not None:
        return aws.gpu_count, aws.accelerator
    neuron = aws_neuron_type(machine_type)
    if neuron is not None:
        return neuron.neuron_devices, neuron.accelerator
    gcp = gcp_machine_type(machine_type)
    if gcp is not None:
        return gcp.gpu_count, gcp.accelerator
    tpu = gke_tpu_machine(machine_type)
    if tpu is not None:
        generation, chips = tpu
        return chips, generation.name
    return 0, ""


@cache
def _accelerated_ec2_families() -> frozenset[str]:
    gpu = {t.family for t in aws_instance_types().values()}
    return frozenset(gpu | {t.family for t in aws_neuron_types().values()})


def accelerated_ec2_family(machine_type: str) -> str:
    """The family (`p5`) when an EC2 type belongs to a GPU or Neuron family of the catalog, even a size whose
    hardware facts it does not hold (p5.4xlarge is priced but not a spec GPU type); "" otherwise."""
    family = machine_type.split(".", 1)[0]
    return family if "." in machine_type and family in _accelerated_ec2_families() else ""
