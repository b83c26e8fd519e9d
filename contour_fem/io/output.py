"""The output-folder rule: contour-fem never deletes or overwrites what it did not write.

Every folder the tool writes holds a marker, ``.contour-fem.json``, naming the command that wrote
it and listing the entries it wrote. An output folder given with ``--out`` (or the default one)
must be

- new, or an empty folder: it is created (written in a hidden staging folder beside it and
  renamed into place only when the command succeeded, so a failed run leaves nothing behind);
- for ``mesh``, ``solve`` and ``convergence``: an earlier output of the *same* command, and
  only with ``--overwrite``, and only if it holds nothing but the entries its marker lists
  (a file a user added there makes the folder theirs: it is refused);
- for ``sweep`` and ``benchmark``: an earlier output of the same command, which is resumed.

Anything else is refused before any work: a file, a folder with files the tool did not write,
another command's output, the working folder or one of its parents, and the folder of an input
file or one of its parents. Every check runs on rank 0 and its outcome is raised on every rank.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from mpi4py import MPI

from contour_fem.core.errors import OutputError
from contour_fem.core.parallel import on_root
from contour_fem.core.provenance import package_version
from contour_fem.io.files import write_json

MARKER = ".contour-fem.json"
#: Commands whose output folder is a store that a rerun resumes.
RESUMABLE = ("sweep", "benchmark")


def read_marker(folder: Path) -> dict | None:
    """The marker of a folder the tool wrote, or None."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "verb" in data else None


def _forbidden(out: Path, inputs: Iterable[Path]) -> str | None:
    """Why ``out`` must never be an output folder, or None."""
    cwd = Path.cwd().resolve()
    if out == cwd or out in cwd.parents:
        return "is the working folder or one of its parents"
    if out == Path(out.anchor) or out == Path.home().resolve():
        return "is the file-system root or the home folder"
    for item in inputs:
        folder = Path(item).resolve().parent
        if out == folder or out in folder.parents:
            return f"holds the input file {item}"
    return None


def check_output(out: Path | str, verb: str, *, inputs: Iterable[Path | str] = (),
                 overwrite: bool = False, option: str = "--out") -> str:
    """Decide what may be done with ``out``; raise :class:`OutputError` if nothing.

    Args:
        out: The output folder.
        verb: The command writing it (``solve``, ``sweep``…).
        inputs: Input files (their folders must not be replaced).
        overwrite: Replace an earlier output of the same command.
        option: The option that named ``out``, for the message.

    Returns:
        ``"new"`` (create it), ``"replace"`` (replace an earlier output of ``verb``) or
        ``"resume"`` (a sweep store of ``verb``).

    """
    path = Path(out)
    if str(out).strip() == "":
        raise OutputError(f"{option}: the path is empty")
    resolved = path.resolve()
    why = _forbidden(resolved, [Path(i) for i in inputs])
    if why:
        raise OutputError(f"{option} {path} {why}; choose a new folder")
    for parent in resolved.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{option} {path}: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK) and not path.exists():
                raise OutputError(f"{option} {path}: cannot write in {parent} (permission "
                                  "denied)")
            break
    if not path.exists():
        return "new"
    if not path.is_dir():
        raise OutputError(f"{option} {path} exists and is a file, not a folder")
    # Temporary files of an atomic write of the marker (another job-array task creating the
    # same store at this moment) are the tool's own.
    entries = sorted(p.name for p in path.iterdir() if not p.name.startswith(f".{MARKER}."))
    if not entries:
        return "new"
    marker = read_marker(path)
    if marker is None:
        raise OutputError(f"{option} {path} holds files that contour-fem did not write "
                          f"(e.g. {entries[0]}); choose a new or empty folder")
    if marker["verb"] != verb:
        raise OutputError(f"{option} {path} holds the output of 'contour-fem {marker['verb']}'; "
                          f"choose another folder for '{verb}'")
    if verb in RESUMABLE:
        return "resume"
    if not overwrite:
        raise OutputError(f"{option} {path} holds an earlier '{verb}' output; pass --overwrite "
                          "to replace it, or choose another folder")
    ours = set(marker.get("entries", [])) | {MARKER}
    foreign = [e for e in entries if e not in ours]
    if foreign:
        raise OutputError(f"{option} {path} holds {foreign[0]}, which contour-fem did not "
                          "write; it is not replaced (move that file, or choose another folder)")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {path}: cannot write in {path.parent} (permission denied)")
    return "replace"


def write_marker(folder: Path, verb: str, entries: Iterable[str] | None = None) -> None:
    """Mark ``folder`` as written by ``verb``, listing ``entries`` (default: what is in it)."""
    folder = Path(folder)
    names = sorted(entries if entries is not None else
                   (p.name for p in folder.iterdir() if p.name != MARKER))
    write_json(folder / MARKER, {"verb": verb, "contour_fem": package_version(),
                                 "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                 "entries": names})


def _create_marker(folder: Path, verb: str) -> None:
    """Create a store's marker unless another process just did (job-array tasks start together).

    The marker is written to a temporary file and hard-linked into place: it appears complete
    or not at all, and only the first of two racing processes creates it.
    """
    # Written directly, not through write_json: its own temporary file would be named
    # "..{tmp.name}.*", which check_output in a racing task would take for a user's file.
    tmp = folder / f".{MARKER}.{uuid.uuid4().hex[:8]}.tmp"
    record = {"verb": verb, "contour_fem": package_version(),
              "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "entries": []}
    try:
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        os.link(tmp, folder / MARKER)
    except FileExistsError:
        marker = read_marker(folder)
        if marker is None or marker["verb"] != verb:
            raise OutputError(f"--out {folder} was just claimed by another command") from None
    finally:
        tmp.unlink(missing_ok=True)


def _stage(out: Path, verb: str, inputs, overwrite: bool, option: str) -> tuple[str, Path, list]:
    """Rank 0: check ``out`` and create the staging folder beside it."""
    mode = check_output(out, verb, inputs=inputs, overwrite=overwrite, option=option)
    created = [p for p in reversed(out.resolve().parents) if not p.exists()]
    stage = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        stage.mkdir(parents=True)
    except OSError as exc:
        raise OutputError(f"{option} {out}: cannot create it ({exc.strerror or exc})") from None
    return mode, stage, created


def _finish(out: Path, stage: Path, verb: str, mode: str) -> None:
    """Rank 0: mark the staged folder and move it into place."""
    write_marker(stage, verb)
    if mode == "replace":
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(out, old)
        os.rename(stage, out)
        shutil.rmtree(old, ignore_errors=True)  # only entries the tool wrote (checked before)
    else:
        if out.exists():
            out.rmdir()  # an empty folder (checked before)
        os.rename(stage, out)


def _discard(stage: Path, created: list[Path]) -> None:
    """Rank 0: remove the staging folder and the parents this run created (if empty)."""
    shutil.rmtree(stage, ignore_errors=True)
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            break


@contextlib.contextmanager
def staged_output(out: Path | str, comm: MPI.Comm, verb: str, *,
                  inputs: Iterable[Path | str] = (), overwrite: bool = False,
                  option: str = "--out") -> Iterator[Path]:
    """Check ``out`` before any work and yield a staging folder that replaces it on success.

    Collective: every rank gets the same staging path, or the same :class:`OutputError`. On
    success the staging folder is marked and renamed to ``out``; if the body raises on any
    rank, it is removed and nothing is left behind.
    """
    out = Path(out)
    inputs = [Path(i) for i in inputs]
    mode, stage, created = on_root(comm, _stage, out, verb, inputs, overwrite, option)
    ok = False
    try:
        yield stage
        ok = True
    finally:
        ok = comm.allreduce(ok, op=MPI.LAND)
        if ok:
            on_root(comm, _finish, out, stage, verb, mode)
        else:
            on_root(comm, _discard, stage, created)


def open_store(out: Path | str, comm: MPI.Comm, verb: str, *, inputs: Iterable[Path | str] = (),
               option: str = "--out") -> str:
    """Check or create the output folder of a resumable command (collective).

    Returns:
        ``"new"`` or ``"resume"``.

    Raises:
        OutputError: On every rank, for a folder that must not be written.

    """
    out = Path(out)
    inputs = [Path(i) for i in inputs]

    def prepare() -> str:
        mode = check_output(out, verb, inputs=inputs, option=option)
        try:
            out.mkdir(parents=True, exist_ok=True)
            if mode == "new":
                _create_marker(out, verb)
        except OSError as exc:
            raise OutputError(f"{option} {out}: cannot create it ({exc.strerror or exc})"
                              ) from None
        return mode

    return on_root(comm, prepare)
