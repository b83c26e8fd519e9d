"""Exception types shared by every layer.

``InputError`` is for bad user input (it subclasses ``ValueError`` so generic callers can catch
it); its message is one line that names the offending field and the allowed range.
"""


class ContourFemError(Exception):
    """Base class of every error raised on purpose by contour_fem."""


class InputError(ContourFemError, ValueError):
    """Bad user input: an invalid parameter, configuration key or value."""


class MeshError(ContourFemError):
    """Meshing failed (gmsh error, inverted cells, missing physical groups)."""


class ConvergenceError(ContourFemError):
    """A solver did not converge; ``history`` holds what it did before giving up."""

    def __init__(self, message: str, history: list | None = None):
        super().__init__(message)
        self.history = list(history or [])


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    """Return ``value`` as float if it is finite and positive, else raise :class:`InputError`.

    Args:
        name: Field name used in the message.
        value: Value to check.
        allow_zero: Accept zero as well.

    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    bound = "≥ 0" if allow_zero else "> 0"
    if v != v or v in (float("inf"), float("-inf")):
        raise InputError(f"{name} must be finite and {bound}, got {value!r}")
    if v < 0 or (v == 0 and not allow_zero):
        raise InputError(f"{name} must be {bound}, got {value!r}")
    return v


def check_range(name: str, value: float, lo: float, hi: float, *, unit: str = "") -> float:
    """Return ``value`` if it is finite and in [lo, hi], else raise :class:`InputError`."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not (lo <= v <= hi):
        u = f" {unit}" if unit else ""
        raise InputError(f"{name} must be in [{lo:g}, {hi:g}]{u}, got {value!r}")
    return v
