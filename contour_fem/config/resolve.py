"""Validate a user's case table and fill in its defaults; read case files; hash them.

:func:`resolve` turns what a user wrote into the *resolved* table: every key that applies, with
its value or default, in user units. Unknown sections or keys, keys that do not apply (a corner
radius on an egg-box, ``k_per_MPa`` in physical mode), missing required keys, wrong types and
out-of-range values are each one line naming the key. The resolved table is what sweeps hash and
runs record; :func:`contour_fem.config.build.build_case` turns it into a Case.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

from contour_fem.config.schema import (
    REQUIRED,
    SCHEMA,
    TOP_LEVEL,
    applies,
    check_name,
    where_applies,
)
from contour_fem.core.errors import InputError
from contour_fem.core.files import read_text
from contour_fem.geometry.profiles import LEGACY_CORNER_PROFILE
from contour_fem.geometry.spec import CREASE_MESH_REVISION
from contour_fem.physics.creep import LEGACY_STRESS_RECOVERY


def resolve(user: dict) -> dict:
    """Validate a user table and fill in every default that applies.

    Raises:
        InputError: Unknown section or key, a key that does not apply, a missing required key,
            a wrong type or an out-of-range value.

    """
    if not isinstance(user, dict):
        raise InputError("configuration must be a table")
    for section in user:
        if section not in SCHEMA and section not in TOP_LEVEL:
            raise InputError(f"unknown section or key '{section}' "
                             f"(allowed: {', '.join([*TOP_LEVEL, *SCHEMA])})")
    out: dict[str, Any] = {"name": check_name(user.get("name", TOP_LEVEL["name"].default))}
    for section, keys in SCHEMA.items():
        given = user.get(section, {})
        if not isinstance(given, dict):
            raise InputError(f"'{section}' must be a table")
        given = _friendly(section, given)
        for key in given:
            if key not in keys:
                raise InputError(f"unknown key '{section}.{key}' (allowed: {', '.join(keys)})")
        table: dict[str, Any] = {}
        for name, key in keys.items():
            if name in given:
                table[name] = key.check(f"{section}.{name}", given[name])
            else:
                table[name] = key.default
        _exclusive(section, given, table)
        for name, key in keys.items():
            if not applies(section, key, table):
                if name in given:
                    raise InputError(f"{section}.{name} does not apply here (it applies when "
                                     f"{where_applies(section, key)})")
                del table[name]
            elif table[name] is REQUIRED:
                raise InputError(f"missing required key '{section}.{name}'")
        out[section] = table
    return out


def _friendly(section: str, given: dict) -> dict:
    """Accept what obviously means the default: ``height_um = 0`` for a flat interface."""
    if section == "geometry" and given.get("topography") == "flat" and given.get("height_um") == 0:
        return {k: v for k, v in given.items() if k != "height_um"}
    return given


def _exclusive(section: str, given: dict, table: dict) -> None:
    """Keys that replace each other: R_int or the exchange current density."""
    if section != "kinetics":
        return
    r_int, i0 = "interfacial_resistance_ohm_cm2", "exchange_current_density_mA_cm2"
    if given.get(r_int) is not None and given.get(i0) is not None:
        raise InputError(f"kinetics: give {r_int} or {i0}, not both")
    if given.get(i0) is not None:
        table[r_int] = None


def read_case_file(path: str | Path) -> dict:
    """The user table of a case file (TOML), unresolved; its name defaults to the file's stem.

    Raises:
        InputError: A file that cannot be read, or malformed TOML.

    """
    text = read_text(path, "case file")  # before Path(): Path("") would be "."
    path = Path(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: malformed TOML: {exc}") from None
    data.setdefault("name", path.stem)
    geometry = data.get("geometry")
    if isinstance(geometry, dict) and isinstance(geometry.get("file"), str):
        # A height map named in a case file lives beside it, wherever the command runs.
        file = Path(geometry["file"]).expanduser()
        if not file.is_absolute():
            geometry["file"] = str(path.parent / file)
    return data


def load(path: str | Path, overrides: dict[str, Any] | None = None) -> dict:
    """Read and resolve a case file, with ``overrides`` (dotted key → value) applied first.

    Raises:
        InputError: A file that cannot be read, malformed TOML, or invalid content.

    """
    data = read_case_file(path)
    for dotted, value in (overrides or {}).items():
        data = set_key(data, dotted, value)
    return resolve(data)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["mesh.resolution=coarse", "creep.exponent=5"]`` → dotted key → value.

    Values are read as TOML values (numbers, booleans, quoted strings); anything that is not a
    TOML value is taken as a bare string.

    Raises:
        InputError: An item without ``=`` or with an unknown key.

    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--set {item!r}: use --set section.key=value")
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        set_key({}, key, value)  # validates the key
        out[key] = value
    return out


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
    if not isinstance(out.get(section, {}), dict):
        raise InputError(f"'{section}' must be a table")
    out.setdefault(section, {})[key] = value
    return out


#: Keys that do not change a result: left out of the hashes that identify cases and meshes.
UNHASHED = {"mesh": ("max_cells",)}
#: Keys added after results were stored: left out of the hashes at the value every earlier
#: result was computed with, so that such a result keeps its hash (and is reused when asked for
#: again). Any other value, a later default included, is part of the hash: its results differ.
UNHASHED_AT_LEGACY = {"solver": {"stress_recovery": LEGACY_STRESS_RECOVERY},
                      "geometry": {"corner_profile": LEGACY_CORNER_PROFILE}}


def _hashed(resolved: dict, sections) -> dict:
    out = {}
    for k in sections:
        value = resolved[k]
        if k in UNHASHED:
            value = {key: v for key, v in value.items() if key not in UNHASHED[k]}
        if k in UNHASHED_AT_LEGACY:
            legacy = UNHASHED_AT_LEGACY[k]
            value = {key: v for key, v in value.items()
                     if key not in legacy or legacy[key] != v}
        out[k] = value
    # Rounded edges (or a crease size given) get crease-graded meshes; their revision keeps old
    # results of such cases from being reused after the meshes changed. Others keep their hashes.
    graded = ((resolved.get("geometry", {}).get("corner_radius_um") or 0) > 0
              or resolved.get("mesh", {}).get("crease_size_um") is not None)
    if "mesh" in out and graded:
        out["mesh"] = {**out["mesh"], "crease_mesh_revision": CREASE_MESH_REVISION}
    return out


def config_hash(resolved: dict) -> str:
    """Stable short hash of a resolved configuration (ignores ``name``, ``output`` and guards)."""
    core = _hashed(resolved, [k for k in resolved if k not in ("name", "output")])
    text = json.dumps(core, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def mesh_key(resolved: dict) -> str:
    """Hash of what determines the mesh only (geometry and mesh sections)."""
    core = _hashed(resolved, ("geometry", "mesh"))
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:16]
