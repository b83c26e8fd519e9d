"""The case-file schema, generated from the parameter dataclasses (one source of truth).

A case file is a table ``{section: {key: value}}``. Every key, its unit, default, allowed range,
choices and source come from the :func:`~contour_fem.core.params.param` metadata of the dataclass
behind its section (:data:`SECTIONS`); the geometry section is the union of the topographies'
fields, each key belonging to the topographies that have it. Nothing here restates a default.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from contour_fem.case import SolverSettings
from contour_fem.core.errors import InputError
from contour_fem.core.params import Param, default_in_user_units, param, params_of, user_key
from contour_fem.core.units import Unit
from contour_fem.geometry.spec import CellSpec
from contour_fem.geometry.surfaces import HeightMapSurface, RandomSurfaceSpec
from contour_fem.geometry.topography import EggBox, Flat, Frustum, Pyramid
from contour_fem.physics.parameters import Creep, Criterion, Electrolyte, Kinetics, Operating

REQUIRED = object()  # default of a key that must be given


#: Units of the coordinates in field and mesh files (``[output] coordinates``).
COORDINATE_UNITS = ("m", "um")


@dataclass(frozen=True)
class OutputSettings:
    """What a solve writes besides its result records."""

    fields: bool = param(True, kind=bool,
                         doc="write fields and meshes for ParaView (.bp folders, .vtu files)")
    coordinates: str = param("m", kind=str, choices=COORDINATE_UNITS,
                             doc="unit of the coordinates in field and mesh files")


#: The topographies a case file can name, by ``geometry.topography``.
CASE_TOPOGRAPHIES: dict[str, type] = {cls.kind: cls for cls in (
    Flat, EggBox, Pyramid, Frustum, HeightMapSurface, RandomSurfaceSpec)}

#: Section → the dataclass whose user-facing fields are its keys (geometry: see above).
SECTIONS: dict[str, type] = {
    "mesh": CellSpec,
    "electrolyte": Electrolyte,
    "kinetics": Kinetics,
    "creep": Creep,
    "operating": Operating,
    "criterion": Criterion,
    "solver": SolverSettings,
    "output": OutputSettings,
}

#: A case name is a plain file name: letters, digits and ``._+-=,[]()``, not starting with a dot
#: (sweep case names carry their overrides, so there is no length limit here; a name used as a
#: folder name is checked for length where it is used).
NAME_PATTERN = re.compile(r"[A-Za-z0-9_+\-=,\[\]()][A-Za-z0-9._+\-=,\[\]()]*")


@dataclass(frozen=True)
class Key:
    """One key of a section.

    Attributes:
        name: The user key (``height_um``).
        field: The dataclass field it sets.
        meta: Its metadata (unit, range, choices, documentation, source).
        default: Default in user units, :data:`REQUIRED`, or None (derived from other values).
        owners: For geometry keys: the topographies that have the key.

    """

    name: str
    field: str
    meta: Param
    default: Any
    owners: tuple[str, ...] = ()

    def unit(self, section: dict[str, Any]) -> Unit:
        """The key's user unit given the section's values (the prefactor's depends on n)."""
        return self.meta.unit if self.meta.unit_from is None else self.meta.unit_from(section)

    def check(self, dotted: str, value: Any) -> Any:
        """Validate a user value (user units); raise InputError naming ``dotted``."""
        return self.meta.check(dotted, value)


def _keys_of(cls: type) -> dict[str, Key]:
    out = {}
    for name, (f, meta) in params_of(cls).items():
        default = default_in_user_units(f, meta)
        if default is dataclasses.MISSING:
            default = None if meta.nullable else REQUIRED
        out[user_key(name, meta)] = Key(user_key(name, meta), name, meta, default)
    return out


def _geometry_keys() -> dict[str, Key]:
    kinds = tuple(CASE_TOPOGRAPHIES)
    keys: dict[str, Key] = {
        "topography": Key("topography", "", Param(kind=str, choices=kinds,
                                                  doc="shape of the interface"), REQUIRED,
                          kinds)}
    for kind, cls in CASE_TOPOGRAPHIES.items():
        for name, key in _keys_of(cls).items():
            owners = (*keys[name].owners, kind) if name in keys else (kind,)
            keys[name] = dataclasses.replace(keys.get(name, key), owners=owners)
    return keys


SCHEMA: dict[str, dict[str, Key]] = {"geometry": _geometry_keys(),
                                     **{s: _keys_of(cls) for s, cls in SECTIONS.items()}}
TOP_LEVEL: dict[str, Key] = {
    "name": Key("name", "name", Param(kind=str, doc="case name (a plain file name)"), "case"),
}


def check_name(name: Any, what: str = "name") -> str:
    """A case name must be a plain file name (it names output folders)."""
    if not isinstance(name, str):
        raise InputError(f"{what} must be a string, got {name!r}")
    if not NAME_PATTERN.fullmatch(name):
        raise InputError(f"{what} must be a plain file name (letters, digits and ._+-=,[](), "
                         f"not starting with '.'), got {name!r}")
    return name


def applies(section: str, key: Key, values: dict[str, Any]) -> bool:
    """Whether ``key`` applies given the section's resolved values."""
    if section == "geometry":
        return values.get("topography") in key.owners
    return key.meta.applies is None or bool(key.meta.applies(values))


def where_applies(section: str, key: Key) -> str:
    """In words, when a key applies (for messages and documentation)."""
    if section == "geometry":
        if key.name == "topography":
            return "always"
        return "topography = " + " | ".join(key.owners)
    return key.meta.applies_doc or "always"
