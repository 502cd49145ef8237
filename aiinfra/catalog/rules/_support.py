"""Data the rules read: the managed Kubernetes version calendars (and the EKS AMI lines) in
`components/kubernetes/data/versions.json`."""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from importlib import resources
from typing import Any


@cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        resources.files("components.kubernetes").joinpath("data", "versions.json").read_text(encoding="utf-8"))
    return data


def eks_versions() -> dict[str, dict[str, date]]:
    """EKS minor versions with their release, end of standard and end of extended support dates."""
    return {v: {k: date.fromisoformat(d) for k, d in row.items()}
            for v, row in _data()["eks"]["calendar"].items()}


def eks_supported_versions() -> tuple[str, ...]:
    """The Kubernetes minor versions EKS supports (`eks.versions`)."""
    return tuple(_data()["eks"]["versions"])
