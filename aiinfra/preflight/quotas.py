"""Which EC2 vCPU quota an instance type draws on, read from `data/ec2_vcpu_quotas.json` (source and date inside)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

SERVICE_CODE = "ec2"
_FAMILY = re.compile(r"^([a-z]+)\d")


@dataclass(frozen=True)
class Quota:
    """One Service Quotas vCPU quota."""

    code: str
    """Quota code, e.g. `L-417A185B`."""
    name: str
    """The quota's name in the Service Quotas console."""
    instance_class: str
    """The class of instance types it covers (`P`, `G and VT`, ...)."""
    spot: bool


@dataclass(frozen=True)
class QuotaTable:
    source: str
    as_of: str
    quotas: dict[tuple[str, bool], Quota]
    """(class prefix, spot) -> quota."""

    def for_instance_type(self, instance_type: str, spot: bool) -> Quota:
        """The quota `instance_type` counts against when bought on-demand (spot=False) or as spot."""
        m = _FAMILY.match(instance_type)
        if m is None:
            raise ValueError(f"{instance_type!r} is not an EC2 instance type name such as 'p5.48xlarge'")
        letters = m.group(1)
        # Longest prefix wins: 'trn' before 't', 'inf' before 'i', 'vt' before nothing else.
        for length in range(len(letters), 0, -1):
            quota = self.quotas.get((letters[:length], spot))
            if quota is not None:
                return quota
        raise ValueError(f"{instance_type!r}: no vCPU quota class known for family prefix {letters!r}")


@cache
def quota_table() -> QuotaTable:
    text = resources.files(__package__).joinpath("data", "ec2_vcpu_quotas.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    quotas: dict[tuple[str, bool], Quota] = {}
    for row in doc["classes"]:
        for spot, key in ((False, "on_demand"), (True, "spot")):
            q = Quota(code=row[key]["code"], name=row[key]["quota_name"], instance_class=row["name"], spot=spot)
            for prefix in row["prefixes"]:
                quotas[(prefix, spot)] = q
    return QuotaTable(source=doc["source"], as_of=doc["as_of"], quotas=quotas)
