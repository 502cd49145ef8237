"""Trainium and Inferentia (AWS Neuron) types: priced, recognised as accelerated, refused where the stack would
provision them on NVIDIA machinery (GPU groups, EKS GPU pools) or bill them as CPU nodes (the EKS system pool)."""

from __future__ import annotations

import pytest

from aiinfra.catalog import aws_instance_type, aws_neuron_type, aws_neuron_types
from aiinfra.catalog.canonical import machine_accelerators
from aiinfra.catalog.prices import NoPublicPriceError, hourly_price
from tests.components.kubernetes.test_config import problems, with_k8s, with_pool
from tests.components.test_spec import with_group

REASON = ("is an AWS Trainium (Neuron) type: it is priced (aiinfra price trn1.32xlarge) but not provisioned here, "
          "because GPU groups and pools install NVIDIA AMIs and the NVIDIA device plugin and Neuron needs the Neuron "
          "AMI and device plugin; use an NVIDIA GPU type (g5, g6, g6e, p4d, p4de, p5, p5e, p5en, p6-b200)")


def test_neuron_types_carry_their_facts_and_a_price() -> None:
    trn = aws_neuron_type("trn1.32xlarge")
    assert trn is not None and (trn.neuron_devices, trn.accelerator, trn.vcpu, trn.memory_gib) == (16, "trainium",
                                                                                                   128, 512)
    assert trn.source.startswith("https://github.com/aws/karpenter-provider-aws/") and trn.as_of
    assert aws_instance_type("trn1.32xlarge") is None  # never offered to the GPU paths
    for name in set(aws_neuron_types()) - {"trn2.48xlarge"}:
        assert hourly_price(name, "us-east-1").hourly_usd > 0
    with pytest.raises(NoPublicPriceError, match="Capacity Blocks"):  # trn2: us-east-2, Capacity Blocks only
        hourly_price("trn2.48xlarge", "us-east-2")


def test_gpu_group_refuses_a_neuron_type_naming_the_key_and_what_is_allowed() -> None:
    from components.errors import ConfigError
    from components.spec import parse_spec

    with pytest.raises(ConfigError) as err:
        parse_spec(with_group(instanceType="trn1.32xlarge"), "ai-infra", "test")
    assert err.value.problems == [f"gpuGroups[0].instanceType: 'trn1.32xlarge' {REASON}"]


def test_gpu_group_refuses_a_neuron_type_as_an_alternative() -> None:
    from components.errors import ConfigError
    from components.spec import parse_spec

    with pytest.raises(ConfigError) as err:
        parse_spec(with_group(extraInstanceTypes=["inf2.xlarge"]), "ai-infra", "test")
    assert err.value.problems[0].startswith("gpuGroups[0].extraInstanceTypes[0]: 'inf2.xlarge' is an AWS Inferentia2 "
                                            "(Neuron) type")


def test_eks_gpu_pool_refuses_a_neuron_type() -> None:
    assert problems(with_pool(instanceType="trn1.32xlarge")) == [
        f"kubernetes.gpuPools[0].instanceType: 'trn1.32xlarge' {REASON}"]


@pytest.mark.parametrize(("itype", "count", "acc"), [("trn1.32xlarge", 16, "trainium"), ("inf2.xlarge", 1,
                                                                                            "inferentia2")])
def test_system_pool_refuses_a_neuron_type_as_a_cpu_node(itype: str, count: int, acc: str) -> None:
    assert machine_accelerators(itype) == (count, acc)
    assert problems(with_k8s(systemPool={"instanceType": itype})) == [
        f"kubernetes.systemPool.instanceType: '{itype}' has {count} x {acc}; the system pool runs cluster services "
        "on CPU machine types such as 'm7i.xlarge' (accelerators go in a GPU or TPU pool)"]


def test_system_pool_refuses_a_priced_gpu_size_the_spec_has_no_facts_for() -> None:
    """p5.4xlarge (1 x H100) is priced for `aiinfra price` but is not a spec GPU type: its family still marks it
    as accelerated, so it is not billed around the clock as a cluster-services node."""
    assert machine_accelerators("p5.4xlarge") == (0, "")
    assert problems(with_k8s(systemPool={"instanceType": "p5.4xlarge"})) == [
        "kubernetes.systemPool.instanceType: 'p5.4xlarge' is in the accelerated EC2 family 'p5'; the system pool "
        "runs cluster services on CPU machine types such as 'm7i.xlarge' (accelerators go in a GPU pool)"]
