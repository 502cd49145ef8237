"""Vocabulary and rules every config section shares: cloud, environment, zones, GCP labels."""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from components.config_reader import Reader


class Cloud(StrEnum):
    AWS = "aws"
    GCP = "gcp"


class Environment(StrEnum):
    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


class Purchase(StrEnum):
    """How a GPU group or pool buys capacity."""

    ON_DEMAND = "on-demand"
    SPOT = "spot"
    MIXED = "mixed"


_GCP_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_GCP_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


def parse_zone(r: Reader, obj: Mapping[str, Any], path: str, region: str, required: bool) -> str:
    """`zone`: a zone of the stack's GCP region (`<region>-<letter>`)."""
    zone = r.string(obj, "zone", path, required=required)
    if zone and region and not (zone.startswith(f"{region}-") and len(zone) == len(region) + 2):
        r.add(f"{path}.zone", f"{zone!r} is not a zone of gcp:region {region!r}; expected e.g. '{region}-a'", zone)
        return ""
    return zone


def gcp_label_suggestion(value: str) -> str:
    """A value GCP accepts as a label, closest to the one given."""
    return re.sub(r"[^a-z0-9_-]", "-", value.lower())[:63]


def check_gcp_label(r: Reader, where: str, key: str, value: str) -> bool:
    """GCP labels are stricter than AWS tags; the same cost tags must survive as labels."""
    if not _GCP_LABEL_KEY.match(key):
        r.add(where, f"{key!r} is not a valid GCP label key: 1-63 lowercase letters, digits, '_' and '-', "
                     f"starting with a letter; did you mean {gcp_label_suggestion(key)!r}?", key)
        return False
    if not _GCP_LABEL_VALUE.match(value):
        r.add(where, f"{value!r} is not a valid GCP label value: up to 63 lowercase letters, digits, '_' and '-'; "
                     f"did you mean {gcp_label_suggestion(value)!r}?", value)
        return False
    return True
