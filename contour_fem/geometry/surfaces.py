"""Case-file forms of the surfaces that are not analytic: ``heightmap`` and ``random``.

Each is a frozen dataclass of SI values whose fields carry the user keys (the configuration
schema is generated from them, like the analytic topographies') and whose :meth:`build` returns
the :class:`~contour_fem.geometry.topography.Topography` the case uses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from contour_fem.core.params import param, validate
from contour_fem.core.units import UM
from contour_fem.geometry.heightmap import HeightMap
from contour_fem.geometry.random_surface import POINTS_RANGE, SPECTRA, random_surface
from contour_fem.geometry.topography import MAX_PERIOD, MIN_PERIOD, Topography


@dataclass(frozen=True)
class HeightMapSurface:
    """A measured height map read from a file (docs/model.md §1.6)."""

    kind: ClassVar[str] = "heightmap"
    file: str = param(kind=str, doc="height map: .npy (2-D array) or .csv/.txt/.dat (numbers), "
                                    "heights in µm, rows along y, columns along x; relative "
                                    "to the case file")
    pixel: float = param(key="pixel_um", unit=UM, si="m", lo=0.0, strict_lo=True,
                         hi=MAX_PERIOD, doc="sample spacing of the map")
    periodic: bool = param(True, kind=bool, doc="the map is one period (N·pixel; first row and "
                           "column not repeated); false: a patch, mirrored in x and y")
    smoothing: float | None = param(
        None, key="smoothing_um", unit=UM, si="m", lo=0.0, nullable=True,
        default_doc="pixel/2", doc="standard deviation of the Gaussian low-pass filter (0: none)")
    invert: bool = param(False, kind=bool, doc="flip the surface upside down")

    def __post_init__(self):
        validate(self)

    def build(self) -> Topography:
        """The interpolated height map (reads the file)."""
        return HeightMap.from_file(self.file, self.pixel, periodic=self.periodic,
                                   smoothing=self.smoothing, invert=self.invert)


@dataclass(frozen=True)
class RandomSurfaceSpec:
    """A periodic Gaussian random surface (docs/model.md §1.6)."""

    kind: ClassVar[str] = "random"
    period: float = param(key="separation_um", unit=UM, si="m", lo=MIN_PERIOD, hi=MAX_PERIOD,
                          doc="period S in x and y (the cell)")
    rms_height: float = param(key="rms_height_um", unit=UM, si="m", lo=0.0, strict_lo=True,
                              hi=MAX_PERIOD, doc="RMS height σ (realised exactly)")
    correlation_length: float = param(key="correlation_length_um", unit=UM, si="m", lo=0.0,
                                      strict_lo=True, hi=MAX_PERIOD,
                                      doc="correlation length λ (< S)")
    spectrum: str = param("gaussian", kind=str, choices=SPECTRA,
                          doc="autocorrelation exp(−r²/λ²) (gaussian) or exp(−r/λ)")
    seed: int = param(0, kind=int, lo=0, hi=2**63 - 1,
                      doc="seed of the generator: the same seed gives the same surface")
    points: int | None = param(None, kind=int, lo=POINTS_RANGE[0], hi=POINTS_RANGE[1],
                               nullable=True, default_doc="≥ 16 per λ, 32–512",
                               doc="grid points per side of the synthesis")
    invert: bool = param(False, kind=bool, doc="flip the surface upside down")

    def __post_init__(self):
        validate(self)

    def build(self) -> Topography:
        """The synthesised surface."""
        surface = random_surface(self.period, self.rms_height, self.correlation_length,
                                 spectrum=self.spectrum, seed=self.seed, points=self.points)
        return replace(surface, invert=True) if self.invert else surface
