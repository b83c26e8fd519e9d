"""MPI helpers: run a job on one rank and make every rank see its outcome.

The pattern of ``dolfinx.io.gmsh``: rank 0 does the job, its result *or its error* is broadcast,
and every rank returns the same result or raises the same error. No rank is ever left waiting in
a collective that another rank skipped because it raised.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

from mpi4py import MPI

from contour_fem.core.errors import ContourFemError, InputError


class RemoteError(ContourFemError):
    """An error on another rank whose exception object could not be sent (not picklable)."""


def _sendable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a :class:`RemoteError` with its message."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RemoteError(f"{type(exc).__name__}: {exc}")
    return exc


def on_root[T](comm: MPI.Comm, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` on rank 0 of ``comm`` and broadcast its result or its error.

    ``fn`` must not call collectives of ``comm`` (only rank 0 runs it). Every rank returns the
    result; if ``fn`` raised, every rank raises an exception of the same type and message
    (rank 0 re-raises the original one, with its traceback).

    Args:
        comm: Communicator whose ranks all call this together.
        fn: The job.
        *args: Positional arguments of ``fn``.
        **kwargs: Keyword arguments of ``fn``.

    Returns:
        What ``fn`` returned on rank 0.

    """
    result, error, original = None, None, None
    if comm.rank == 0:
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            original, error = exc, _sendable(exc)
            result = None
    if comm.size > 1:
        result, error = comm.bcast((result, error), root=0)
    if original is not None:
        raise original
    if error is not None:
        raise error
    return result


def raise_if_any(comm: MPI.Comm, error: BaseException | str | None,
                 kind: type[Exception] = InputError) -> None:
    """Collective: raise on every rank if ``error`` is set on any rank (the lowest rank's error).

    For work that every rank does (e.g. writing its part of a file, checking its part of a
    mesh): a failure on one rank becomes the same error everywhere, so no rank proceeds to a
    collective alone.

    Args:
        comm: Communicator whose ranks all call this together.
        error: This rank's exception, or a message for an exception of type ``kind``, or None.
        kind: Exception type of a message.
    """
    if isinstance(error, str):
        error = kind(error)
    sendable = None if error is None else _sendable(error)
    errors = comm.allgather(sendable) if comm.size > 1 else [sendable]
    first = next((e for e in errors if e is not None), None)
    if first is None:
        return
    if error is not None:
        raise error
    raise first
