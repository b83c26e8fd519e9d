"""The on-disk case store of a sweep: one folder per case, claims, staging, the lock, the table.

Layout of ``OUT``:

- ``cases/<hash>/``: one finished case (``hash`` = :func:`contour_fem.config.config_hash` of the
  resolved case; for a case that does not resolve, a hash of its unresolved table). A solved
  case holds the files of :mod:`contour_fem.io.results` and ``case.json`` (name, overrides,
  which group and world ranks solved it, whether the mesh came from the group's cache); a failed
  one holds ``failure.json`` (``reason`` in one line, ``type``, ``history`` of a
  :class:`ConvergenceError`, ``config`` and, for unexpected exceptions, ``traceback``).
- ``results.csv``: one row per case of the whole sweep (``status`` ok, failed or pending);
  ``sweep.json`` the sweep file, versions, ranks, groups and timing of the latest invocation,
  ``invocations/<run_id>.json`` every invocation's record.
- ``.staging/<run_id>/<hash>/``: a case being written; renamed to ``cases/<hash>/`` only when
  complete, so a killed sweep leaves no partial case under ``cases/``.
- ``.claims/<run_id>/<hash>``: which group took a case (``O_CREAT | O_EXCL``).
- ``.lock`` (and ``.lock-task-I-of-M``): held while an invocation runs (``flock``, released by
  the kernel when the process dies, so a killed run never leaves it stuck).

A case counts as finished only when its ``result.json`` is complete and says converged
(:func:`contour_fem.io.results.is_complete`); anything else is computed again.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contour_fem.core.errors import OutputError
from contour_fem.io.files import write_csv, write_json
from contour_fem.io.readers import is_complete

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


def now() -> str:
    """The time in UTC, ISO format, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_json(file: Path) -> dict | None:
    """A JSON object from ``file``, or None if it is missing or unreadable."""
    try:
        with Path(file).open(encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class InvocationLock:
    """One sweep invocation per output folder at a time; job-array tasks share the folder.

    A plain invocation takes ``OUT/.lock`` exclusively; a task of a job array takes it shared
    plus its own ``OUT/.lock-task-I-of-M`` exclusively, so different tasks run together but a
    task never runs twice at once, and a plain invocation never runs beside any task.
    """

    def __init__(self, out: Path, task_index: int, task_count: int):
        self.out = Path(out)
        self.task = (task_index, task_count)
        self._files: list = []

    def acquire(self) -> None:
        """Take the lock (rank 0); raise :class:`OutputError` if another invocation holds it."""
        index, count = self.task
        wanted = [(self.out / ".lock", fcntl.LOCK_EX if count == 1 else fcntl.LOCK_SH)]
        if count > 1:
            wanted.append((self.out / f".lock-task-{index}-of-{count}", fcntl.LOCK_EX))
        try:
            for path, mode in wanted:
                fh = path.open("a+")
                self._files.append(fh)
                try:
                    fcntl.flock(fh, mode | fcntl.LOCK_NB)
                except BlockingIOError:
                    fh.seek(0)
                    holder = fh.read().strip() or "another process"
                    raise OutputError(
                        f"--out {self.out}: another sweep invocation is running there "
                        f"({holder}); wait for it, or use another folder") from None
                if mode == fcntl.LOCK_EX:
                    fh.seek(0)
                    fh.truncate()
                    fh.write(f"pid {os.getpid()} on {os.uname().nodename} since {now()}\n")
                    fh.flush()
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Release the lock (closing the files releases flock)."""
        for fh in self._files:
            fh.close()
        self._files = []


class CaseStore:
    """The case folders of one sweep output folder, for one invocation (``run_id``)."""

    def __init__(self, out: Path, run_id: str = ""):
        self.out = Path(out)
        self.run_id = run_id

    def folder(self, digest: str) -> Path:
        """Where a case's files end up."""
        return self.out / "cases" / digest

    def stage(self, digest: str) -> Path:
        """Where a case is written while it runs."""
        return self.out / ".staging" / self.run_id / digest

    def status(self, digest: str) -> str | None:
        """``"ok"`` (a complete, converged result), ``"failed"`` (a failure record) or None."""
        folder = self.folder(digest)
        if is_complete(read_json(folder / "result.json")):
            return "ok"
        if read_json(folder / "failure.json") is not None:
            return "failed"
        return None

    def result(self, digest: str) -> dict | None:
        """The case's ``result.json`` if the case finished, else None."""
        record = read_json(self.folder(digest) / "result.json")
        return record if is_complete(record) else None

    def failure(self, digest: str) -> dict | None:
        """The case's ``failure.json``, or None."""
        return read_json(self.folder(digest) / "failure.json")

    def begin(self) -> None:
        """Create this invocation's claim and staging folders (rank 0)."""
        (self.out / "cases").mkdir(parents=True, exist_ok=True)
        (self.out / ".claims" / self.run_id).mkdir(parents=True)
        (self.out / ".staging" / self.run_id).mkdir(parents=True)

    def claim(self, digest: str, note: str) -> bool:
        """Atomically claim a case for one group (False if taken); prepares its stage."""
        folder = self.out / ".claims" / self.run_id
        folder.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(folder / digest, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as fh:
            fh.write(note + "\n")
        stage = self.stage(digest)
        if stage.exists():
            shutil.rmtree(stage)
        stage.mkdir(parents=True)
        return True

    def finalize(self, digest: str, record: dict) -> None:
        """Move a complete staging folder to ``cases/<hash>`` (atomic rename)."""
        stage = self.stage(digest)
        write_json(stage / "case.json", record)
        final = self.folder(digest)
        old = stage.with_name(stage.name + ".old")
        if final.exists():  # an earlier failure (retry) or leftovers: move it aside first
            if old.exists():
                shutil.rmtree(old)
            os.rename(final, old)
        os.rename(stage, final)
        shutil.rmtree(old, ignore_errors=True)

    def discard(self, digest: str) -> None:
        """Remove a case's staging folder."""
        shutil.rmtree(self.stage(digest), ignore_errors=True)

    def write_failure(self, digest: str, record: dict) -> None:
        """Record a failed case."""
        folder = self.folder(digest)
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "failure.json", record)

    def clean_leftovers(self, digests: set[str], everything: bool) -> int:
        """Remove staging folders and claims that earlier (killed) runs left behind.

        With ``everything`` false (a task of a job array) only entries of ``digests`` go, so
        sibling tasks running at the same time keep theirs.
        """
        removed = 0
        for kind in (".staging", ".claims"):
            root = self.out / kind
            if not root.is_dir():
                continue
            for run_dir in root.iterdir():
                if run_dir.name == self.run_id or not run_dir.is_dir():
                    continue
                for entry in run_dir.iterdir():
                    if everything or entry.name.split(".")[0] in digests:
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

    def end(self) -> None:
        """Remove this invocation's claim and staging folders."""
        for kind in (".claims", ".staging"):
            shutil.rmtree(self.out / kind / self.run_id, ignore_errors=True)
            try:
                (self.out / kind).rmdir()
            except OSError:
                pass

    def rows(self, sweep) -> tuple[list[str], list[dict[str, Any]]]:
        """Header and rows of ``results.csv``: every case of ``sweep``."""
        header = ["name", "hash", "status", *sweep.keys, *RESULT_COLUMNS, "failure_type",
                  "reason"]
        rows = []
        for case in sweep.cases:
            row: dict[str, Any] = {"name": case.name, "hash": case.hash}
            for key in sweep.keys:
                if case.config is not None:
                    section, name = key.split(".", 1)
                    row[key] = case.config[section].get(name)
                else:
                    row[key] = case.overrides.get(key)
            result = self.result(case.hash)
            failure = None if result is not None else self.failure(case.hash)
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
                    row.update(topography=geo["topography"], height_um=geo.get("height_um"),
                               separation_um=geo["separation_um"])
                if failure is not None:
                    row["failure_type"] = failure.get("type")
                    row["reason"] = failure.get("reason")
            rows.append(row)
        return header, rows

    def write_table(self, sweep) -> dict[str, int]:
        """Write ``results.csv`` atomically; returns the number of rows per status."""
        header, rows = self.rows(sweep)
        write_csv(self.out / "results.csv", header, rows)
        tally = {"ok": 0, "failed": 0, "pending": 0}
        for row in rows:
            tally[row["status"]] += 1
        return tally
