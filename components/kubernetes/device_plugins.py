"""Device plugin DaemonSets that make accelerators schedulable on EKS: NVIDIA GPUs and EFA interfaces.

GKE installs its own (GPU driver and device plugin are managed); EKS's accelerated AMI ships
the driver but not the plugin. Both plugins register a socket in the kubelet's device-plugin
directory on the host, so they need a hostPath mount and run as root: the checks that flag
exactly that are suppressed per object with a reason (`checkov.io/skip*` annotations), never
project-wide.
"""

from __future__ import annotations

from aiinfra.contract import ACCELERATOR_LABEL, GPU_TAINT_KEY
from components.kubernetes.config import addon_image
from components.kubernetes.manifests import PART_OF, Manifest

EFA_LABEL = "ai-infra/efa"
_KUBELET_PLUGINS = "/var/lib/kubelet/device-plugins"

# Reasons are the checkov annotation values; each names why the plugin needs the exception.
_SKIPS = {
    "checkov.io/skip1": "CKV_K8S_23=the plugin writes its socket into the host's kubelet directory as root",
    "checkov.io/skip2": "CKV_K8S_40=runs as root (UID 0) to own its socket in the kubelet directory",
    "checkov.io/skip3": "CKV_K8S_8=device plugins have no HTTP or exec health endpoint; kubelet re-registers them",
    "checkov.io/skip4": "CKV_K8S_9=device plugins have no readiness endpoint",
}


def _daemonset(name: str, image: str, match_label: str, toleration_key: str | None,
               extra_volumes: list[tuple[str, str]]) -> Manifest:
    labels = {**PART_OF, "app.kubernetes.io/name": name}
    tolerations = [{"key": toleration_key, "operator": "Exists", "effect": "NoSchedule"}] if toleration_key else []
    volumes = [("device-plugin", _KUBELET_PLUGINS), *extra_volumes]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "kube-system", "labels": labels, "annotations": dict(_SKIPS)},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "priorityClassName": "system-node-critical",
                    "automountServiceAccountToken": False,
                    # Only nodes that carry the hardware (labels set by the cluster on accelerator pools).
                    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [
                            {"key": match_label, "operator": "Exists"}]}]}}},
                    "tolerations": tolerations,
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": name,
                        "image": image,
                        "imagePullPolicy": "IfNotPresent",
                        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                                      "limits": {"cpu": "100m", "memory": "128Mi"}},
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "volumeMounts": [{"name": v, "mountPath": p} for v, p in volumes],
                    }],
                    "volumes": [{"name": v, "hostPath": {"path": p}} for v, p in volumes],
                },
            },
        },
    }


def deny_ingress(name: str) -> Manifest:
    """Device plugins talk to the kubelet over a host socket only: no network ingress at all."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"{name}-deny-ingress", "namespace": "kube-system", "labels": dict(PART_OF)},
        "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": name}}, "policyTypes": ["Ingress"]},
    }


def nvidia_device_plugin() -> Manifest:
    """Advertises `nvidia.com/gpu` on every node of a GPU pool."""
    ds = _daemonset("nvidia-device-plugin", addon_image("nvidia-device-plugin"), ACCELERATOR_LABEL,
                    GPU_TAINT_KEY, [])
    container = ds["spec"]["template"]["spec"]["containers"][0]
    # A node whose driver is not up yet keeps the plugin retrying instead of crash-looping.
    container["env"] = [{"name": "FAIL_ON_INIT_ERROR", "value": "false"}]
    return ds


def efa_device_plugin(region: str) -> Manifest:
    """Advertises `vpc.amazonaws.com/efa` on nodes launched with EFA interfaces (`ultra` tier).

    Pod spec as in the eks-charts chart (`stable/aws-efa-k8s-device-plugin`, v0.5.30): host
    network, so the plugin sees the node's EFA interfaces (versions.json has source and date)."""
    ds = _daemonset("aws-efa-k8s-device-plugin", addon_image("efa-device-plugin", region), EFA_LABEL,
                    GPU_TAINT_KEY, [("infiniband", "/dev/infiniband")])
    ds["spec"]["template"]["spec"]["hostNetwork"] = True
    ds["metadata"]["annotations"]["checkov.io/skip5"] = (
        "CKV_K8S_19=the EFA plugin enumerates the node's EFA interfaces, which only the host network shows")
    return ds
