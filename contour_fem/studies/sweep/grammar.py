"""Sweep files: the grammar, and its expansion into cases (no solving, no files written).

A sweep file is a TOML file with these top-level keys (anything else is an error)::

    name = "eggbox-H-at-S150"           # sweep name (default: the file's stem)
    description = "free text"           # optional, ignored
    base = "../geometries/eggbox_H25S150.toml"  # a case TOML, relative to the sweep file, or
    cases = "table.csv"                 # a CSV: header = dotted keys, one row per case, an
                                        #   empty cell keeps the base value
    [base.geometry]                     # ... the base as a case table written inline (same
    topography = "eggbox"               #     sections as a case TOML; it need not be valid
    [base.mesh]                         #     on its own)
    resolution = "coarse"
    [vary]                              # Cartesian product over dotted config keys
    "geometry.height_um" = [5, 25, 50, 75]
    "kinetics.interfacial_resistance_ohm_cm2" = [1, 10, 30]
    [zip]                               # lists of equal length, varied together (one axis)
    "geometry.separation_um" = [30, 150]
    "creep.exponent" = [6.56, 5.0]
    [[cases]]                           # instead of a CSV: an array of tables, one per case
    "geometry.topography" = "flat"

(TOML puts every key after a ``[table]`` header into that table, so ``name``, ``description``,
``base = "..."`` and ``cases = "..."`` must come before the first header.)

``vary``, ``zip`` and ``cases`` are optional and combine as a Cartesian product: every ``vary``
list is an axis, the ``zip`` block is one axis, the ``cases`` rows are one axis. A key may appear
in only one of them. Unquoted dotted keys (``geometry.height_um = [...]`` inside ``[vary]``) work
too. With none of the three the sweep is the base case alone.

Every case is the base table with its overrides applied by :func:`contour_fem.config.set_key`,
then :func:`contour_fem.config.resolve`; its name is the sweep name plus its overrides, e.g.
``eggbox-H-at-S150[height_um=25,interfacial_resistance_ohm_cm2=10]``. A malformed sweep file
(bad TOML, unknown top-level key, unknown section or dotted key, empty or non-list values,
``zip`` lists of unequal length, a key in two blocks) raises :class:`InputError` before anything
is written. A case whose values are invalid (``resolve`` or ``build_case`` raise
:class:`InputError`) is not fatal: it is recorded as a failure like a case that did not converge.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import itertools
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contour_fem import config
from contour_fem.core.errors import InputError, one_line
from contour_fem.core.files import read_text

_TOP_LEVEL = ("name", "description", "base", "vary", "zip", "cases")

@dataclass(frozen=True)
class SweepCase:
    """One case of a sweep.

    Attributes:
        index: Position in the sweep's natural (expansion) order.
        name: Sweep name plus a short description of the overrides.
        overrides: Dotted key → value, in the order of the sweep file.
        user: The unresolved case table (base + overrides + name).
        config: The resolved table, or None if the case is invalid.
        hash: Folder name under ``OUT/cases``.
        error: ``(type, reason)`` if the case does not resolve, else None.

    """

    index: int
    name: str
    overrides: dict[str, Any]
    user: dict
    config: dict | None
    hash: str
    error: tuple[str, str] | None = None


@dataclass
class Sweep:
    """A parsed and expanded sweep file."""

    name: str
    cases: list[SweepCase]
    keys: list[str]  # every dotted key that some case overrides, in file order
    source: dict  # the parsed sweep table, as written
    text: str | None = None  # the sweep file's text, if read from a file
    path: Path | None = None
    duplicates: list[str] = field(default_factory=list)  # names dropped as identical cases


def load_sweep(source: str | Path | dict, *, base_dir: str | Path | None = None,
               overrides: dict[str, Any] | None = None) -> Sweep:
    """Read, validate and expand a sweep file (or an already parsed sweep table).

    Args:
        source: Path of a sweep TOML file, or its parsed table.
        base_dir: Folder that relative ``base`` and ``cases`` paths refer to (default: the sweep
            file's folder, or the working directory for a table).
        overrides: Dotted key → value set in the base (``--set``); a key the sweep varies is
            an error.

    Returns:
        The sweep with its cases in expansion order (identical cases merged).

    Raises:
        InputError: Malformed sweep file (see the module documentation).

    """
    text, path = None, None
    if isinstance(source, dict):
        raw = copy.deepcopy(source)
        default_name = "sweep"
    else:
        text = read_text(source, "sweep file")  # before Path(): Path("") would be "."
        path = Path(source)
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: malformed TOML: {exc}") from None
        default_name = path.stem
    where = f"{path}: " if path is not None else ""
    base_dir = Path(base_dir) if base_dir is not None else (
        path.parent if path is not None else Path.cwd())
    try:
        return _expand(raw, default_name, base_dir, text, path, overrides or {})
    except InputError as exc:
        raise InputError(f"{where}{exc}") from None


def _expand(raw: dict, default_name: str, base_dir: Path, text: str | None,
            path: Path | None, overrides: dict[str, Any]) -> Sweep:
    unknown = [k for k in raw if k not in _TOP_LEVEL]
    if unknown:
        raise InputError(f"unknown sweep key '{unknown[0]}' (allowed: {', '.join(_TOP_LEVEL)})")
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        raise InputError("sweep 'name' must be a non-empty string")
    if "description" in raw and not isinstance(raw["description"], str):
        raise InputError("sweep 'description' must be a string")
    base = _load_base(raw.get("base", {}), base_dir)
    for key, value in overrides.items():
        base = config.set_key(base, key, value)

    axes: list[list[dict[str, Any]]] = []
    owner: dict[str, str] = {}  # dotted key → block that sets it

    def claim_keys(keys, block):
        for key in keys:
            _check_key(key, block)
            if key in owner and owner[key] != block:
                raise InputError(f"key '{key}' is set in both [{owner[key]}] and [{block}]")
            owner[key] = block

    vary = _flatten(_table(raw, "vary"), "vary")
    claim_keys(vary, "vary")
    for key, values in vary.items():
        axes.append([{key: v} for v in _values(values, f"vary.{key}")])

    zipped = _flatten(_table(raw, "zip"), "zip")
    if zipped:
        claim_keys(zipped, "zip")
        lists = {k: _values(v, f"zip.{k}") for k, v in zipped.items()}
        lengths = {len(v) for v in lists.values()}
        if len(lengths) != 1:
            raise InputError("[zip] lists must have equal lengths, got "
                             + ", ".join(f"{k}: {len(v)}" for k, v in lists.items()))
        axes.append([dict(zip(lists, row, strict=True)) for row in zip(*lists.values(),
                                                                        strict=True)])

    if "cases" in raw:
        rows = _case_rows(raw["cases"], base_dir)
        keys = list(dict.fromkeys(k for row in rows for k in row))
        claim_keys(keys, "cases")
        axes.append(rows)

    keys = list(owner)
    varied = [k for k in overrides if k in owner]
    if varied:
        raise InputError(f"--set {varied[0]}: the sweep varies this key (in [{owner[varied[0]]}])")
    short = _short_names(keys)
    cases: list[SweepCase] = []
    seen: dict[str, str] = {}
    duplicates: list[str] = []
    for combo in itertools.product(*axes):
        overrides: dict[str, Any] = {}
        for part in combo:
            overrides.update(part)
        desc = ",".join(f"{short[k]}={_fmt(v)}" for k, v in overrides.items())
        case_name = f"{name}[{desc}]" if desc else name
        case = _make_case(len(cases), case_name, base, overrides)
        if case.hash in seen:
            duplicates.append(case_name)
            continue
        seen[case.hash] = case_name
        cases.append(case)
    return Sweep(name=name, cases=cases, keys=keys, source=raw, text=text, path=path,
                 duplicates=duplicates)


def _load_base(base: Any, base_dir: Path) -> dict:
    if isinstance(base, str):
        file = base_dir / base
        try:
            base = tomllib.loads(read_text(file, "base case file"))
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"base case {file}: malformed TOML: {exc}") from None
        base.pop("name", None)
    elif not isinstance(base, dict):
        raise InputError("'base' must be a table or the path of a case TOML file")
    base = copy.deepcopy(base)
    base.pop("name", None)  # case names come from the sweep
    for section, table in base.items():
        if section not in config.SCHEMA:
            raise InputError(f"unknown section 'base.{section}' "
                             f"(allowed: {', '.join(config.SCHEMA)})")
        if not isinstance(table, dict):
            raise InputError(f"'base.{section}' must be a table")
        for key in table:
            if key not in config.SCHEMA[section]:
                raise InputError(f"unknown key 'base.{section}.{key}' "
                                 f"(allowed: {', '.join(config.SCHEMA[section])})")
    return base


def _table(raw: dict, block: str) -> dict:
    value = raw.get(block, {})
    if not isinstance(value, dict):
        raise InputError(f"[{block}] must be a table of dotted keys")
    return value


def _flatten(table: dict, block: str, prefix: str = "") -> dict[str, Any]:
    """``{"geometry": {"height_um": [...]}}`` and ``{"geometry.height_um": [...]}`` alike."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, block, dotted + "."))
        else:
            out[dotted] = value
    return out


def _check_key(dotted: str, block: str) -> None:
    if dotted == "name":
        raise InputError(f"[{block}] cannot set 'name' (case names come from the sweep)")
    if dotted in _TOP_LEVEL:
        raise InputError(f"'{dotted}' is inside [{block}]: in TOML, top-level keys such as "
                         f"'{dotted}' must come before the first [table] header")
    try:
        config.set_key({}, dotted, None)
    except InputError:
        raise InputError(f"unknown key '{dotted}' in [{block}] (use section.key, sections: "
                         f"{', '.join(config.SCHEMA)})") from None


def _values(values: Any, where: str) -> list:
    if not isinstance(values, list):
        raise InputError(f"{where} must be a list of values, got {values!r}")
    if not values:
        raise InputError(f"{where} must not be an empty list")
    for v in values:
        if isinstance(v, dict | list):
            raise InputError(f"{where}: values must be numbers, strings or booleans, got {v!r}")
    return values


def _case_rows(cases: Any, base_dir: Path) -> list[dict[str, Any]]:
    if isinstance(cases, str):
        rows = _read_csv(base_dir / cases)
    elif isinstance(cases, list) and all(isinstance(r, dict) for r in cases):
        rows = [_flatten(r, "cases") for r in cases]
        for row in rows:
            for key, v in row.items():
                if isinstance(v, list):
                    raise InputError(f"[[cases]] {key}: one value per case, got a list {v!r}")
    else:
        raise InputError("'cases' must be the path of a CSV file or an array of tables")
    if not rows:
        raise InputError("'cases' has no rows")
    return rows


def _read_csv(file: Path) -> list[dict[str, Any]]:
    text = read_text(file, "cases file")
    reader = csv.reader(io.StringIO(text))
    lines = [row for row in reader if any(cell.strip() for cell in row)]
    if not lines:
        raise InputError(f"cases file {file} is empty")
    header = [h.strip() for h in lines[0]]
    if len(set(header)) != len(header) or "" in header:
        raise InputError(f"cases file {file}: header must name distinct dotted keys")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        if len(line) != len(header):
            raise InputError(f"cases file {file} line {n}: {len(line)} cells, "
                             f"header has {len(header)}")
        rows.append({k: _parse_cell(v) for k, v in zip(header, line, strict=True)
                     if v.strip() != ""})
    return rows


def _parse_cell(text: str) -> Any:
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _short_names(keys: list[str]) -> dict[str, str]:
    """``section.key`` → ``key`` unless two sections share that key."""
    last = [k.split(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last, strict=True)}


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def _make_case(index: int, name: str, base: dict, overrides: dict[str, Any]) -> SweepCase:
    user = config.set_key(base, "name", name)
    for key, value in overrides.items():
        user = config.set_key(user, key, value)
    try:
        resolved = config.resolve(user)
    except InputError as exc:
        text = json.dumps(user | {"name": None}, sort_keys=True, default=str)
        digest = hashlib.sha256(("unresolved:" + text).encode()).hexdigest()[:16]
        return SweepCase(index, name, overrides, user, None, digest,
                         ("InputError", one_line(exc)))
    return SweepCase(index, name, overrides, user, resolved, config.config_hash(resolved))


def task_slice(cases: list[SweepCase], task_index: int, task_count: int) -> list[SweepCase]:
    """The cases of one task of a job array: every m-th of the hash-sorted list, from i.

    Returns:
        The task's cases in natural order.

    """
    if task_count < 1 or not 0 <= task_index < task_count:
        raise InputError(f"--task-index must be in [0, --task-count), got {task_index} of "
                         f"{task_count}")
    mine = {c.hash for c in sorted(cases, key=lambda c: c.hash)[task_index::task_count]}
    return [c for c in cases if c.hash in mine]
