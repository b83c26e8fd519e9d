"""Exception types shared by every layer.

``InputError`` is for bad user input (it subclasses ``ValueError`` so generic callers can catch
it); its message is one line that names the offending field, file or option and the allowed
range. The command line turns every :class:`ContourFemError` into that line and exit status 2.
"""

from __future__ import annotations


class ContourFemError(Exception):
    """Base class of every error raised on purpose by contour_fem."""


class InputError(ContourFemError, ValueError):
    """Bad user input: an invalid parameter, configuration key, value, file or option."""


class OutputError(InputError):
    """An output location that cannot or must not be written (checked before any work)."""


class MeshError(ContourFemError):
    """Meshing failed (gmsh error, inverted cells, missing physical groups)."""


class ConvergenceError(ContourFemError):
    """A solver did not converge; ``history`` holds what it did before giving up."""

    def __init__(self, message: str, history: list | None = None):
        super().__init__(message)
        self.history = list(history or [])

    def __reduce__(self):
        # Keep the history when the error is broadcast to other ranks (pickled).
        return (type(self), (str(self), self.history))


def one_line(text: object) -> str:
    """A message as one line: its non-empty lines joined by `` | ``."""
    lines = [s.strip() for s in str(text).splitlines() if s.strip()]
    return " | ".join(lines) if lines else "(no message)"
