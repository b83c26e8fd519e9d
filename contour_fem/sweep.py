"""Parameter sweeps: many cases from one TOML file, restartable, MPI-parallel over case groups.

``contour-fem sweep SWEEP.toml --out runs/NAME [--ranks-per-case k] [--task-index i
--task-count m] [--retry-failed]`` (or :func:`run_sweep` from Python).

**Sweep file.** A TOML file with these top-level keys (anything else is an error)::

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

**Output folder.** ``OUT/cases/<hash>/`` per case, ``hash`` =
:func:`contour_fem.config.config_hash` of the resolved case (for a case that does not resolve: a
hash of its unresolved table). A finished case holds ``result.json`` (the
:meth:`CaseResult.to_json` contract), ``run.json``, the VTX fields (unless ``output.fields =
false``) and ``case.json`` (name, overrides, which group and world ranks solved it, whether the
mesh came from the group's cache). A failed case holds ``failure.json`` with ``reason`` (one line),
``type``, ``history`` (the Newton continuation steps of a :class:`ConvergenceError`), ``config``
and, for unexpected exceptions, ``traceback``. ``OUT/results.csv`` has one row per case of the
whole sweep (``status`` ok, failed or pending), ``OUT/sweep.json`` the sweep file, versions, ranks,
groups and timing of the latest invocation.

**Restarts.** A case is written into ``OUT/.staging/<run_id>/<hash>/`` and renamed to
``OUT/cases/<hash>/`` only when complete, so a killed sweep (SIGTERM, SIGKILL, node failure) leaves
no partial case under ``cases/``. A case counts as finished when ``cases/<hash>/result.json``
exists and parses. A rerun skips finished cases and recorded failures (``retry_failed`` reruns the
failures) and removes the staging folders and claims that killed runs left behind.

**Parallelism.** ``ranks_per_case = k`` splits the world communicator into ``size / k`` groups of
``k`` ranks (``comm.Split(color=rank // k)``). Groups take cases dynamically: a group's leader
claims a case by creating ``OUT/.claims/<run_id>/<hash>`` with ``O_CREAT | O_EXCL`` and broadcasts
the outcome to its group, so long and short cases balance. ``task_index = i, task_count = m``
(Slurm job arrays) first restricts the sweep to the cases whose position in the hash-sorted case
list is ``i`` modulo ``m``; the tasks may run at the same time in the same ``OUT``. Apart from
that, run one sweep invocation per output folder at a time. Each group keeps up to
:data:`MESH_CACHE_SIZE` meshes in memory, keyed by :func:`contour_fem.config.mesh_key`, so cases
that differ only in physics reuse their mesh. Before the groups start, world rank 0 compiles the
forms once (a tiny flat coarse variant of the first case, on ``MPI.COMM_SELF``) so that the groups
find the FFCx cache warm instead of racing to compile the same forms.

**Exit status.** :func:`cmd_sweep` returns 0 when every case of the task was processed, including
cases that failed: failures are results of the sweep, recorded in ``failure.json`` and
``results.csv`` and counted on the summary line. Errors of the sweep itself (malformed sweep file,
bad options, unwritable output) raise :class:`InputError` (exit status 2 from the command line).
"""

from __future__ import annotations

import argparse
import copy
import csv
import gc
import hashlib
import importlib
import io
import itertools
import json
import logging
import math
import os
import shutil
import sys
import time
import tomllib
import traceback
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mpi4py import MPI

from contour_fem import config
from contour_fem.errors import ContourFemError, ConvergenceError, InputError

log = logging.getLogger(__name__)

#: Meshes each group keeps in memory (least recently used ones are dropped).
MESH_CACHE_SIZE = 4

_TOP_LEVEL = ("name", "description", "base", "vary", "zip", "cases")

#: results.csv columns taken from result.json (units are in the names).
RESULT_COLUMNS = (
    "topography",
    "height_um",
    "separation_um",
    "area_ratio",
    "max_current_ratio",
    "primary_max_current_ratio",
    "max_excess_pressure_MPa",
    "min_excess_pressure_MPa",
    "hotspot_distance_um",
    "critical_current_mA_cm2",
    "critical_current_ratio_to_flat",
    "coupling_current_change",
    "newton_iterations",
    "ndofs_current",
    "ndofs_creep",
    "ranks",
    "wall_time_s",
)


# ---------------------------------------------------------------------------------------------
# Sweep file → list of cases
# ---------------------------------------------------------------------------------------------


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


def load_sweep(source: str | Path | dict, *, base_dir: str | Path | None = None) -> Sweep:
    """Read, validate and expand a sweep file (or an already parsed sweep table).

    Args:
        source: Path of a sweep TOML file, or its parsed table.
        base_dir: Folder that relative ``base`` and ``cases`` paths refer to (default: the sweep
            file's folder, or the working directory for a table).

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
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"sweep file not found: {path}") from None
        except OSError as exc:
            raise InputError(f"cannot read sweep file {path}: {exc}") from None
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: malformed TOML: {exc}") from None
        default_name = path.stem
    where = f"{path}: " if path is not None else ""
    base_dir = Path(base_dir) if base_dir is not None else (
        path.parent if path is not None else Path.cwd())
    try:
        return _expand(raw, default_name, base_dir, text, path)
    except InputError as exc:
        raise InputError(f"{where}{exc}") from None


def _expand(raw: dict, default_name: str, base_dir: Path, text: str | None,
            path: Path | None) -> Sweep:
    unknown = [k for k in raw if k not in _TOP_LEVEL]
    if unknown:
        raise InputError(f"unknown sweep key '{unknown[0]}' (allowed: {', '.join(_TOP_LEVEL)})")
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        raise InputError("sweep 'name' must be a non-empty string")
    if "description" in raw and not isinstance(raw["description"], str):
        raise InputError("sweep 'description' must be a string")
    base = _load_base(raw.get("base", {}), base_dir)

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
            with file.open("rb") as fh:
                base = tomllib.load(fh)
        except FileNotFoundError:
            raise InputError(f"base case file not found: {file}") from None
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
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"cases file not found: {file}") from None
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
                         ("InputError", _one_line(str(exc))))
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


# ---------------------------------------------------------------------------------------------
# Case folders on disk
# ---------------------------------------------------------------------------------------------


def _read_json(file: Path) -> dict | None:
    try:
        with file.open(encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def case_status(folder: Path) -> str | None:
    """``"ok"`` if ``result.json`` parses, ``"failed"`` if ``failure.json`` does, else None."""
    if _read_json(folder / "result.json") is not None:
        return "ok"
    if _read_json(folder / "failure.json") is not None:
        return "failed"
    return None


def _one_line(text: str) -> str:
    lines = [s.strip() for s in str(text).splitlines() if s.strip()]
    return " | ".join(lines) if lines else "(no message)"


def _describe(exc: BaseException) -> dict:
    out = {"type": type(exc).__name__, "reason": _one_line(str(exc)) or type(exc).__name__,
           "history": list(exc.history) if isinstance(exc, ConvergenceError) else []}
    if not isinstance(exc, ContourFemError):
        out["traceback"] = "".join(traceback.format_exception(exc))
    return out


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------
# Running a sweep
# ---------------------------------------------------------------------------------------------


class _MeshCache:
    """A group's meshes, keyed by :func:`config.mesh_key`, least recently used dropped."""

    def __init__(self, size: int):
        self.size = size
        self._meshes: OrderedDict[str, Any] = OrderedDict()

    def get(self, key: str):
        mesh = self._meshes.get(key)
        if mesh is not None:
            self._meshes.move_to_end(key)
        return mesh

    def put(self, key: str, mesh) -> None:
        self._meshes[key] = mesh
        self._meshes.move_to_end(key)
        while len(self._meshes) > self.size:
            self._meshes.popitem(last=False)

    def clear(self) -> None:
        self._meshes.clear()


class _Runner:
    """The per-rank state of one sweep invocation."""

    def __init__(self, out: Path, run_id: str, group: MPI.Comm, group_id: int,
                 world: MPI.Comm, task: tuple[int, int]):
        self.out = out
        self.run_id = run_id
        self.group = group
        self.group_id = group_id
        self.world = world
        self.task = task
        self.world_ranks = group.allgather(world.rank)
        self.leader = group.rank == 0
        self.meshes = _MeshCache(MESH_CACHE_SIZE)
        self.solved: list[dict] = []

    def stage(self, case: SweepCase) -> Path:
        return self.out / ".staging" / self.run_id / case.hash

    def claim(self, case: SweepCase) -> bool:
        """Leader only: atomically claim a case for this group (False if taken)."""
        folder = self.out / ".claims" / self.run_id
        folder.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(folder / case.hash, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as fh:
            fh.write(f"group {self.group_id} world ranks {self.world_ranks} {_now()}\n")
        stage = self.stage(case)
        if stage.exists():
            shutil.rmtree(stage)
        stage.mkdir(parents=True)
        return True

    def run(self, case: SweepCase) -> str:
        """Solve one claimed case on the group (collective); returns "ok" or "failed"."""
        from contour_fem.case import run_case
        from contour_fem.mesh import create_cell_mesh

        started, t0 = _now(), time.perf_counter()
        stage = self.stage(case)
        error, reused, result = None, False, None
        try:
            if case.error is not None:
                raise InputError(case.error[1])
            resolved = case.config
            built = config.build_case(resolved)
            key = config.mesh_key(resolved)
            mesh = self.meshes.get(key)
            reused = mesh is not None
            if mesh is None:
                mesh = create_cell_mesh(self.group, built.topography, built.cell)
                self.meshes.put(key, mesh)
            result = run_case(built, self.group, mesh=mesh)
            result.write(stage, config=resolved, fields=resolved["output"]["fields"])
        except Exception as exc:
            error = _describe(exc)
            log.debug("case %s failed on world rank %d: %s", case.name, self.world.rank,
                      error["reason"])
        # Every rank learns whether any rank failed; the leader keeps the first report.
        errors = self.group.allgather(error)
        error = next((e for e in errors if e is not None), None)
        del result
        _collect_garbage(self.group)
        elapsed = time.perf_counter() - t0
        if not self.leader:
            return "failed" if error else "ok"
        record = {
            "name": case.name,
            "hash": case.hash,
            "overrides": case.overrides,
            "group": self.group_id,
            "group_size": self.group.size,
            "world_ranks": self.world_ranks,
            "host": os.uname().nodename,
            "run_id": self.run_id,
            "task": {"index": self.task[0], "count": self.task[1]},
            "mesh_reused": reused,
            "started": started,
            "finished": _now(),
            "wall_time_s": elapsed,
        }
        if error is None:
            try:
                self._finalize(case, record)
            except OSError as exc:
                error = _describe(exc)
        if error is not None:
            shutil.rmtree(stage, ignore_errors=True)
            try:
                self._write_failure(case, error, record)
            except OSError as exc:  # local to the leader: never leave the group behind
                log.error("%s: cannot write failure.json: %s", case.name, exc)
            log.warning("%s failed (%s): %s", case.name, error["type"], error["reason"])
        status = "failed" if error else "ok"
        self.solved.append({"hash": case.hash, "name": case.name, "status": status,
                            "wall_time_s": elapsed})
        return status

    def _finalize(self, case: SweepCase, record: dict) -> None:
        """Leader: move the complete staging folder to ``cases/<hash>`` (atomic rename)."""
        from contour_fem.provenance import write_json

        stage = self.stage(case)
        write_json(stage / "case.json", record)
        final = self.out / "cases" / case.hash
        old = stage.with_name(stage.name + ".old")
        if final.exists():  # an earlier failure (retry) or leftovers: move it aside first
            if old.exists():
                shutil.rmtree(old)
            os.rename(final, old)
        os.rename(stage, final)
        shutil.rmtree(old, ignore_errors=True)

    def _write_failure(self, case: SweepCase, error: dict, record: dict) -> None:
        from contour_fem.provenance import write_json

        folder = self.out / "cases" / case.hash
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "failure.json", {
            "name": case.name,
            "hash": case.hash,
            "status": "failed",
            **error,
            "config": case.config if case.config is not None else case.user,
            "sweep": record,
        })


def _collect_garbage(group: MPI.Comm) -> None:
    """Free PETSc objects of the finished case together on every rank of the group."""
    gc.collect()
    try:
        from petsc4py import PETSc
    except ImportError:  # pragma: no cover - petsc4py ships with DOLFINx
        return
    PETSc.garbage_cleanup(group)


def _warm_jit(case: SweepCase) -> tuple[bool, str, float]:
    """Compile the forms of ``case`` on a tiny flat coarse cell, serially (world rank 0 only)."""
    from contour_fem.case import run_case

    t0 = time.perf_counter()
    try:
        cfg = copy.deepcopy(case.config)
        geo, msh = cfg["geometry"], cfg["mesh"]
        user = {k: v for k, v in cfg.items() if k not in ("geometry", "mesh")}
        user["name"] = "jit-warmup"
        user["geometry"] = {"topography": "flat", "separation_um": geo["separation_um"]}
        user["mesh"] = {"domain": msh["domain"], "order": msh["order"],
                        "structured": msh["structured"], "resolution": "coarse"}
        user["solver"] = {**cfg["solver"], "root_finding": False}
        user["output"] = {"fields": False}
        warm = config.build_case(config.resolve(user))
        run_case(warm, MPI.COMM_SELF)
        _collect_garbage(MPI.COMM_SELF)
    except Exception as exc:
        return False, _one_line(f"{type(exc).__name__}: {exc}"), time.perf_counter() - t0
    return True, "", time.perf_counter() - t0


def _clean_leftovers(out: Path, run_id: str, hashes: set[str], everything: bool) -> int:
    """World rank 0: remove staging folders and claims that earlier (killed) runs left behind.

    With ``everything`` false (a task of a job array) only entries of this task's cases go, so
    sibling tasks running at the same time keep theirs.
    """
    removed = 0
    for kind in (".staging", ".claims"):
        root = out / kind
        if not root.is_dir():
            continue
        for run_dir in root.iterdir():
            if run_dir.name == run_id or not run_dir.is_dir():
                continue
            for entry in run_dir.iterdir():
                if everything or entry.name.split(".")[0] in hashes:
                    if entry.is_dir():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink(missing_ok=True)
                    removed += 1
            try:
                run_dir.rmdir()
            except OSError:
                pass
    return removed


def _prepare(sweep_source, out: Path, size: int, ranks_per_case: int, task_index: int,
             task_count: int, retry_failed: bool) -> dict:
    """World rank 0: everything before the cases run; raises InputError before any output."""
    if not isinstance(ranks_per_case, int) or ranks_per_case < 1:
        raise InputError(f"--ranks-per-case must be a positive integer, got {ranks_per_case}")
    if size % ranks_per_case:
        raise InputError(f"--ranks-per-case {ranks_per_case} does not divide the {size} MPI "
                         "ranks")
    sweep = load_sweep(sweep_source)
    mine = task_slice(sweep.cases, task_index, task_count)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder")
    try:
        (out / "cases").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output folder {out}: {exc}") from None
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    (out / ".claims" / run_id).mkdir(parents=True)
    (out / ".staging" / run_id).mkdir(parents=True)
    removed = _clean_leftovers(out, run_id, {c.hash for c in mine}, task_count == 1)
    if removed:
        log.info("removed %d leftover staging folders and claims of earlier runs", removed)
    todo, skipped = [], {"ok": 0, "failed": 0}
    for case in mine:
        status = case_status(out / "cases" / case.hash)
        if status == "ok" or (status == "failed" and not retry_failed):
            skipped[status] += 1
        else:
            todo.append(case.index)
    if sweep.duplicates:
        log.warning("%d cases are identical to earlier ones and run once: %s",
                    len(sweep.duplicates), ", ".join(sweep.duplicates[:5]))
    return {"sweep": sweep, "run_id": run_id, "todo": todo, "skipped": skipped,
            "task_cases": len(mine)}


def run_sweep(sweep_path_or_dict: str | Path | dict, out: str | Path, comm: MPI.Comm, *,
              ranks_per_case: int = 1, task_index: int = 0, task_count: int = 1,
              retry_failed: bool = False) -> dict:
    """Run (or resume) a sweep; collective on ``comm``.

    Args:
        sweep_path_or_dict: Sweep TOML file, or its parsed table (relative paths in it then
            refer to the working directory).
        out: Output folder (created; an existing one is resumed).
        comm: Communicator of all ranks taking part; split into groups of ``ranks_per_case``.
        ranks_per_case: Ranks that solve one case together; must divide ``comm.size``.
        task_index: This task's index in a job array (0-based).
        task_count: Number of tasks in the job array.
        retry_failed: Rerun cases that have a ``failure.json``.

    Returns:
        Summary, identical on every rank: ``total`` (cases in the sweep), ``task_cases``,
        ``done`` / ``failed`` (processed now), ``skipped`` (finished or failed before),
        ``ok_total`` / ``failed_total`` / ``pending_total`` (whole sweep, from disk),
        ``groups``, ``run_id``, ``wall_time_s``, ``out``, ``results_csv``.

    Raises:
        InputError: On every rank, for a malformed sweep file or bad options (nothing written).

    """
    # Importing petsc4py initialises PETSc, a collective over MPI_COMM_WORLD: every rank does it
    # here, before any branch that only some ranks take (the warm-up runs on world rank 0 only).
    importlib.import_module("contour_fem.case")

    t_start = time.perf_counter()
    started = _now()
    out = Path(out)
    prep, error = None, None
    if comm.rank == 0:
        try:
            prep = _prepare(sweep_path_or_dict, out, comm.size, ranks_per_case, task_index,
                            task_count, retry_failed)
        except ContourFemError as exc:
            error = (type(exc).__name__, str(exc))
        except OSError as exc:
            error = ("InputError", f"output folder {out}: {exc}")
    prep, error = comm.bcast((prep, error), root=0)
    if error is not None:
        from contour_fem import errors

        raise getattr(errors, error[0], InputError)(error[1])
    sweep: Sweep = prep["sweep"]
    todo = [sweep.cases[i] for i in prep["todo"]]
    n_groups = comm.size // ranks_per_case
    if comm.rank == 0:
        log.info("sweep %s: %d cases, %d in this task, %d to run, %d finished and %d failed "
                 "before; %d groups of %d ranks -> %s", sweep.name, len(sweep.cases),
                 prep["task_cases"], len(todo), prep["skipped"]["ok"], prep["skipped"]["failed"],
                 n_groups, ranks_per_case, out)

    # JIT warm-up: one rank compiles the forms first, so groups do not race on the FFCx cache.
    warm = {"ran": False, "ok": None, "seconds": 0.0, "message": ""}
    first = next((c for c in todo if c.config is not None), None)
    if n_groups > 1 and first is not None:
        if comm.rank == 0:
            ok, msg, secs = _warm_jit(first)
            if not ok:
                log.warning("JIT warm-up failed (groups will compile themselves): %s", msg)
            warm = {"ran": True, "ok": ok, "seconds": secs, "message": msg}
        warm = comm.bcast(warm, root=0)

    group_id = comm.rank // ranks_per_case
    group = comm.Split(color=group_id, key=comm.rank)
    runner = _Runner(out, prep["run_id"], group, group_id, comm, (task_index, task_count))
    t_cases = time.time()
    counts = {"ok": 0, "failed": 0}
    fatal = None  # an error of the sweep machinery (not of a case): stop this group cleanly
    try:
        for case in todo:
            claimed = None
            if runner.leader:
                try:
                    claimed = runner.claim(case)
                except OSError as exc:
                    claimed = f"cannot claim case {case.hash} in {out}: {exc}"
            claimed = group.bcast(claimed, root=0)
            if isinstance(claimed, str):
                fatal = claimed
                break
            if not claimed:
                continue
            status = runner.run(case)
            counts[status] += 1
            if comm.rank == 0:
                _log_progress(out, todo, t_cases)
    finally:
        runner.meshes.clear()
        _collect_garbage(group)
        group.Free()

    # Wait for every group, then world rank 0 summarises what is on disk.
    totals = [comm.reduce(counts[k] if runner.leader else 0, op=MPI.SUM, root=0)
              for k in ("ok", "failed")]
    groups = comm.gather({"group": group_id, "world_ranks": runner.world_ranks,
                          "cases": runner.solved} if runner.leader else None, root=0)
    fatal = comm.allreduce([fatal] if fatal else [], op=MPI.SUM)
    summary, error = None, None
    if comm.rank == 0:
        try:
            summary = _finish(sweep, out, prep, comm.size, ranks_per_case, task_index,
                              task_count, retry_failed, totals, [g for g in groups if g],
                              warm, started, t_start)
        except OSError as exc:
            error = f"cannot write the sweep summary in {out}: {exc}"
    summary, error = comm.bcast((summary, error), root=0)
    if fatal or error is not None:
        raise InputError(fatal[0] if fatal else error)
    return summary


def _log_progress(out: Path, todo: list[SweepCase], t_cases: float) -> None:
    """World rank 0: done/total of this invocation, from the files the groups wrote."""
    done = failed = 0
    for case in todo:
        folder = out / "cases" / case.hash
        status = case_status(folder)
        if status == "ok":
            done += 1
        elif status == "failed":
            try:
                fresh = (folder / "failure.json").stat().st_mtime >= t_cases - 1.0
            except OSError:
                fresh = False
            if fresh:
                done += 1
                failed += 1
    elapsed = time.time() - t_cases
    remaining = elapsed / done * (len(todo) - done) if done else math.nan
    log.info("progress: %d/%d cases (%d failed), %.0f s elapsed, ~%.0f s remaining",
             done, len(todo), failed, elapsed, remaining)


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return value


def collect_rows(sweep: Sweep, out: Path) -> tuple[list[str], list[dict]]:
    """Header and rows of ``results.csv``: every case of ``sweep``, read from ``out``."""
    header = ["name", "hash", "status", *sweep.keys, *RESULT_COLUMNS, "failure_type", "reason"]
    rows = []
    for case in sweep.cases:
        folder = out / "cases" / case.hash
        row: dict[str, Any] = {"name": case.name, "hash": case.hash}
        for key in sweep.keys:
            if case.config is not None:
                section, name = key.split(".", 1)
                row[key] = case.config[section][name]
            else:
                row[key] = case.overrides.get(key)
        result = _read_json(folder / "result.json")
        failure = None if result is not None else _read_json(folder / "failure.json")
        if result is not None:
            row["status"] = "ok"
            ndofs = result.get("ndofs") or {}
            result = {**result, "ndofs_current": ndofs.get("current"),
                      "ndofs_creep": ndofs.get("creep")}
            row.update({c: result.get(c) for c in RESULT_COLUMNS})
        else:
            row["status"] = "failed" if failure is not None else "pending"
            if case.config is not None:
                geo = case.config["geometry"]
                row.update(topography=geo["topography"], height_um=geo["height_um"],
                           separation_um=geo["separation_um"])
            if failure is not None:
                row["failure_type"] = failure.get("type")
                row["reason"] = failure.get("reason")
        rows.append({k: _csv_value(row.get(k)) for k in header})
    return header, rows


def write_results_csv(sweep: Sweep, out: Path) -> dict[str, int]:
    """Write ``OUT/results.csv`` atomically; returns the number of rows per status."""
    from contour_fem.provenance import atomic_write_text

    header, rows = collect_rows(sweep, out)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "results.csv", buf.getvalue())
    tally = {"ok": 0, "failed": 0, "pending": 0}
    for row in rows:
        tally[row["status"]] += 1
    return tally


def _finish(sweep: Sweep, out: Path, prep: dict, size: int, ranks_per_case: int,
            task_index: int, task_count: int, retry_failed: bool, totals: list[int],
            groups: list[dict], warm: dict, started: str, t_start: float) -> dict:
    from contour_fem.provenance import platform_info, versions, write_json

    tally = write_results_csv(sweep, out)
    wall = time.perf_counter() - t_start
    skipped = prep["skipped"]["ok"] + prep["skipped"]["failed"]
    summary = {
        "name": sweep.name,
        "out": str(out),
        "results_csv": str(out / "results.csv"),
        "run_id": prep["run_id"],
        "total": len(sweep.cases),
        "task_cases": prep["task_cases"],
        "done": totals[0],
        "failed": totals[1],
        "skipped": skipped,
        "skipped_ok": prep["skipped"]["ok"],
        "skipped_failed": prep["skipped"]["failed"],
        "ok_total": tally["ok"],
        "failed_total": tally["failed"],
        "pending_total": tally["pending"],
        "groups": size // ranks_per_case,
        "wall_time_s": wall,
    }
    record = {
        "name": sweep.name,
        "sweep_file": None if sweep.path is None else str(sweep.path.resolve()),
        "sweep": sweep.source,
        "sweep_text": sweep.text,
        "cases": [{"name": c.name, "hash": c.hash, "overrides": c.overrides,
                   "error": None if c.error is None else c.error[1]} for c in sweep.cases],
        "summary": summary,
        "ranks": size,
        "ranks_per_case": ranks_per_case,
        "task": {"index": task_index, "count": task_count},
        "retry_failed": retry_failed,
        "groups": sorted(groups, key=lambda g: g["group"]),
        "jit_warmup": warm,
        "timing": {"started": started, "finished": _now(), "wall_time_s": wall},
        "platform": platform_info(size),
        "versions": versions(),
    }
    write_json(out / "sweep.json", record)
    # sweep.json describes the latest invocation; every invocation keeps its own record.
    write_json(out / "invocations" / f"{prep['run_id']}.json", record)
    for kind in (".claims", ".staging"):
        shutil.rmtree(out / kind / prep["run_id"], ignore_errors=True)
        try:
            (out / kind).rmdir()
        except OSError:
            pass
    log.info("sweep %s: %d done, %d failed, %d skipped in %.1f s; whole sweep: %d ok, "
             "%d failed, %d pending -> %s", sweep.name, summary["done"], summary["failed"],
             skipped, wall, tally["ok"], tally["failed"], tally["pending"], out / "results.csv")
    return summary


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``sweep`` subcommand on ``subparsers`` (from ``add_subparsers``)."""
    p = subparsers.add_parser(
        "sweep", help="run a parameter sweep: OUT/cases/<hash>/, OUT/results.csv",
        description="Run or resume a parameter sweep (file format: runs/README.md).")
    p.add_argument("sweep", help="sweep TOML, e.g. runs/zhang2024_height.toml")
    p.add_argument("--out", help="output folder (default: next to the sweep file, named after "
                   "its stem, e.g. runs/zhang2024_height/)")
    p.add_argument("--ranks-per-case", type=int, default=1, metavar="K",
                   help="MPI ranks per case; the ranks form size/K groups (default 1)")
    p.add_argument("--task-index", type=int, default=0, metavar="I",
                   help="index of this task in a job array, e.g. $SLURM_ARRAY_TASK_ID")
    p.add_argument("--task-count", type=int, default=1, metavar="M",
                   help="number of tasks in the job array, e.g. $SLURM_ARRAY_TASK_COUNT")
    p.add_argument("--retry-failed", action="store_true",
                   help="rerun cases that failed before (default: skip them)")
    p.set_defaults(func=cmd_sweep)
    return p


def default_out(sweep_path: str | Path) -> Path:
    """``runs/zhang2024_height.toml`` → ``runs/zhang2024_height``."""
    path = Path(sweep_path)
    return path.with_suffix("") if path.suffix == ".toml" else path.with_name(path.name + ".out")


def cmd_sweep(args: argparse.Namespace, comm: MPI.Comm) -> int:
    """The ``sweep`` command; returns 0 when every case was processed (failed ones included)."""
    out = Path(args.out) if args.out else default_out(args.sweep)
    summary = run_sweep(args.sweep, out, comm, ranks_per_case=args.ranks_per_case,
                        task_index=args.task_index, task_count=args.task_count,
                        retry_failed=args.retry_failed)
    if comm.rank == 0:
        print(f"{summary['name']}: {summary['done']} done, {summary['failed']} failed, "
              f"{summary['skipped']} skipped in {summary['wall_time_s']:.1f} s; whole sweep "
              f"{summary['ok_total']}/{summary['total']} ok, {summary['failed_total']} failed, "
              f"{summary['pending_total']} pending -> {summary['results_csv']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m contour_fem.sweep``), same as ``contour-fem sweep``."""
    from contour_fem import cli  # the CLI owns logging and error reporting

    args = list(sys.argv[1:] if argv is None else argv)
    flags = [a for a in args if a in ("-v", "--verbose")]
    return cli.main([*flags, "sweep", *(a for a in args if a not in flags)])


if __name__ == "__main__":
    # Run the imported module's main so that pickled objects name contour_fem.sweep, not __main__.
    from contour_fem.sweep import main as _main

    sys.exit(_main())
