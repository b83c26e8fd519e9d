"""A user's surface given as a function h(x, y) (numpy only, SI units)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from contour_fem.core.errors import InputError
from contour_fem.geometry.topography import MAX_PERIOD, MIN_PERIOD, Topography


@dataclass(frozen=True)
class HeightFunction(Topography):
    """A user surface h(x, y) of period S (vectorised numpy callable, metres in and out).

    ``gradient`` may be given; otherwise central differences with step S·1e-6 are used. Mirror
    symmetry (and so the quarter cell) is checked numerically.
    """

    kind: ClassVar[str] = "function"
    func: Callable[[np.ndarray, np.ndarray], np.ndarray]
    period: float
    grad: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None
    name: str = "user"
    invert: bool = False
    height: float = field(init=False)

    def __post_init__(self):
        if not (isinstance(self.period, int | float) and MIN_PERIOD <= self.period <= MAX_PERIOD):
            raise InputError(f"period must be in [{MIN_PERIOD:g}, {MAX_PERIOD:g}] m, "
                             f"got {self.period!r}")
        if not callable(self.func):
            raise InputError("func must be a callable h(x, y)")
        xs = np.linspace(-0.5, 0.5, 129) * self.period
        x, y = np.meshgrid(xs, xs, indexing="ij")
        z = np.asarray(self.func(x, y), dtype=float)
        if z.shape != x.shape or not np.all(np.isfinite(z)):
            raise InputError("func must return finite heights with the shape of its inputs")
        if not np.allclose(z[0, :], z[-1, :], atol=1e-9 * self.period) or not np.allclose(
            z[:, 0], z[:, -1], atol=1e-9 * self.period
        ):
            raise InputError("func must be periodic with the given period in x and y")
        object.__setattr__(self, "height", float(z.max() - z.min()))
        object.__setattr__(self, "_zmin", float(z.min()))
        object.__setattr__(self, "_zmax", float(z.max()))
        sym = np.allclose(z, z[::-1, :], atol=1e-9 * self.period) and np.allclose(
            z, z[:, ::-1], atol=1e-9 * self.period
        )
        object.__setattr__(self, "_symmetric", bool(sym))
        object.__setattr__(self, "_diagonal", bool(np.allclose(z, z.T, atol=1e-9 * self.period)))

    def _eval(self, x, y):
        h = np.asarray(self.func(x, y), dtype=float)
        if self.grad is not None:
            hx, hy = (np.asarray(g, dtype=float) for g in self.grad(x, y))
            return h, hx, hy
        d = 1e-6 * self.period
        hx = (self.func(x + d, y) - self.func(x - d, y)) / (2 * d)
        hy = (self.func(x, y + d) - self.func(x, y - d)) / (2 * d)
        return h, np.asarray(hx, float), np.asarray(hy, float)

    def bounds(self) -> tuple[float, float]:
        """Extremes sampled on a 129² grid, inverted if requested."""
        lo, hi = self.__dict__["_zmin"], self.__dict__["_zmax"]
        return (-hi, -lo) if self.invert else (lo, hi)

    @property
    def mirror_symmetric(self) -> bool:
        """Numerically checked mirror symmetry about x = 0 and y = 0."""
        return self.__dict__["_symmetric"]

    @property
    def diagonal_symmetric(self) -> bool:
        """Numerically checked symmetry h(x, y) = h(y, x)."""
        return self.__dict__["_diagonal"]

    def describe(self) -> dict:
        """Description with the function's name."""
        return {**super().describe(), "name": self.name}
