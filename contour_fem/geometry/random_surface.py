"""Periodic Gaussian random surfaces by FFT synthesis (numpy only, SI units).

A white Gaussian field w on an N × N grid of one period S is filtered in Fourier space by √PSD:
z = F⁻¹[√P(k)·F[w]]. The Fourier coefficients of z are then complex Gaussian with variance ∝ P(k)
and Hermitian symmetry, so z is real, periodic and Gaussian with the chosen spectrum. The k = 0
term is removed (mean zero) and z is scaled so that its realised RMS over the N² samples equals
``rms_height`` exactly (to round-off), not only in expectation. The result is a periodic
:class:`~contour_fem.geometry.heightmap.HeightMap` without smoothing (the spectrum is the
definition; the spline passes through the samples).

Spectra (isotropic, σ = RMS height, λ = correlation length, 2-D PSD normalised so that
∫P(k) d²k = σ²):

- ``gaussian``: autocorrelation σ² exp(−r²/λ²), P(k) = σ²λ²/(4π) · exp(−k²λ²/4). Smooth.
- ``exponential``: autocorrelation σ² exp(−r/λ), P(k) = σ²λ²/(2π) · (1 + k²λ²)^(−3/2). Rough
  at every scale: its slopes grow with the resolution (the continuum surface is not
  differentiable), so fix ``points`` when comparing runs.

Grid: by default N is the smallest power of two with at least 16 points per correlation length
(N ≥ 16·S/λ), clipped to [32, 512]; if 512 points leave fewer than 8 per correlation length
(λ < S/64) the call fails and asks for ``points``.

Reproducibility: the white field is ``numpy.random.default_rng(seed).standard_normal`` (PCG64, one
stream, no threads), so a seed gives the same surface on every run and machine with a given numpy
version, identical up to the last-bit round-off of the FFT and exp across CPUs. numpy guarantees
the PCG64 bit stream; the normal sampler might change between numpy releases (NEP 19), so
:meth:`RandomSurface.describe` records the numpy version and the sha256 of the heights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from contour_fem.core.errors import InputError
from contour_fem.core.units import UM, UM_DIGITS
from contour_fem.geometry.heightmap import HeightMap

SPECTRA = ("gaussian", "exponential")
POINTS_PER_CORRELATION = 16  # default grid: at least this many points per λ …
MIN_POINTS_PER_CORRELATION = 8  # … and never fewer than this
DEFAULT_POINTS_RANGE = (32, 512)
POINTS_RANGE = (8, 4096)  # allowed explicit ``points``


@dataclass(frozen=True)
class RandomSurfaceParams:
    """The parameters that generate a random surface (SI units).

    Attributes:
        period: Period S in x and y, m.
        rms_height: Realised RMS height σ, m.
        correlation_length: Correlation length λ, m.
        spectrum: ``gaussian`` or ``exponential``.
        seed: Seed of ``numpy.random.default_rng``.
        points: Grid points N per side (resolved; see :func:`default_points`).

    """

    period: float
    rms_height: float
    correlation_length: float
    spectrum: str
    seed: int
    points: int

    def describe(self) -> dict:
        """JSON-friendly parameters in µm."""
        return {"rms_height_um": UM.from_si(self.rms_height, UM_DIGITS),
                "correlation_length_um": UM.from_si(self.correlation_length, UM_DIGITS),
                "spectrum": self.spectrum, "seed": self.seed, "points": self.points}


@dataclass(frozen=True, eq=False)
class RandomSurface(HeightMap):
    """A :class:`HeightMap` synthesised by :func:`random_surface`; records its parameters."""

    kind: ClassVar[str] = "random"
    params: RandomSurfaceParams | None = None

    def describe(self) -> dict:
        """The height-map description plus the generating parameters and numpy version."""
        extra = {} if self.params is None else self.params.describe()
        return {**super().describe(), **extra,
                "generator": f"numpy {np.__version__} default_rng(seed).standard_normal + FFT"}


def default_points(period: float, correlation_length: float) -> int:
    """Default grid size N: the smallest power of two ≥ 16·S/λ, clipped to [32, 512].

    Raises:
        InputError: λ < S/64 (512 points would give fewer than 8 per correlation length).

    """
    lo, hi = DEFAULT_POINTS_RANGE
    need = POINTS_PER_CORRELATION * period / correlation_length
    n = min(max(lo, 1 << max(0, math.ceil(math.log2(need)))), hi)
    if n * correlation_length < MIN_POINTS_PER_CORRELATION * period * (1 - 1e-12):
        raise InputError(f"correlation_length must be ≥ period/{hi // MIN_POINTS_PER_CORRELATION}"
                         f" ({period / (hi // MIN_POINTS_PER_CORRELATION):g} m) for the default "
                         f"grid, got {correlation_length:g} m; pass points = N (≤ "
                         f"{POINTS_RANGE[1]}) for a finer grid")
    return n


def _psd(k2: np.ndarray, lam: float, spectrum: str) -> np.ndarray:
    """The spectrum's shape P(k)/σ² on k² (the constant factor is normalised away anyway)."""
    if spectrum == "gaussian":
        return lam**2 / (4 * math.pi) * np.exp(-0.25 * k2 * lam**2)
    return lam**2 / (2 * math.pi) * (1.0 + k2 * lam**2) ** -1.5


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise InputError(f"{name} must be a number (m), got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise InputError(f"{name} must be finite and > 0 (m), got {value!r}")
    return v


def random_surface(period: float, rms_height: float, correlation_length: float, *,
                   spectrum: str = "gaussian", seed: int = 0,
                   points: int | None = None) -> RandomSurface:
    """A periodic Gaussian random surface with exact realised RMS height and mean zero.

    Args:
        period: Period S, m.
        rms_height: RMS height σ of the N² samples, m (exact).
        correlation_length: Correlation length λ, m; 0 < λ < S.
        spectrum: ``gaussian`` (autocorrelation exp(−r²/λ²)) or ``exponential`` (exp(−r/λ)).
        seed: Integer ≥ 0 for ``numpy.random.default_rng``; the same seed gives the same surface.
        points: Grid points per side (default: :func:`default_points`).

    Returns:
        A periodic :class:`RandomSurface` (kind ``random``), pixel S/N, no smoothing.

    Raises:
        InputError: A non-positive or non-finite length, λ ≥ S, an unknown spectrum, a bad
            seed or grid size.

    """
    s = _number("period", period)
    sigma = _number("rms_height", rms_height)
    lam = _number("correlation_length", correlation_length)
    if lam >= s:
        raise InputError(f"correlation_length must be < period ({s:g} m), got {lam:g} m")
    if spectrum not in SPECTRA:
        raise InputError(f"spectrum must be one of {', '.join(SPECTRA)}, got {spectrum!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be an integer ≥ 0, got {seed!r}")
    if points is None:
        n = default_points(s, lam)
    elif (isinstance(points, bool) or not isinstance(points, int | np.integer)
          or not POINTS_RANGE[0] <= points <= POINTS_RANGE[1]):
        raise InputError(f"points must be an integer in [{POINTS_RANGE[0]}, {POINTS_RANGE[1]}],"
                         f" got {points!r}")
    else:
        n = int(points)
    pixel = s / n
    white = np.random.default_rng(int(seed)).standard_normal((n, n))
    ky = 2 * np.pi * np.fft.fftfreq(n, d=pixel)[:, None]
    kx = 2 * np.pi * np.fft.rfftfreq(n, d=pixel)[None, :]
    coef = np.fft.rfft2(white) * np.sqrt(_psd(kx**2 + ky**2, lam, spectrum))
    coef[0, 0] = 0.0  # mean zero
    z = np.fft.irfft2(coef, s=(n, n))
    z -= z.mean()  # removes the round-off left by the k = 0 term
    z *= sigma / math.sqrt(float(np.mean(z**2)))
    params = RandomSurfaceParams(period=s, rms_height=sigma, correlation_length=lam,
                                 spectrum=spectrum, seed=int(seed), points=n)
    return RandomSurface(heights=z, pixel=pixel, periodic=True, smoothing=0.0,
                         name=f"random-{spectrum}-seed{int(seed)}", params=params)
