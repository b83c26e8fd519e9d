"""Logging of the command line (the only place in the package that installs handlers)."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from mpi4py import MPI

from contour_fem.core.logs import RankFilter


def setup_logging(comm: MPI.Comm, verbose: int, quiet: bool, all_ranks: bool) -> None:
    """Log to stderr from rank 0 (and speaking ranks, or every rank with ``--log-all-ranks``)."""
    root = logging.getLogger("contour_fem")
    root.handlers.clear()
    root.propagate = False
    level = logging.WARNING if quiet else logging.DEBUG if verbose > 0 else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RankFilter(comm.rank, all_ranks))
    handler.setFormatter(logging.Formatter("%(who)s%(asctime)s %(message)s", "%H:%M:%S"))
    handler.setLevel(level)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)  # the handlers choose; the log file records debug too


@contextlib.contextmanager
def log_file(path: Path, comm: MPI.Comm) -> Iterator[None]:
    """Also log (at debug level) to ``path`` on rank 0 while the block runs."""
    root = logging.getLogger("contour_fem")
    handler = None
    if comm.rank == 0:
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.addFilter(RankFilter(0, False))
        handler.setFormatter(logging.Formatter("%(who)s%(asctime)s %(name)s %(message)s"))
        root.addHandler(handler)
    try:
        yield
    finally:
        if handler is not None:
            root.removeHandler(handler)
            handler.close()
