"""Resolved case table → :class:`~contour_fem.case.Case`: user units converted to SI, once."""

from __future__ import annotations

from typing import Any

from contour_fem.case import Case
from contour_fem.config.schema import CASE_TOPOGRAPHIES, SCHEMA, SECTIONS, OutputSettings
from contour_fem.core.errors import InputError
from contour_fem.geometry.topography import Topography, make_topography


def _si(section: str, table: dict[str, Any]) -> dict[str, Any]:
    """Field name → SI value of the keys present in a resolved section."""
    out = {}
    for name, value in table.items():
        key = SCHEMA[section][name]
        if key.meta.kind is float and value is not None:
            value = key.unit(table).to_si(value)
        out[key.field] = value
    return out


def _section(name: str, build):
    try:
        return build()
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from None


def build_topography(geometry: dict[str, Any]) -> Topography:
    """The topography of a resolved ``[geometry]`` table."""
    values = _si("geometry", {k: v for k, v in geometry.items() if k != "topography"})
    kind = geometry["topography"]
    if kind not in CASE_TOPOGRAPHIES:  # resolve() already refused it; keep the message
        raise InputError(f"topography must be one of {', '.join(CASE_TOPOGRAPHIES)}")
    cls = CASE_TOPOGRAPHIES[kind]
    if hasattr(cls, "build"):  # measured and synthetic surfaces
        return cls(**values).build()
    height = values.pop("height", 0.0)
    period = values.pop("period")
    return make_topography(kind, height=height, period=period, **values)


def build_case(resolved: dict) -> Case:
    """Turn a resolved table into a Case (SI units).

    Raises:
        InputError: Values that are valid alone but not together (e.g. a frustum wider than
            its cell), prefixed with the section they belong to.

    """
    topo = _section("geometry", lambda: build_topography(resolved["geometry"]))
    parts = {name: _section(name, lambda n=name, c=cls: c(**_si(n, resolved[n])))
             for name, cls in SECTIONS.items() if cls is not OutputSettings}
    return _section("case", lambda: Case(
        topography=topo, cell=parts["mesh"], electrolyte=parts["electrolyte"],
        kinetics=parts["kinetics"], creep=parts["creep"], criterion=parts["criterion"],
        operating=parts["operating"], solver=parts["solver"], name=resolved["name"]))


def output_settings(resolved: dict) -> OutputSettings:
    """The ``[output]`` settings of a resolved table."""
    return OutputSettings(**_si("output", resolved["output"]))
