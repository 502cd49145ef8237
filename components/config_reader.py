"""Reading raw stack config: keys declared once on the models, a reader that collects every problem.

**Declarations.** Each config model (a frozen dataclass beside its component, e.g.
`components/compute/config.py`) declares every key once, on its field:

    root_volume_gib: int = setting("rootVolumeGib", 200, lo=75, hi=16384, unit="GiB",
                                   doc="encrypted gp3 root volume")

`setting()` is a `dataclasses.field` whose metadata holds the YAML key, the range, the unit
and the meaning. From it come the known-key sets (`keys(Model)`), the typed read with the
model's own default (`get(r, Model, "root_volume_gib", obj, path)`), the README config
tables and the `Pulumi.yaml` descriptions (`components/schema_docs.py`). The model's default
is the default the program applies. A value that depends on other values is declared with
`derived="..."` (saying what it is derived from), is `None` in a model built without it,
and is resolved in one place: the model's `__post_init__` when the model alone decides it,
else the one `resolve_*` function its module names.

**Why dataclass metadata and not pydantic v2.** A pydantic model (`frozen`, `extra="forbid"`,
aliases) would give the same single declaration, but (a) it adds a runtime dependency to
the Pulumi program's virtualenv and a second validation engine beside the catalog-backed
checks that make our messages good (did-you-mean from the catalog, hints about keys of the
other cloud, cross-field rules), and (b) the ~130 exact messages pinned by the tests would
have to be re-rendered from pydantic's error `loc`/`type` codes, and every cross-field rule
would move into validators that run only after field validation succeeds, so one run would
no longer report every problem. The metadata route keeps `Reader` (every problem at once,
exact wording) and costs one small module; switching later stays mechanical because every
key, default and range is already data.

**Reader.** Every accessor takes the object, the key and the key path used in messages,
records a `Problem` (path, message, value, allowed) when the value is missing or wrong, and
returns a usable default so parsing continues and the user sees every problem in one run.
A key written with a null value is a problem, never a silent default.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from functools import cache
from typing import Any, TypeVar

from aiinfra.catalog import closest
from aiinfra.problems import UNSET, Problem

E = TypeVar("E", bound=Enum)
N = TypeVar("N")

REQUIRED: Any = dataclasses.MISSING
"""`setting(key, REQUIRED, ...)`: the key has no default; the model field has none either."""


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


# --------------------------------------------------------------------------------------
# Declarations
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Setting:
    """One config key, as declared on a model field."""

    key: str
    """The key as written in the stack file (camelCase)."""
    name: str
    """The model field."""
    hint: Any
    """The field's type (resolved annotation)."""
    default: Any
    """The default the program applies (REQUIRED: none)."""
    doc: str
    lo: float | None = None
    hi: float | None = None
    unit: str = ""
    derived: str = ""
    """How the default is derived from other values ('' when the default is a constant)."""
    type_doc: str = ""
    """The type as the README shows it, when the annotation does not say enough."""
    default_doc: str = ""
    """The default as the README shows it, when it is not a plain value."""
    cloud: str = ""
    """`aws` or `gcp` when the key exists on one cloud only."""
    gcp: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """What differs on cloud `gcp` (`key`, `default`, `hi`), for a field both clouds have under other names."""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def on(self, cloud: str) -> Setting:
        """This setting as cloud `cloud` spells it."""
        return dataclasses.replace(self, **self.gcp, gcp={}) if cloud == "gcp" and self.gcp else self


def setting(key: str, default: Any = REQUIRED, *, doc: str, lo: float | None = None, hi: float | None = None,
            unit: str = "", derived: str = "", type_doc: str = "", default_doc: str = "", cloud: str = "",
            factory: Any = None, gcp: Mapping[str, Any] | None = None) -> Any:
    """A model field that is a config key. See the module docstring."""
    meta = {"setting": {"key": key, "doc": doc, "lo": lo, "hi": hi, "unit": unit, "derived": derived,
                        "type_doc": type_doc, "default_doc": default_doc, "cloud": cloud, "gcp": dict(gcp or {})}}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    if derived:
        return dataclasses.field(default=None, metadata=meta)
    if default is REQUIRED:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@cache
def settings(cls: type) -> dict[str, Setting]:
    """The model's declared keys by field name, in declaration order."""
    hints = typing.get_type_hints(cls)
    out: dict[str, Setting] = {}
    for f in dataclasses.fields(cls):
        meta = f.metadata.get("setting")
        if meta is None:
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = REQUIRED
        out[f.name] = Setting(name=f.name, hint=hints[f.name], default=default, **meta)
    return out


@cache
def keys(cls: type, cloud: str = "") -> tuple[str, ...]:
    """Every key the model declares (what `known_keys` allows), as cloud `cloud` spells them."""
    return tuple(s.on(cloud).key for s in settings(cls).values())


def key_of(cls: type, name: str, cloud: str = "") -> str:
    return settings(cls)[name].on(cloud).key


def _scalar_kind(hint_: Any) -> Any:
    """The one non-None type of `X | None`, else the hint itself."""
    args = [a for a in typing.get_args(hint_) if a is not type(None)]
    if typing.get_origin(hint_) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return hint_


def get(r: Reader, cls: type, name: str, obj: Mapping[str, Any], path: str, default: Any = UNSET,
        required: bool | None = None, cloud: str = "") -> Any:
    """Read one declared key with its declared type, range, unit and default.

    `default` overrides the declared default (for a default derived from other values,
    resolved by the caller); `required` overrides whether the key must be present.
    """
    s = settings(cls)[name].on(cloud)
    d = s.default if default is UNSET else default
    need = s.required if required is None else required
    kind = _scalar_kind(s.hint)
    if kind is bool:
        return r.boolean(obj, s.key, path, bool(d) if d is not REQUIRED else False)
    if kind is int:
        return r.integer(obj, s.key, path, d if isinstance(d, int) else 0, _int(s.lo), _int(s.hi), s.unit)
    if kind is float:
        return r.number(obj, s.key, path, float(d) if isinstance(d, (int, float)) else 0.0, s.lo, s.hi, s.unit)
    if kind is str:
        return r.string(obj, s.key, path, d if isinstance(d, str) else None, required=need)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return r.choice(obj, s.key, path, kind, None if need or d is REQUIRED else d)
    raise TypeError(f"{cls.__name__}.{name}: get() reads scalars only; read {kind} by hand")


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


# --------------------------------------------------------------------------------------
# Reader
# --------------------------------------------------------------------------------------


class Reader:
    """Typed accessors that append to `problems` and never raise."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str, value: Any = UNSET, allowed: str | tuple[str, ...] = ()) -> None:
        self.problems.append(Problem(path, message, value, allowed))

    # -- shapes -------------------------------------------------------------------------

    def mapping(self, value: Any, path: str) -> Mapping[str, Any]:
        """A mapping (None, an absent block: empty). Keys must be strings."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.add(path, f"expected a mapping of keys, got {show(value)}", value)
            return {}
        bad = [k for k in value if not isinstance(k, str)]
        for k in bad:
            self.add(f"{path}.{k}" if path else str(k), f"{show(k)} is not a key name; keys are strings", k)
        return {k: v for k, v in value.items() if isinstance(k, str)} if bad else value

    def entry(self, value: Any, path: str) -> Mapping[str, Any] | None:
        """One entry of a list of objects: a mapping, or None (and a problem) for null and non-mappings."""
        if value is None:
            self.add(path, "is null; expected a mapping of keys (remove the entry, or fill it in)", None)
            return None
        if not isinstance(value, Mapping):
            self.mapping(value, path)
            return None
        return self.mapping(value, path)

    def sequence(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, f"expected a list, got {show(value)}", value)
            return []
        return value

    def named_list(self, raw: Any, path: str, parse: Callable[[Mapping[str, Any], str], N]) -> tuple[N, ...]:
        """A list of named objects at `path`: each entry read by `parse(obj, entry_path)`; null and
        non-mapping entries are problems (and skipped); a name used twice is a problem."""
        out: list[N] = []
        seen: dict[str, str] = {}
        for i, item in enumerate(self.sequence(raw, path)):
            where = f"{path}[{i}]"
            obj = self.entry(item, where)
            if obj is None:
                continue
            parsed = parse(obj, where)
            name = getattr(parsed, "name", "")
            if name:
                self.unique(seen, name, where, where)
            out.append(parsed)
        return tuple(out)

    def known_keys(self, obj: Mapping[str, Any], allowed: Iterable[str], path: str) -> None:
        """Flag keys the schema does not know (a typo otherwise silently becomes a default)."""
        allowed = list(allowed)
        for key in obj:
            if key not in allowed:
                where = f"{path}.{key}" if path else key
                suggestion = hint(key, allowed)
                detail = suggestion or f"; allowed keys: {', '.join(sorted(allowed))}"
                self.add(where, f"unknown key{detail}", allowed=tuple(sorted(allowed)))

    # -- scalars ------------------------------------------------------------------------

    def string(
        self, obj: Mapping[str, Any], key: str, path: str, default: str | None = None, required: bool = False
    ) -> str:
        where = f"{path}.{key}" if path else key
        if key not in obj:
            if required:
                self.add(where, "is required")
            return default or ""
        value = obj[key]
        if value is None and required:
            self.add(where, "is required", None)
            return default or ""
        if not isinstance(value, str) or not value.strip():
            self.add(where, f"expected a non-empty string, got {show(value)}", value)
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
            self.add(where, f"expected an integer{_unit(unit)}, got {show(value)}", value, _allowed(lo, hi, unit))
            return default
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            self.add(where, f"{value} is out of range; allowed {_range(lo, hi)}{_unit(unit)}", value,
                     _allowed(lo, hi, unit))
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
        # NaN passes every range check (all comparisons are false) and inf is no quantity.
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.add(where, f"expected a number{_unit(unit)}, got {show(value)}", value, _allowed(lo, hi, unit))
            return default
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            self.add(where, f"{show(value)} is out of range; allowed {_range(lo, hi)}{_unit(unit)}", value,
                     _allowed(lo, hi, unit))
            return default
        return float(value)

    def boolean(self, obj: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        where = f"{path}.{key}" if path else key
        value = obj.get(key, default)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            self.add(where, f"expected true or false, got {show(value)}", value, ("true", "false"))
            return default
        return value

    def choice(self, obj: Mapping[str, Any], key: str, path: str, enum: type[E], default: E | None = None) -> E:
        where = f"{path}.{key}" if path else key
        allowed = [m.value for m in enum]  # type: ignore[attr-defined]
        value = obj.get(key)
        if value is None:
            if default is None:
                self.add(where, f"is required; expected one of {', '.join(allowed)}", allowed=tuple(allowed))
                return next(iter(enum))
            if key in obj:
                self.add(where, f"null is not allowed; expected one of {', '.join(allowed)}", None, tuple(allowed))
            return default
        if value not in allowed:
            self.add(where, f"{show(value)} is not allowed; expected one of "
                            f"{', '.join(allowed)}{hint(str(value), allowed)}", value, tuple(allowed))
            return default if default is not None else next(iter(enum))
        return enum(value)

    def cidr(self, value: Any, where: str) -> ipaddress.IPv4Network | None:
        if not isinstance(value, str):
            self.add(where, f"expected an IPv4 CIDR block such as '10.0.0.0/16', got {show(value)}", value)
            return None
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            detail = "has host bits set" if "host bits" in str(exc) else "is not an IPv4 CIDR block"
            self.add(where, f"{show(value)} {detail}; expected a network such as '10.0.0.0/16'", value)
            return None
        return net

    # -- rules shared by every section ---------------------------------------------------

    def name(self, obj: Mapping[str, Any], path: str, rule: NameRule, key: str = "name") -> str:
        """A required resource name that follows `rule`."""
        value = self.string(obj, key, path, required=True)
        if value and not rule.pattern.match(value):
            self.add(f"{path}.{key}", f"{value!r} is not allowed; use {rule.describe}", value, rule.describe)
        return value

    def unique(self, seen: dict[str, str], name: str, where: str, owner: str, scope: str = "names") -> None:
        """Record `name` at `where` (`owner`: how it is shown); a second use is a problem."""
        if name in seen:
            self.add(f"{where}.name", f"{name!r} is already used by {seen[name]}; {scope} must be unique", name)
        seen.setdefault(name, owner)


@dataclasses.dataclass(frozen=True)
class NameRule:
    """A naming rule for something the program names resources after."""

    pattern: re.Pattern[str]
    describe: str
    """What is allowed, as messages say it."""


RESOURCE_NAME = NameRule(re.compile(r"^[a-z]([a-z0-9-]{0,22}[a-z0-9])?$"),
                         "1-24 lowercase letters, digits and '-', starting with a letter")
"""Groups, TPU pods and node pools: their name goes into cloud resource names (24 leaves room for suffixes)."""


def _allowed(lo: float | None, hi: float | None, unit: str) -> str:
    if lo is None and hi is None:
        return unit
    return f"{_range(lo, hi)}{_unit(unit)}"


def _range(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{show(lo)}..{show(hi)}"
    if lo is not None:
        return f">= {show(lo)}"
    return f"<= {show(hi)}"


def _unit(unit: str) -> str:
    return f" ({unit})" if unit else ""
