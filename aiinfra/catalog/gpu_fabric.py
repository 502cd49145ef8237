"""GPU-to-GPU network fabric per GCP machine type: how many GPU NICs it has and the networks they need.

A3 High (`a3-highgpu-8g`, 8 x H100) reaches its 1,000 Gbps only with GPUDirect-TCPX: "a3-highgpu-8g
VMs have five physical NICs": one host NIC plus four GPU NICs, each NIC (gVNIC) in its own VPC
network, the networks created with MTU 8244 (Compute Engine, "Maximize GPU network performance with
GPUDirect-TCPX"). With one NIC, NCCL falls back to TCP over the host NIC (about 200 Gbps per VM; review
row 11, docs/cloud-fidelity.md). A3 Edge (`a3-edgegpu-8g`) has the same layout at 800 Gbps.

GPUDirect-TCPX also needs, inside the VM, the receive-datapath manager (the `tcpgpudmarxd`
container Google publishes) and the NCCL TCPX plugin (`nccl-plugin-gpudirecttcpx`) in the
training container: a workload concern, documented in README ("GPU fabric on GCP"); the
infrastructure here provides the NICs and networks.

A3 Mega (`a3-megagpu-8g`, 8 x H100 Mega) reaches its 1,800 Gbps (the catalog's `network_gbps`, Google's
"Networking and GPU machines" table: 1,800 Gbps, GPUDirect-TCPXO; its list gives "up to 1,600 Gbps", the
eight GPU NICs alone) with GPUDirect-TCPXO over nine NICs: one host NIC plus eight GPU NICs, each gVNIC
in its own VPC network with MTU 8244. Google's Cluster Toolkit blueprint for it
(GoogleCloudPlatform/cluster-toolkit examples/gke-a3-megagpu/gke-a3-megagpu.yaml @1047080, read
2026-11-30) creates the eight GPU networks with `network_count: 8`, `mtu: 8244`, one subnet each, and its
NCCL settings name the eight GPU interfaces (`NCCL_FASTRAK_IFNAME`, eight devices) apart from the host
one (`NCCL_FASTRAK_CTRL_DEV`; examples/machine-learning/a3-megagpu-8g/nccl-tests/run-nccl-tests.sh).
With the host NIC only, NCCL runs over TCP on it, as on A3 High.

GPUDirect-TCPXO's workload side is its own receive-datapath manager (`tcpgpudmarxd-dev` from
`us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/`) and NCCL plugin (`nccl-plugin-gpudirecttcpx-dev`, the
"FasTrak" transport configured through `NCCL_FASTRAK_*`), plus the `dmabuf-import-helper` kernel module
and the `/dev/aperture_devices` mounts on the host: also documented in README ("GPU fabric on GCP").
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = "https://cloud.google.com/compute/docs/gpus/gpudirect"
AS_OF = "2026-11-30"


@dataclass(frozen=True)
class GpuFabric:
    technology: str
    """The GPU-to-GPU transport (`GPUDirect-TCPX`, `GPUDirect-TCPXO`)."""
    gpu_nics: int
    """NICs besides the host NIC, each in its own VPC network."""
    mtu: int
    """MTU of the GPU NICs' VPC networks."""
    nic_type: str = "GVNIC"
    source: str = SOURCE
    as_of: str = AS_OF


FABRICS: dict[str, GpuFabric] = {
    "a3-highgpu-8g": GpuFabric("GPUDirect-TCPX", gpu_nics=4, mtu=8244),
    "a3-edgegpu-8g": GpuFabric("GPUDirect-TCPX", gpu_nics=4, mtu=8244),
    "a3-megagpu-8g": GpuFabric(
        "GPUDirect-TCPXO", gpu_nics=8, mtu=8244,
        source="https://cloud.google.com/compute/docs/gpus/gpu-network-bandwidth; GoogleCloudPlatform/cluster-toolkit "
               "@1047080 examples/gke-a3-megagpu/gke-a3-megagpu.yaml (multivpc network_count 8, mtu 8244)"),
}


def gpu_fabric(machine_type: str) -> GpuFabric | None:
    """The fabric a machine type needs for its GPU bandwidth; None for types without GPU NICs."""
    return FABRICS.get(machine_type)
