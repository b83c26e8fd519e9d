"""Running a sweep: MPI case groups over the case store, restartable (:func:`run_sweep`).

``ranks_per_case = k`` splits the world communicator into ``size / k`` groups of ``k`` ranks
(``comm.Split(color=rank // k)``). Groups take cases dynamically: a group's leader claims the
next case in the store (:meth:`CaseStore.claim`) and broadcasts the outcome to its group, so long
and short cases balance. Cases that can share creep solutions (one mesh and creep setting:
:func:`~.schedule.blocks`) are one group's: the group that claims the first of them claims the
rest as it goes, and the others skip them. ``task_index = i, task_count = m`` (Slurm job
arrays) first restricts the sweep to the cases whose position in the hash-sorted case list is
``i`` modulo ``m``; the tasks may run at the same time in the same ``OUT``
(:class:`InvocationLock`). Each group keeps up to
:data:`MESH_CACHE_SIZE` meshes in memory, keyed by :func:`contour_fem.config.mesh_key`, so cases
that differ only in physics reuse their mesh. Before the groups start, world rank 0 compiles the
forms once (a tiny flat coarse variant of the first case, on ``MPI.COMM_SELF``) so that the groups
find the FFCx cache warm instead of racing to compile the same forms.

A rerun skips finished cases and recorded failures (``retry_failed`` reruns the failures) and
removes the staging folders and claims that killed runs left behind. Failures of cases are
results of the sweep (``failure.json``, ``results.csv``); errors of the sweep itself (malformed
sweep file, bad options, an output folder that must not be written, no case that resolves) raise
:class:`InputError` on every rank before anything is written.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import logging
import math
import os
import time
import traceback
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpi4py import MPI

from petsc4py import PETSc

from contour_fem import config
from contour_fem.case import creep_problem, run_case
from contour_fem.core.errors import (
    ContourFemError,
    ConvergenceError,
    InputError,
    OutputError,
    one_line,
)
from contour_fem.core.logs import speaking
from contour_fem.core.parallel import on_root
from contour_fem.core.provenance import platform_info, versions
from contour_fem.io.files import write_json
from contour_fem.io.output import open_store
from contour_fem.io.results import write_case_result
from contour_fem.mesh import create_cell_mesh
from contour_fem.studies.sweep.grammar import Sweep, SweepCase, load_sweep, task_slice
from contour_fem.studies.sweep.schedule import Handover, blocks, data_count, problem_key
from contour_fem.studies.sweep.store import CaseStore, InvocationLock, now

log = logging.getLogger(__name__)

#: Meshes each group keeps in memory (least recently used ones are dropped).
MESH_CACHE_SIZE = 4


@dataclass
class Invocation:
    """One run of a sweep: what it runs, where, and how."""

    sweep: Sweep
    store: CaseStore
    ranks: int
    ranks_per_case: int
    task: tuple[int, int]
    retry_failed: bool
    todo: list[int] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=lambda: {"ok": 0, "failed": 0})
    task_cases: int = 0
    started: str = field(default_factory=now)
    t_start: float = field(default_factory=time.perf_counter)

    @property
    def groups(self) -> int:
        """Number of case groups."""
        return self.ranks // self.ranks_per_case


def _describe(exc: BaseException) -> dict:
    out = {"type": type(exc).__name__, "reason": one_line(exc) or type(exc).__name__,
           "history": list(exc.history) if isinstance(exc, ConvergenceError) else []}
    if not isinstance(exc, ContourFemError):
        out["traceback"] = "".join(traceback.format_exception(exc))
    return out


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


def _collect_garbage(group: MPI.Comm) -> None:
    """Free PETSc objects of the finished case together on every rank of the group."""
    gc.collect()
    PETSc.garbage_cleanup(group)


class _Group:
    """The per-rank state of one case group in one invocation."""

    def __init__(self, inv: Invocation, world: MPI.Comm):
        self.inv = inv
        self.store = inv.store
        self.world = world
        self.group_id = world.rank // inv.ranks_per_case
        self.comm = world.Split(color=self.group_id, key=world.rank)
        self.world_ranks = self.comm.allgather(world.rank)
        self.leader = self.comm.rank == 0
        self.meshes = _MeshCache(MESH_CACHE_SIZE)
        # Creep solutions of finished cases that later cases start from (:mod:`.schedule`).
        self.handover = Handover(4 * MESH_CACHE_SIZE)
        # The creep problem of the block being run (one: its factors can take a gigabyte).
        self.problem: tuple[tuple, Any, Any] | None = None  # (problem key, mesh, problem)
        self.solved: list[dict] = []

    def claim(self, case: SweepCase) -> bool:
        """Collective on the group: whether this group takes ``case``."""
        note = f"group {self.group_id} world ranks {self.world_ranks} {now()}"
        return on_root(self.comm, self.store.claim, case.hash, note)

    def run(self, case: SweepCase) -> str:
        """Solve one claimed case on the group (collective); returns "ok" or "failed"."""
        # Group leaders log their cases too (world rank 0 never sees the other groups' cases).
        role = f"group {self.group_id}" if self.leader and self.inv.groups > 1 else None
        with speaking(role) if role else contextlib.nullcontext():
            return self._run(case)

    def _run(self, case: SweepCase) -> str:
        started, t0 = now(), time.perf_counter()
        stage = self.store.stage(case.hash)
        error, reused = None, False
        try:
            if case.error is not None:
                raise InputError(case.error[1])
            built = config.build_case(case.config)
            key = config.mesh_key(case.config)
            mesh = self.meshes.get(key)
            reused = mesh is not None
            if mesh is None:
                mesh = create_cell_mesh(self.comm, built.topography, built.cell)
                self.meshes.put(key, mesh)
            result = run_case(built, self.comm, mesh=mesh,
                              start=self.handover.start(case.config, mesh),
                              problem=self._problem(case.config, built, mesh))
            self.handover.record(case.config, mesh, result.creep)
            output = case.config["output"]
            write_case_result(result, stage, config=case.config, fields=output["fields"],
                              coordinates=output["coordinates"])
            del result
        except Exception as exc:
            error = _describe(exc)
            log.debug("case %s failed on world rank %d: %s", case.name, self.world.rank,
                      error["reason"])
        # Every rank learns whether any rank failed; the leader keeps the first report.
        errors = self.comm.allgather(error)
        error = next((e for e in errors if e is not None), None)
        if error is not None:
            self._drop_problem()  # a failed solve leaves nothing to reuse
        _collect_garbage(self.comm)
        elapsed = time.perf_counter() - t0
        if self.leader:
            error = self._record(case, error, reused, started, elapsed)
        status = "failed" if self.comm.bcast(error is not None, root=0) else "ok"
        if self.leader:
            self.solved.append({"hash": case.hash, "name": case.name, "status": status,
                                "wall_time_s": elapsed})
        return status

    def _record(self, case, error, reused, started, elapsed) -> dict | None:
        """Leader: move the case into place or record its failure (never raises)."""
        task_index, task_count = self.inv.task
        record = {
            "name": case.name, "hash": case.hash, "overrides": case.overrides,
            "group": self.group_id, "group_size": self.comm.size,
            "world_ranks": self.world_ranks, "host": os.uname().nodename,
            "run_id": self.store.run_id, "task": {"index": task_index, "count": task_count},
            "mesh_reused": reused, "started": started, "finished": now(),
            "wall_time_s": elapsed,
        }
        if error is None:
            try:
                self.store.finalize(case.hash, record)
                log.info("%s done in %.1f s (group %d)", case.name, elapsed, self.group_id)
                return None
            except OSError as exc:
                error = _describe(exc)
        self.store.discard(case.hash)
        try:
            self.store.write_failure(case.hash, {
                "name": case.name, "hash": case.hash, "status": "failed", **error,
                "config": case.config if case.config is not None else case.user,
                "sweep": record})
        except OSError as exc:  # local to the leader: never leave the group behind
            log.error("%s: cannot write failure.json: %s", case.name, exc)
        log.warning("%s failed (%s): %s", case.name, error["type"], error["reason"])
        return error

    def _problem(self, cfg: dict, built, mesh):
        """The creep problem for this case: the block's, or a new one (collective)."""
        key = problem_key(cfg)
        if self.problem is None or self.problem[0] != key or self.problem[1] is not mesh:
            self._drop_problem()
            self.problem = (key, mesh, creep_problem(built, mesh))
        return self.problem[2]

    def _drop_problem(self) -> None:
        if self.problem is not None:
            self.problem[2].destroy()
            self.problem = None

    def free(self) -> None:
        self._drop_problem()
        self.meshes.clear()
        self.handover.clear()
        _collect_garbage(self.comm)
        self.comm.Free()


def _warm_jit(case: SweepCase) -> dict:
    """Compile the forms of ``case`` on a tiny flat coarse cell, serially (world rank 0 only)."""
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
        run_case(config.build_case(config.resolve(user)), MPI.COMM_SELF)
        _collect_garbage(MPI.COMM_SELF)
    except Exception as exc:
        return {"ran": True, "ok": False, "seconds": time.perf_counter() - t0,
                "message": one_line(f"{type(exc).__name__}: {exc}")}
    return {"ran": True, "ok": True, "seconds": time.perf_counter() - t0, "message": ""}


def _prepare(inv: Invocation, lock: InvocationLock, resumed: str) -> Invocation:
    """World rank 0, before any case runs: lock, clean leftovers, decide what to run."""
    lock.acquire()
    store, sweep = inv.store, inv.sweep
    mine = task_slice(sweep.cases, *inv.task)
    try:
        store.begin()
        removed = store.clean_leftovers({c.hash for c in mine}, inv.task[1] == 1)
    except OSError as exc:
        lock.release()
        raise OutputError(f"--out {store.out}: {exc}") from None
    if removed:
        log.info("removed %d leftover staging folders and claims of earlier runs", removed)
    for case in mine:
        status = store.status(case.hash)
        if status == "ok" or (status == "failed" and not inv.retry_failed):
            inv.skipped[status] += 1
        else:
            inv.todo.append(case.index)
    inv.task_cases = len(mine)
    if sweep.duplicates:
        log.warning("%d cases are identical to earlier ones and run once: %s",
                    len(sweep.duplicates), ", ".join(sweep.duplicates[:5]))
    log.info("sweep %s (%s folder): %d cases, %d in this task, %d to run, %d finished and %d "
             "failed before; %d groups of %d ranks -> %s", sweep.name, resumed,
             len(sweep.cases), len(mine), len(inv.todo), inv.skipped["ok"],
             inv.skipped["failed"], inv.groups, inv.ranks_per_case, store.out)
    return inv


def _check_sweep(sweep: Sweep) -> None:
    """A sweep none of whose cases resolves is an error of the sweep, not a result."""
    if sweep.cases and all(c.error is not None for c in sweep.cases):
        raise InputError(f"sweep {sweep.name}: no case is valid; the first says: "
                         f"{sweep.cases[0].error[1]}")


def _options(comm: MPI.Comm, ranks_per_case: int, task_index: int, task_count: int) -> None:
    if not isinstance(ranks_per_case, int) or ranks_per_case < 1:
        raise InputError(f"--ranks-per-case must be a positive integer, got {ranks_per_case}")
    if comm.size % ranks_per_case:
        raise InputError(f"--ranks-per-case {ranks_per_case} does not divide the {comm.size} "
                         "MPI ranks")
    if task_count < 1 or not 0 <= task_index < task_count:
        raise InputError(f"--task-index must be in [0, --task-count), got {task_index} of "
                         f"{task_count}")


def run_sweep(source: str | Path | dict, out: str | Path, comm: MPI.Comm, *,
              ranks_per_case: int = 1, task_index: int = 0, task_count: int = 1,
              retry_failed: bool = False, verb: str = "sweep",
              overrides: dict[str, Any] | None = None) -> dict:
    """Run (or resume) a sweep; collective on ``comm``.

    Args:
        source: Sweep TOML file, or its parsed table (relative paths in it then refer to the
            working directory).
        out: Output folder (created; an earlier output of the same command is resumed).
        comm: Communicator of all ranks taking part; split into groups of ``ranks_per_case``.
        ranks_per_case: Ranks that solve one case together; must divide ``comm.size``.
        task_index: This task's index in a job array (0-based).
        task_count: Number of tasks in the job array.
        retry_failed: Rerun cases that have a ``failure.json``.
        verb: The command that owns ``out`` (``sweep``; the benchmark runs its cases as a
            sweep in its own folder).
        overrides: Dotted key → value set in the sweep's base (``--set``).

    Returns:
        Summary, identical on every rank: ``total`` (cases in the sweep), ``task_cases``,
        ``done`` / ``failed`` (processed now), ``skipped`` (finished or failed before),
        ``ok_total`` / ``failed_total`` / ``pending_total`` (whole sweep, from disk),
        ``groups``, ``run_id``, ``wall_time_s``, ``out``, ``results_csv``.

    Raises:
        InputError: On every rank, for a malformed sweep file, bad options or an output
            folder that must not be written (nothing written).

    """
    out = Path(out)
    _options(comm, ranks_per_case, task_index, task_count)
    sweep = on_root(comm, load_sweep, source, overrides=overrides)
    _check_sweep(sweep)
    inputs = [sweep.path] if sweep.path is not None else []
    resumed = open_store(out, comm, verb, inputs=inputs)
    run_id = comm.bcast(f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
                        if comm.rank == 0 else None)
    inv = Invocation(sweep, CaseStore(out, run_id), comm.size, ranks_per_case,
                     (task_index, task_count), retry_failed)
    lock = InvocationLock(out, task_index, task_count)
    inv = on_root(comm, _prepare, inv, lock, resumed)
    try:
        return _run(inv, comm)
    finally:
        if comm.rank == 0:
            lock.release()


def _run(inv: Invocation, comm: MPI.Comm) -> dict:
    todo = [inv.sweep.cases[i] for i in inv.todo]
    warm = {"ran": False, "ok": None, "seconds": 0.0, "message": ""}
    first = next((c for c in todo if c.config is not None), None)
    if inv.groups > 1 and first is not None:
        # One rank compiles the forms first, so groups do not race on the FFCx cache.
        warm = on_root(comm, _warm_jit, first)
        if not warm["ok"]:
            log.warning("JIT warm-up failed (groups will compile themselves): %s",
                        warm["message"])
    group = _Group(inv, comm)
    counts = {"ok": 0, "failed": 0}
    t_cases = time.time()
    fatal = None  # an error of the sweep machinery (not of a case): stop this group cleanly
    try:
        for block in blocks(todo):
            group.handover.reserve(data_count(block))
            mine = False
            for case in block:
                try:
                    claimed = group.claim(case)
                except OSError as exc:
                    fatal = f"cannot claim case {case.hash} in {inv.store.out}: {exc}"
                    break
                if not claimed and not mine:
                    break  # another group took the block's first case: the block is its own
                if claimed:
                    mine = True
                    counts[group.run(case)] += 1
                    if comm.rank == 0:
                        _log_progress(inv, todo, t_cases)
            if fatal:
                break
    finally:
        leader = group.leader
        record = {"group": group.group_id, "world_ranks": group.world_ranks,
                  "cases": group.solved}
        group.free()
    totals = [comm.reduce(counts[k] if leader else 0, op=MPI.SUM, root=0)
              for k in ("ok", "failed")]
    groups = comm.gather(record if leader else None, root=0)
    fatal = comm.allreduce([fatal] if fatal else [], op=MPI.SUM)
    if fatal:
        raise InputError(fatal[0])
    return on_root(comm, _finish, inv, totals, [g for g in groups or [] if g], warm)


def _log_progress(inv: Invocation, todo: list[SweepCase], t_cases: float) -> None:
    """World rank 0: done/total of this invocation, from the files the groups wrote."""
    done = failed = 0
    for case in todo:
        status = inv.store.status(case.hash)
        if status == "ok":
            done += 1
        elif status == "failed":
            try:
                mtime = (inv.store.folder(case.hash) / "failure.json").stat().st_mtime
            except OSError:
                continue
            if mtime >= t_cases - 1.0:
                done += 1
                failed += 1
    elapsed = time.time() - t_cases
    remaining = elapsed / done * (len(todo) - done) if done else math.nan
    log.info("progress: %d/%d cases (%d failed), %.0f s elapsed, ~%.0f s remaining",
             done, len(todo), failed, elapsed, remaining)


def _finish(inv: Invocation, totals: list[int], groups: list[dict], warm: dict) -> dict:
    """World rank 0: the results table and the invocation records."""
    sweep, store = inv.sweep, inv.store
    try:
        tally = store.write_table(sweep)
        wall = time.perf_counter() - inv.t_start
        skipped = inv.skipped["ok"] + inv.skipped["failed"]
        summary = {
            "name": sweep.name, "out": str(store.out),
            "results_csv": str(store.out / "results.csv"), "run_id": store.run_id,
            "total": len(sweep.cases), "task_cases": inv.task_cases,
            "done": totals[0], "failed": totals[1], "skipped": skipped,
            "skipped_ok": inv.skipped["ok"], "skipped_failed": inv.skipped["failed"],
            "ok_total": tally["ok"], "failed_total": tally["failed"],
            "pending_total": tally["pending"], "groups": inv.groups, "wall_time_s": wall,
        }
        record = {
            "name": sweep.name,
            "sweep_file": None if sweep.path is None else str(sweep.path.resolve()),
            "sweep": sweep.source, "sweep_text": sweep.text,
            "cases": [{"name": c.name, "hash": c.hash, "overrides": c.overrides,
                       "error": None if c.error is None else c.error[1]} for c in sweep.cases],
            "summary": summary, "ranks": inv.ranks, "ranks_per_case": inv.ranks_per_case,
            "task": {"index": inv.task[0], "count": inv.task[1]},
            "retry_failed": inv.retry_failed,
            "groups": sorted(groups, key=lambda g: g["group"]), "jit_warmup": warm,
            "timing": {"started": inv.started, "finished": now(), "wall_time_s": wall},
            "platform": platform_info(inv.ranks), "versions": versions(),
        }
        write_json(store.out / "sweep.json", record)
        # sweep.json describes the latest invocation; every invocation keeps its own record.
        write_json(store.out / "invocations" / f"{store.run_id}.json", record)
        store.end()
    except OSError as exc:
        raise InputError(f"cannot write the sweep summary in {store.out}: {exc}") from None
    log.info("sweep %s: %d done, %d failed, %d skipped in %.1f s; whole sweep: %d ok, "
             "%d failed, %d pending -> %s", sweep.name, summary["done"], summary["failed"],
             skipped, wall, tally["ok"], tally["failed"], tally["pending"],
             store.out / "results.csv")
    return summary
