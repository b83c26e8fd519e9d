"""Parameter metadata: the one place a parameter's user key, unit, range, choices and source live.

Every parameter dataclass of the package (topographies, cell specification, materials, solver
settings) declares its user-facing fields with :func:`param`. The field holds the SI value and
its SI default; the metadata says how the parameter appears at the user boundary (key with unit
suffix, unit, allowed range, choices, documentation, source of the default). From it

- the dataclass validates itself (:func:`validate`, called in ``__post_init__``),
- the configuration schema is generated (``contour_fem.config``), and
- ``contour-fem params`` lists every key with its default, unit, range and source.

Ranges are given in SI; messages quote them in the unit of whoever reads them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from contour_fem.core.errors import InputError
from contour_fem.core.units import ONE, Unit

#: Metadata key under which :func:`param` stores its :class:`Param`.
META = "contour_fem"


@dataclass(frozen=True)
class Param:
    """How one dataclass field appears to users.

    Attributes:
        key: User key, with the unit suffix (``height_um``); the field name if empty.
        unit: User unit (the key's suffix); :data:`~contour_fem.core.units.ONE` if none.
        si: SI unit symbol of the field, for messages of the Python API (``m``).
        kind: ``float``, ``int``, ``bool`` or ``str``.
        lo: Smallest allowed SI value (None: unbounded).
        hi: Largest allowed SI value.
        strict_lo: ``lo`` itself is excluded.
        choices: Allowed values (strings or integers).
        nullable: ``None`` is allowed (a default derived from other values).
        doc: One line of documentation.
        source: Where the default comes from (a citation, or ``assumed``).
        default_doc: The default in words, when it is derived (``S/4``).
        applies: Predicate on the section's resolved user values: whether the key applies
            (e.g. only in one criterion mode); None: always.
        applies_doc: The predicate in words (``mode = calibrated``).
        unit_from: For a unit that depends on other values of the section (the creep prefactor
            in s⁻¹·MPa⁻ⁿ depends on n): section's user values → unit.

    """

    key: str = ""
    unit: Unit = ONE
    si: str = ""
    kind: type = float
    lo: float | None = None
    hi: float | None = None
    strict_lo: bool = False
    choices: tuple | None = None
    nullable: bool = False
    doc: str = ""
    source: str = ""
    default_doc: str = ""
    applies: Callable[[Mapping[str, Any]], bool] | None = None
    applies_doc: str = ""
    unit_from: Callable[[Mapping[str, Any]], Unit] | None = None

    def range_text(self, unit: Unit | None = None, symbol: str | None = None) -> str:
        """The allowed range in ``unit`` (default the user unit), e.g. ``> 0`` or ``in [1, 20]``."""
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        unit = unit or self.unit
        lo = None if self.lo is None else unit.from_si(self.lo)
        hi = None if self.hi is None else unit.from_si(self.hi)
        sym = unit.symbol if symbol is None else symbol
        tail = f" {sym}" if sym else ""
        if lo is not None and hi is not None:
            left = "(" if self.strict_lo else "["
            return f"in {left}{lo:g}, {hi:g}]{tail}"
        if lo is not None:
            return f"{'>' if self.strict_lo else '≥'} {lo:g}{tail}"
        if hi is not None:
            return f"≤ {hi:g}{tail}"
        return "any value"

    def check(self, name: str, value: Any, *, unit: Unit | None = None,
              symbol: str | None = None) -> Any:
        """Return ``value`` checked against type, choices and range, or raise InputError.

        Args:
            name: Name used in the message (a dotted user key or a field name).
            value: The value, in ``unit`` (default: the user unit).
            unit: Unit of ``value``; the SI range is converted to it for the comparison.
            symbol: Unit symbol printed in the message (default: the unit's).

        """
        if value is None:
            if self.nullable:
                return None
            raise InputError(f"{name} must be given (not empty)")
        value = _typed(self.kind, name, value)
        if self.choices is not None:
            if value not in self.choices:
                raise InputError(f"{name} must be one of {', '.join(map(str, self.choices))}, "
                                 f"got {value!r}")
            return value
        if self.kind in (float, int):
            unit = unit or self.unit
            lo = None if self.lo is None else unit.from_si(self.lo)
            hi = None if self.hi is None else unit.from_si(self.hi)
            # Compare with a relative slack: bounds converted between units carry round-off.
            eps = 1e-12
            below = lo is not None and (value < lo - eps * abs(lo)
                                        or (self.strict_lo and value <= lo))
            above = hi is not None and value > hi + eps * abs(hi)
            if below or above:
                raise InputError(f"{name} must be {self.range_text(unit, symbol)}, "
                                 f"got {value!r}")
        return value


def _typed(kind: type, name: str, value: Any) -> Any:
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"{name} must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise InputError(f"{name} must be a finite number, got {value!r}")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{name} must be an integer, got {value!r}")
    elif kind is bool:
        if not isinstance(value, bool):
            raise InputError(f"{name} must be true or false, got {value!r}")
    elif kind is str and not isinstance(value, str):
        raise InputError(f"{name} must be a string, got {value!r}")
    return value


def param(default: Any = dataclasses.MISSING, **meta: Any) -> Any:
    """A dataclass field with :class:`Param` metadata (keywords as in :class:`Param`)."""
    kw = {} if default is dataclasses.MISSING else {"default": default}
    return dataclasses.field(metadata={META: Param(**meta)}, **kw)


def params_of(cls_or_obj: Any) -> dict[str, tuple[dataclasses.Field, Param]]:
    """Field name → (field, Param) of every user-facing field of a parameter dataclass."""
    return {f.name: (f, f.metadata[META]) for f in dataclasses.fields(cls_or_obj)
            if META in f.metadata}


def user_key(name: str, meta: Param) -> str:
    """The user key of a field: ``meta.key`` or the field name."""
    return meta.key or name


def validate(obj: Any) -> None:
    """Check every :func:`param` field of a dataclass instance (SI values).

    Raises:
        InputError: Naming the field, the allowed range in SI units and the value.

    """
    si_unit = ONE
    for name, (_, meta) in params_of(obj).items():
        if meta.applies is not None and getattr(obj, name) is None:
            continue
        meta.check(name, getattr(obj, name), unit=si_unit, symbol=meta.si)


def user_values(obj: Any) -> dict[str, Any]:
    """User key → value in user units of every :func:`param` field of a dataclass instance."""
    out = {}
    for name, (_, meta) in params_of(obj).items():
        value = getattr(obj, name)
        if meta.kind is float and value is not None:
            unit = meta.unit if meta.unit_from is None else meta.unit_from(
                {n: getattr(obj, n) for n in params_of(obj)})
            value = float(f"{unit.from_si(value):.12g}")  # a parameter echo: no SI round-off
        out[user_key(name, meta)] = value
    return out


def default_in_user_units(field: dataclasses.Field, meta: Param) -> Any:
    """The field's SI default expressed in its user unit (12 significant digits).

    Rounding keeps round-trip noise (0.15 S/m → 1.4999999999999998 mS/cm) out of case files and
    configuration hashes.
    """
    if field.default is dataclasses.MISSING:
        if field.default_factory is not dataclasses.MISSING:  # pragma: no cover - unused
            return field.default_factory()
        return dataclasses.MISSING
    value = field.default
    if value is None or meta.kind is not float:
        return value
    return float(f"{meta.unit.from_si(value):.12g}")
