"""Google Cloud API constraints the program relies on (Compute Engine MIGs, GKE, Cloud TPU, Service Usage).

Each function is one rule: pure, over plain values, returning the problem as text (None when
Google accepts the value), or the value Google requires. See `__init__.py`.
"""

from __future__ import annotations

from aiinfra.catalog.gpu_fabric import gpu_fabric


def regional_mig_target_shape(autoscaled: bool) -> str:
    """A regional MIG with an autoscaler takes target distribution shape EVEN or BALANCED, never ANY.

    "If you want to autoscale a regional MIG, you must set the target distribution shape to
    BALANCED or EVEN" (Limitations). Without an autoscaler ANY lets a scarce GPU type land in
    whichever zone has capacity; with one the group uses EVEN (generally available).
    Source: https://cloud.google.com/compute/docs/instance-groups/regional-mig-set-target-distribution-shape
    As of: 2026-11-30
    Checked: plan (GCP GPU groups)
    """
    return "EVEN" if autoscaled else "ANY"


def regional_mig_autoscaled_shape(shape: str, autoscaled: bool) -> str | None:
    """An autoscaled regional MIG whose target shape is ANY is refused (see `regional_mig_target_shape`).

    Source: https://cloud.google.com/compute/docs/instance-groups/regional-mig-set-target-distribution-shape
    As of: 2026-11-30
    Checked: plan (GCP GPU groups)
    """
    if autoscaled and shape not in ("EVEN", "BALANCED"):
        return f"a regional MIG with an autoscaler needs target shape EVEN or BALANCED, not {shape}"
    return None


def gpu_vm_secure_boot(driver_built_on_the_vm: bool) -> bool:
    """A GPU VM whose NVIDIA driver is installed on the VM at boot runs with Secure Boot off (vTPM stays on).

    Integrity monitoring stays on too. With Secure Boot the kernel loads only modules signed by a key in the VM's
    UEFI db. A driver installed on the VM (the Deep Learning VM's `install-nvidia-driver: True` first-boot install,
    Google's cuda_installer) is unsigned unless a Machine Owner Key is supplied and enrolled: "If you want the
    installed driver to be signed (needed for Secure Boot compatibility), use the `--secure-boot-pub-key` and
    `--secure-boot-priv-key`"; for images, "If you intend to use the resulting image on VMs with Secure Boot
    enabled, the NVIDIA kernel modules need to be signed during the image build process" (Google's GPU installation
    README). Unsigned, the driver does not load and the VM's GPUs are unusable
    (GoogleCloudDataproc/initialization-actions#933, hail-is/hail PR 15071 turning Secure Boot off on GCP GPU VMs
    because "nvidia drivers which we need to load are not digitally signed"). A custom image whose modules are
    signed with an enrolled key can keep it on. GKE GPU nodes are another case: Container-Optimized OS loads
    Google-signed drivers, so GKE pools keep Secure Boot.
    Source: https://github.com/GoogleCloudPlatform/compute-gpu-installation/blob/main/linux/README.md
    As of: 2026-11-30
    Checked: plan (GCP GPU groups' instance templates)
    """
    return not driver_built_on_the_vm


def cpu_autoscaler_min_replicas(min_replicas: int) -> str | None:
    """A CPU-utilization autoscaler needs a VM to measure: at minSize 0 an empty group never scales out again.

    The policy scales out "until the average CPU of your instances reaches the target
    utilization"; an empty group has no instances to average (scale-from-zero needs a schedule
    or a per-group metric, which the program does not configure).
    Source: https://cloud.google.com/compute/docs/reference/rest/v1/autoscalers
    As of: 2026-11-30
    Checked: config (gpuGroups[].autoscaling.minSize)
    """
    if min_replicas < 1:
        return ("is 0: a CPU-utilization autoscaler has no CPU signal from an empty group and never scales out "
                "again; use minSize >= 1, or drop autoscaling and set targetSize (0 keeps the group empty)")
    return None


def gpu_nic_layout(machine_type: str, nic_types: list[str], gpu_network_mtus: list[int]) -> str | None:
    """A GPU machine with GPU NICs gets its bandwidth only with one gVNIC per GPU NIC, each in its own VPC.

    "a3-highgpu-8g VMs have five physical NICs": one host NIC and four GPU NICs, each in its own
    VPC network with MTU 8244, all gVNIC, for GPUDirect-TCPX; a3-megagpu-8g has nine, one host NIC
    and eight GPU NICs on eight MTU-8244 VPC networks, for GPUDirect-TCPXO (the NIC count per machine
    type is the catalog fact `aiinfra.catalog.gpu_fabric`, with its sources). With the host NIC only,
    NCCL runs over TCP on it.
    Source: https://cloud.google.com/compute/docs/gpus/gpudirect
    As of: 2026-11-30
    Checked: plan (GCP GPU groups on the ultra tier)
    """
    fabric = gpu_fabric(machine_type)
    if fabric is None:
        return None
    if len(nic_types) != 1 + fabric.gpu_nics:
        return (f"{machine_type} needs {1 + fabric.gpu_nics} network interfaces (1 host + {fabric.gpu_nics} GPU NICs "
                f"for {fabric.technology}), not {len(nic_types)}")
    if any(t != fabric.nic_type for t in nic_types):
        return f"{machine_type}: every network interface must be {fabric.nic_type} for {fabric.technology}"
    if len(gpu_network_mtus) != fabric.gpu_nics or any(m != fabric.mtu for m in gpu_network_mtus):
        return f"{machine_type}: each GPU NIC needs its own VPC network with MTU {fabric.mtu}, got {gpu_network_mtus}"
    return None


def queued_tpu_service_account(project_number: str) -> str:
    """Queued TPU nodes created without a service account run as the project's Compute Engine default account.

    The queued resource's node spec (pulumi-gcp `V2QueuedResourceTpuNodeSpecNode`) has no service
    account field, and "If you don't specify a service account, ... the default Compute Engine
    service account" is used; it is `PROJECT_NUMBER-compute@developer.gserviceaccount.com`.
    Source: https://cloud.google.com/compute/docs/access/service-accounts#default_service_account
    As of: 2026-11-30
    Checked: plan (queued TPU pods get bucket access for this account)
    """
    return f"serviceAccount:{project_number}-compute@developer.gserviceaccount.com"


def gke_node_service_account_roles() -> tuple[str, ...]:
    """A custom GKE node service account needs `roles/container.defaultNodeServiceAccount`.

    Source: https://cloud.google.com/kubernetes-engine/docs/how-to/service-accounts#default-gke-service-agent
    As of: 2026-11-30
    Checked: plan (GKE node account roles; plus `roles/artifactregistry.reader` to pull images)
    """
    return ("roles/container.defaultNodeServiceAccount",)


def required_services(gke: bool, tpu: bool, filestore: bool, registry: bool) -> tuple[str, ...]:
    """Every API a stack calls is enabled first, or the first create fails ("API has not been used in project").

    Compute and IAM always (networks, VMs, service accounts), Cloud Storage (the bucket),
    Service Networking (Filestore's private service access), Cloud Resource Manager (project
    IAM bindings); Container (GKE), TPU, Filestore (`file`) and Artifact Registry only when the
    stack has them. The stack enables them with `gcp.projects.Service(disable_on_destroy=False)`.
    Source: https://cloud.google.com/service-usage/docs/enable-disable
    As of: 2026-11-30
    Checked: plan (the GCP platform)
    """
    apis = ["compute.googleapis.com", "iam.googleapis.com", "storage.googleapis.com",
            "cloudresourcemanager.googleapis.com"]
    if filestore:
        apis += ["file.googleapis.com", "servicenetworking.googleapis.com"]
    if gke:
        apis.append("container.googleapis.com")
    if tpu:
        apis.append("tpu.googleapis.com")
    if registry:
        apis.append("artifactregistry.googleapis.com")
    return tuple(apis)
