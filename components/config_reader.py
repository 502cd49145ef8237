"""A reader over raw config values that collects problems instead of raising at the first.

Every accessor takes the object, the key and the key path used in messages, records a
problem in the shared list when the value is missing or wrong, and returns a usable
default so parsing continues and the user sees every problem in one run.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any, TypeVar

from aiinfra.catalog import closest

E = TypeVar("E", bound=Enum)


def show(value: Any) -> str:
    """A value as it appears in messages: strings quoted, the rest as written in YAML."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def hint(value: str, allowed: Iterable[str]) -> str:
    """'; did you mean X?' when a close allowed value exists, else ''."""
    best = closest(value, list(allowed))
    return f"; did you mean {best[0]!r}?" if best else ""


class Reader:
    """Typed accessors that append to `problems` and never raise."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    # -- shapes -------------------------------------------------------------------------

    def mapping(self, value: Any, path: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.add(path, f"expected a mapping of keys, got {show(value)}")
            return {}
        return value

    def sequence(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, f"expected a list, got {show(value)}")
            return []
        return value

    def known_keys(self, obj: Mapping[str, Any], allowed: Iterable[str], path: str) -> None:
        """Flag keys the schema does not know (a typo otherwise silently becomes a default)."""
        allowed = list(allowed)
        for key in obj:
            if key not in allowed:
                where = f"{path}.{key}" if path else key
                suggestion = hint(key, allowed)
                detail = suggestion or f"; allowed keys: {', '.join(sorted(allowed))}"
                self.add(where, f"unknown key{detail}")

    # -- scalars ------------------------------------------------------------------------

    def string(
        self, obj: Mapping[str, Any], key: str, path: str, default: str | None = None, required: bool = False
    ) -> str:
        where = f"{path}.{key}" if path else key
        value = obj.get(key)
        if value is None:
            if required:
                self.add(where, "is required")
            return default or ""
        if not isinstance(value, str) or not value.strip():
            self.add(where, f"expected a non-empty string, got {show(value)}")
            return default or ""
        return value

    def integer(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        default: int,
        lo: int | None = None,
        hi: int | None = None,
        unit: str = "",
    ) -> int:
        where = f"{path}.{key}" if path else key
        value = obj.get(key, default)
        # YAML gives ints; the CLI's --set gives strings of digits. Booleans are not counts.
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(where, f"expected an integer{_unit(unit)}, got {show(value)}")
            return default
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            self.add(where, f"{value} is out of range; allowed {_range(lo, hi)}{_unit(unit)}")
            return default
        return value

    def number(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        default: float,
        lo: float | None = None,
        hi: float | None = None,
        unit: str = "",
    ) -> float:
        where = f"{path}.{key}" if path else key
        value = obj.get(key, default)
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.add(where, f"expected a number{_unit(unit)}, got {show(value)}")
            return default
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            self.add(where, f"{show(value)} is out of range; allowed {_range(lo, hi)}{_unit(unit)}")
            return default
        return float(value)

    def boolean(self, obj: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        where = f"{path}.{key}" if path else key
        value = obj.get(key, default)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            self.add(where, f"expected true or false, got {show(value)}")
            return default
        return value

    def choice(self, obj: Mapping[str, Any], key: str, path: str, enum: type[E], default: E | None = None) -> E:
        where = f"{path}.{key}" if path else key
        allowed = [m.value for m in enum]  # type: ignore[attr-defined]
        value = obj.get(key)
        if value is None:
            if default is None:
                self.add(where, f"is required; expected one of {', '.join(allowed)}")
                return next(iter(enum))
            return default
        if value not in allowed:
            self.add(where, f"{show(value)} is not allowed; expected one of "
                            f"{', '.join(allowed)}{hint(str(value), allowed)}")
            return default if default is not None else next(iter(enum))
        return enum(value)

    def cidr(self, value: Any, where: str) -> ipaddress.IPv4Network | None:
        if not isinstance(value, str):
            self.add(where, f"expected an IPv4 CIDR block such as '10.0.0.0/16', got {show(value)}")
            return None
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            detail = "has host bits set" if "host bits" in str(exc) else "is not an IPv4 CIDR block"
            self.add(where, f"{show(value)} {detail}; expected a network such as '10.0.0.0/16'")
            return None
        return net


def _range(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{show(lo)}..{show(hi)}"
    if lo is not None:
        return f">= {show(lo)}"
    return f"<= {show(hi)}"


def _unit(unit: str) -> str:
    return f" ({unit})" if unit else ""
