"""Regenerate the vendored CRD JSON schemas from the controllers' CRD manifests at pinned tags.

    python -m components.workloads.schemas.vendor <checkout-of-kueue> <checkout-of-jobset> <checkout-of-keda>

Each argument is a git directory of the upstream repository (a clone or a bare mirror); the
CRD file is read at the pinned tag with `git show`, so the result does not depend on the
checkout's branch. The OpenAPI v3 schema of the served version is written as a strict JSON
schema (`additionalProperties: false` wherever the CRD lists properties and does not preserve
unknown fields; `x-kubernetes-int-or-string` as integer-or-string), the same strictness
kubernetes-validate --strict applies to built-in kinds. `SOURCES.json` records repository,
tag, commit and path of each file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent

# (repository, tag, CRD path, version) per kind; the tags are the controller versions installed
# by components/workloads/controllers.py (kept equal by tests/components/workloads/test_crd_schemas.py).
CRDS: dict[str, tuple[str, str, str, str]] = {
    "kueue.x-k8s.io/ClusterQueue": ("kubernetes-sigs/kueue", "v0.19.2",
                                    "config/components/crd/bases/kueue.x-k8s.io_clusterqueues.yaml", "v1beta2"),
    "kueue.x-k8s.io/LocalQueue": ("kubernetes-sigs/kueue", "v0.19.2",
                                  "config/components/crd/bases/kueue.x-k8s.io_localqueues.yaml", "v1beta2"),
    "kueue.x-k8s.io/ResourceFlavor": ("kubernetes-sigs/kueue", "v0.19.2",
                                      "config/components/crd/bases/kueue.x-k8s.io_resourceflavors.yaml", "v1beta2"),
    "jobset.x-k8s.io/JobSet": ("kubernetes-sigs/jobset", "v0.12.0",
                               "config/components/crd/bases/jobset.x-k8s.io_jobsets.yaml", "v1alpha2"),
    "keda.sh/ScaledObject": ("kedacore/keda", "v2.20.2", "config/crd/bases/keda.sh_scaledobjects.yaml", "v1alpha1"),
}


def strict(node: Any) -> Any:
    """The CRD's OpenAPI v3 schema as a strict JSON schema."""
    if isinstance(node, list):
        return [strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if ("properties" in node and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    if node.get("type") == "object" and "properties" not in node and "additionalProperties" not in node:
        out.pop("additionalProperties", None)
    return out


def schema_file(kind_key: str) -> Path:
    group, kind = kind_key.split("/")
    version = CRDS[kind_key][3]
    return HERE / group / f"{kind.lower()}_{version}.json"


def main(argv: list[str]) -> None:
    repos = dict(zip(("kubernetes-sigs/kueue", "kubernetes-sigs/jobset", "kedacore/keda"), argv, strict=True))
    sources = {}
    for key, (repo, tag, path, version) in CRDS.items():
        git = ["git", "-C", repos[repo]]
        text = subprocess.run([*git, "show", f"{tag}:{path}"], check=True, capture_output=True, text=True).stdout
        commit = subprocess.run([*git, "rev-parse", f"{tag}^{{commit}}"], check=True, capture_output=True,
                                text=True).stdout.strip()
        crd = yaml.safe_load(text)
        served = next(v for v in crd["spec"]["versions"] if v["name"] == version)
        schema = strict(served["schema"]["openAPIV3Schema"])
        # metadata is the API server's ObjectMeta: checked by the server, not by the CRD schema.
        schema["properties"]["metadata"] = {"type": "object"}
        schema["properties"]["apiVersion"] = {"const": f"{key.split('/')[0]}/{version}"}
        schema["properties"]["kind"] = {"const": key.split("/")[1]}
        out = schema_file(key)
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
        sources[str(out.relative_to(HERE))] = {
            "repository": f"https://github.com/{repo}", "tag": tag, "commit": commit, "path": path,
            "version": version}
    (HERE / "SOURCES.json").write_text(json.dumps(sources, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
