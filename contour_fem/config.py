"""TOML configuration: unit-suffixed keys at the user boundary, converted to SI once, here.

A configuration is a nested table ``{section: {key: value}}``. :func:`resolve` validates a user
table (unknown keys, missing required keys, wrong types, out-of-range values: one line naming the
key) and fills in the defaults of MODEL.md §6; :func:`build_case` turns a resolved table into a
:class:`~contour_fem.case.Case`. The resolved table is what sweeps hash and runs record.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contour_fem.constants import (
    CM3_PER_MOL,
    KJ_PER_MOL,
    MA_PER_CM2,
    MPA,
    MS_PER_CM,
    OHM_CM2,
    UM,
)
from contour_fem.errors import InputError

_REQUIRED = object()


@dataclass(frozen=True)
class Key:
    """One configuration key: type, default, allowed range or choices."""

    kind: type
    default: Any
    lo: float | None = None
    hi: float | None = None
    strict_lo: bool = False
    choices: tuple | None = None
    nullable: bool = False
    doc: str = ""

    def check(self, name: str, value: Any) -> Any:
        """Return the validated value or raise :class:`InputError` naming ``name``."""
        if value is None:
            if self.nullable:
                return None
            raise InputError(f"{name} must not be empty")
        if self.kind is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(f"{name} must be a number, got {value!r}")
            value = float(value)
            if not math.isfinite(value):
                raise InputError(f"{name} must be a finite number, got {value!r}")
        elif self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InputError(f"{name} must be an integer, got {value!r}")
        elif self.kind is bool:
            if not isinstance(value, bool):
                raise InputError(f"{name} must be true or false, got {value!r}")
        elif self.kind is str and not isinstance(value, str):
            raise InputError(f"{name} must be a string, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise InputError(f"{name} must be one of {', '.join(map(str, self.choices))}, "
                             f"got {value!r}")
        if self.lo is not None and (value < self.lo or (self.strict_lo and value == self.lo)):
            op = ">" if self.strict_lo else "≥"
            rng = f"{op} {self.lo:g}" + (f" and ≤ {self.hi:g}" if self.hi is not None else "")
            raise InputError(f"{name} must be {rng}, got {value!r}")
        if self.hi is not None and value > self.hi:
            raise InputError(f"{name} must be ≤ {self.hi:g}, got {value!r}")
        return value


def _pos(default, doc="", nullable=False):
    return Key(float, default, lo=0.0, strict_lo=True, nullable=nullable, doc=doc)


SCHEMA: dict[str, dict[str, Key]] = {
    "geometry": {
        "topography": Key(str, _REQUIRED, choices=("flat", "eggbox", "pyramid", "frustum")),
        "height_um": _pos(None, "crest-to-trough height H (µm); omit (or 0) for flat",
                          nullable=True),
        "separation_um": _pos(_REQUIRED, "period S (µm)"),
        "form": Key(str, "product", choices=("product", "sum"), doc="egg-box form"),
        "top_width_um": Key(float, None, lo=0.0, nullable=True, doc="frustum top (default S/4)"),
        "gap_um": Key(float, None, lo=0.0, nullable=True, doc="frustum gap (default S/4)"),
        "corner_radius_um": Key(float, 0.0, lo=0.0, doc="edge rounding (pyramid, frustum)"),
        "invert": Key(bool, False),
    },
    "mesh": {
        "domain": Key(str, "quarter", choices=("quarter", "full")),
        "resolution": Key(str, "medium",
                          choices=("coarse", "medium", "fine", "lean", "medium-lean")),
        "interface_size_um": _pos(None, nullable=True),
        "far_size_um": _pos(None, nullable=True),
        "electrolyte_thickness_um": _pos(None, "SE above the highest point (default S)",
                                         nullable=True),
        "lithium_thickness_um": _pos(None, "Li below the lowest point (default S)",
                                     nullable=True),
        "order": Key(int, 2, choices=(1, 2)),
        "structured": Key(bool, True),
    },
    "electrolyte": {
        "conductivity_mS_cm": _pos(1.5, "Singh et al. 2022"),
    },
    "kinetics": {
        "distribution": Key(str, "secondary", choices=("primary", "secondary")),
        "interfacial_resistance_ohm_cm2": _pos(10.0, "assumed", nullable=True),
        "exchange_current_density_mA_cm2": _pos(None, "alternative to R_int", nullable=True),
        "alpha_a": Key(float, 0.5, lo=0.0, hi=1.0),
        "alpha_c": Key(float, 0.5, lo=0.0, hi=1.0),
    },
    "creep": {
        "exponent": Key(float, 6.56, lo=1.0, hi=20.0, doc="Masias et al. 2019"),
        "prefactor_per_s_MPa_n": _pos(7.73e-3, "uniaxial A (refit of Masias 2019)"),
        "molar_volume_cm3_mol": _pos(13.0),
        "activation_energy_kJ_mol": Key(float, 37.0, lo=0.0),
        "slip": Key(str, "no-slip", choices=("no-slip", "free-slip")),
        "bottom": Key(str, "plate", choices=("plate", "traction")),
    },
    "operating": {
        "temperature_K": _pos(298.15),
        "stack_pressure_MPa": Key(float, 7.0, lo=0.0),
        "reference_current_mA_cm2": _pos(1.0),
    },
    "criterion": {
        "mode": Key(str, "calibrated", choices=("calibrated", "physical")),
        "k_per_MPa": Key(float, 0.2, lo=0.0),
        "flat_critical_current_mA_cm2": _pos(1.0),
        "fracture_toughness_MPa_m05": _pos(0.23),
        "crack_depth_um": _pos(100.0),
        "filament_length_um": _pos(100.0),
        "crack_opening_um": _pos(21.0, "gives i0 ≈ 1 mA/cm² with c = l = 100 µm (assumed)"),
        "geometry_factor": _pos(1.12),
    },
    "solver": {
        "current": Key(str, "cg_gamg", choices=("cg_gamg", "mumps")),
        "creep": Key(str, "mumps", choices=("mumps", "fieldsplit")),
        "current_degree": Key(int, 2, choices=(1, 2, 3)),
        "creep_degree": Key(int, 2, choices=(2, 3),
                            doc="velocity degree k of the Taylor–Hood pair Pk/Pk−1"),
        "quadrature_degree": Key(int, None, lo=1, hi=12, nullable=True,
                                 doc="creep quadrature degree (default 2 × creep_degree)"),
        "regularisation": _pos(1e-3),
        "newton_max_it": Key(int, 40, lo=1, hi=500),
        "newton": Key(str, "primal-dual", choices=("primal-dual", "standard"),
                      doc="linearisation of the creep Newton method"),
        "coupling": Key(bool, False),
        "coupling_tol": _pos(1e-4),
        "root_finding": Key(bool, False),
        "primary_reference": Key(bool, True, doc="also report f_max without kinetics"),
    },
    "output": {
        "fields": Key(bool, True, doc="write VTX fields for ParaView"),
    },
}
TOP_LEVEL = {"name": Key(str, "case")}


def resolve(user: dict) -> dict:
    """Validate a user table and fill in every default.

    Raises:
        InputError: Unknown section or key, missing required key, wrong type or range.

    """
    if not isinstance(user, dict):
        raise InputError("configuration must be a table")
    out: dict[str, Any] = {}
    for key, spec in TOP_LEVEL.items():
        out[key] = spec.check(key, user.get(key, spec.default))
    for section in user:
        if section not in SCHEMA and section not in TOP_LEVEL:
            raise InputError(f"unknown section or key '{section}' "
                             f"(allowed: {', '.join([*TOP_LEVEL, *SCHEMA])})")
    for section, keys in SCHEMA.items():
        given = user.get(section, {})
        if not isinstance(given, dict):
            raise InputError(f"'{section}' must be a table")
        if section == "geometry" and given.get("topography") == "flat" \
                and given.get("height_um") == 0:
            given = {k: v for k, v in given.items() if k != "height_um"}  # flat: H = 0 is fine
        for key in given:
            if key not in keys:
                raise InputError(f"unknown key '{section}.{key}' (allowed: {', '.join(keys)})")
        table = {}
        for key, spec in keys.items():
            if key in given:
                table[key] = spec.check(f"{section}.{key}", given[key])
            elif spec.default is _REQUIRED:
                raise InputError(f"missing required key '{section}.{key}'")
            else:
                table[key] = spec.default
        out[section] = table
    _cross_checks(out)
    return out


def _cross_checks(cfg: dict) -> None:
    geo, kin = cfg["geometry"], cfg["kinetics"]
    if geo["topography"] == "flat":
        if geo["height_um"] is not None:
            raise InputError("geometry.height_um must be omitted (or 0) for a flat interface")
    elif geo["height_um"] is None:
        raise InputError("missing required key 'geometry.height_um'")
    if kin["exchange_current_density_mA_cm2"] is not None:
        kin["interfacial_resistance_ohm_cm2"] = None
    elif kin["interfacial_resistance_ohm_cm2"] is None and kin["distribution"] == "secondary":
        raise InputError("kinetics needs interfacial_resistance_ohm_cm2 or "
                         "exchange_current_density_mA_cm2")


def load(path: str | Path) -> dict:
    """Read and resolve a TOML file.

    Raises:
        InputError: Missing file, malformed TOML, or invalid content.

    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(f"configuration file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: malformed TOML: {exc}") from None
    data.setdefault("name", path.stem)
    return resolve(data)


def set_key(cfg: dict, dotted: str, value: Any) -> dict:
    """Return a copy of a user table with ``section.key`` set to ``value``."""
    out = copy.deepcopy(cfg)
    if "." not in dotted:
        if dotted not in TOP_LEVEL:
            raise InputError(f"unknown key '{dotted}'; use section.key")
        out[dotted] = value
        return out
    section, key = dotted.split(".", 1)
    if section not in SCHEMA or key not in SCHEMA[section]:
        raise InputError(f"unknown key '{dotted}'")
    out.setdefault(section, {})[key] = value
    return out


def config_hash(resolved: dict) -> str:
    """Stable short hash of a resolved configuration (ignores ``name`` and ``output``)."""
    core = {k: v for k, v in resolved.items() if k not in ("name", "output")}
    text = json.dumps(core, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def mesh_key(resolved: dict) -> str:
    """Hash of what determines the mesh only (geometry and mesh sections)."""
    core = {k: resolved[k] for k in ("geometry", "mesh")}
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:16]


def build_case(resolved: dict):
    """Turn a resolved table into a :class:`~contour_fem.case.Case` (SI units).

    Raises:
        InputError: Values that are valid alone but not together (e.g. a frustum wider than
            its cell), prefixed with the section they belong to.

    """
    from contour_fem.case import Case, SolverSettings
    from contour_fem.geometry.cell import CellSpec
    from contour_fem.geometry.topography import make_topography
    from contour_fem.parameters import Creep, Criterion, Electrolyte, Kinetics, Operating

    geo, msh, ele, kin = (resolved[k] for k in ("geometry", "mesh", "electrolyte", "kinetics"))
    crp, opr, cri, sol = (resolved[k] for k in ("creep", "operating", "criterion", "solver"))

    def um(v):
        return None if v is None else v * UM

    def section(name, build):
        try:
            return build()
        except InputError as exc:
            raise InputError(f"{name}: {exc}") from None

    kind = geo["topography"]
    extra: dict[str, Any] = {}
    if kind == "eggbox":
        extra["form"] = geo["form"]
    if kind in ("pyramid", "frustum"):
        extra["corner_radius"] = geo["corner_radius_um"] * UM
    if kind == "frustum":
        for key in ("top_width", "gap"):
            if geo[f"{key}_um"] is not None:
                extra[key] = geo[f"{key}_um"] * UM
    if kind != "flat":
        extra["invert"] = geo["invert"]
    topo = section("geometry", lambda: make_topography(
        kind, height=um(geo["height_um"]) or 0.0, period=geo["separation_um"] * UM, **extra))
    cell = section("mesh", lambda: CellSpec(
        domain=msh["domain"], resolution=msh["resolution"],
        interface_size=um(msh["interface_size_um"]), far_size=um(msh["far_size_um"]),
        electrolyte_thickness=um(msh["electrolyte_thickness_um"]),
        lithium_thickness=um(msh["lithium_thickness_um"]),
        order=msh["order"], structured=msh["structured"]))
    r_int = kin["interfacial_resistance_ohm_cm2"]
    i0 = kin["exchange_current_density_mA_cm2"]
    kinetics = section("kinetics", lambda: Kinetics(
        interfacial_resistance=None if r_int is None else r_int * OHM_CM2,
        exchange_current_density=None if i0 is None else i0 * MA_PER_CM2,
        alpha_a=kin["alpha_a"], alpha_c=kin["alpha_c"],
        primary=kin["distribution"] == "primary"))
    creep = section("creep", lambda: Creep.from_mpa(
        crp["prefactor_per_s_MPa_n"], crp["exponent"],
        molar_volume=crp["molar_volume_cm3_mol"] * CM3_PER_MOL,
        activation_energy=crp["activation_energy_kJ_mol"] * KJ_PER_MOL,
        slip=crp["slip"], bottom=crp["bottom"]))
    operating = section("operating", lambda: Operating(
        temperature=opr["temperature_K"], stack_pressure=opr["stack_pressure_MPa"] * MPA,
        reference_current=opr["reference_current_mA_cm2"] * MA_PER_CM2))
    criterion = section("criterion", lambda: Criterion(
        mode=cri["mode"], k=cri["k_per_MPa"] / MPA,
        flat_critical_current=cri["flat_critical_current_mA_cm2"] * MA_PER_CM2,
        fracture_toughness=cri["fracture_toughness_MPa_m05"] * MPA,
        crack_depth=cri["crack_depth_um"] * UM, filament_length=cri["filament_length_um"] * UM,
        crack_opening=cri["crack_opening_um"] * UM, geometry_factor=cri["geometry_factor"]))
    solver = section("solver", lambda: SolverSettings(
        current_solver=sol["current"], creep_solver=sol["creep"],
        current_degree=sol["current_degree"], creep_degree=sol["creep_degree"],
        quadrature_degree=sol["quadrature_degree"],
        regularisation=sol["regularisation"], newton_max_it=sol["newton_max_it"],
        newton=sol["newton"], coupling=sol["coupling"],
        coupling_tol=sol["coupling_tol"], root_finding=sol["root_finding"],
        primary_reference=sol["primary_reference"]))
    electrolyte = section("electrolyte", lambda: Electrolyte(
        conductivity=ele["conductivity_mS_cm"] * MS_PER_CM))
    return section("case", lambda: Case(
        topography=topo, cell=cell, electrolyte=electrolyte, kinetics=kinetics, creep=creep,
        criterion=criterion, operating=operating, solver=solver, name=resolved["name"]))
