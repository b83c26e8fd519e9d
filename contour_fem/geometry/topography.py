"""Interface topographies z = h(x, y) of period S in x and y (numpy only, SI units).

The solid electrolyte (SE) lies above the interface, lithium below. Every topography gives its
height, its exact gradient (hence the unit normal from Li into the SE), its area ratio (true area
over projected area) and whether the quarter cell [0, S/2]² with mirror planes is exact.

Conventions (docs/model.md §1): the egg-box is (H/2)·cos(2πx/S)·cos(2πy/S), crest at the
origin; for pyramids and frustums the default puts the SE apexes at the origin pointing down into
the Li, so Li fills the valleys between them. ``invert=True`` flips the surface upside down.
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from contour_fem.core.errors import InputError
from contour_fem.core.params import param, validate
from contour_fem.core.units import UM
from contour_fem.geometry.profiles import (
    CORNER_PROFILES,
    KINK_TOLERANCE,
    LEGACY_CORNER_PROFILE,
    FilletedProfile,
    fillet_half_width,
    rounded_abs,
)

Segment = tuple[tuple[float, float], tuple[float, float]]

_QUAD_POINTS = 2048  # midpoint-rule points per period for numeric area ratios


def _wrap(x: np.ndarray, period: float) -> np.ndarray:
    """Map ``x`` into [-S/2, S/2)."""
    return x - period * np.floor(x / period + 0.5)


@functools.lru_cache(maxsize=64)
def _area_ratio_numeric(topo: Topography, points: int) -> float:
    return topo._midpoint_area_ratio(points)


class Topography(ABC):
    """Base class of interface topographies; subclasses are frozen dataclasses."""

    kind: ClassVar[str]
    height: float  # crest-to-trough height H, m
    period: float  # period S in x and y, m
    invert: bool

    @abstractmethod
    def _eval(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return h, ∂h/∂x, ∂h/∂y before inversion."""

    def h(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Height of the interface at (x, y), m."""
        return self._signed(*np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float)))[0]

    def gradient(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact gradient (∂h/∂x, ∂h/∂y) at (x, y)."""
        _, hx, hy = self._signed(*np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float)))
        return hx, hy

    def normal(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Unit normal, pointing from the Li into the SE, as an array of shape (..., 3)."""
        hx, hy = self.gradient(x, y)
        n = np.stack([-hx, -hy, np.ones_like(hx)], axis=-1)
        return n / np.linalg.norm(n, axis=-1, keepdims=True)

    def _signed(self, x, y):
        h, hx, hy = self._eval(x, y)
        if self.invert:
            return -h, -hx, -hy
        return h, hx, hy

    def bounds(self) -> tuple[float, float]:
        """Lowest and highest interface height, m (rounded edges lie within these bounds)."""
        return -0.5 * self.height, 0.5 * self.height

    def area_ratio(self) -> float:
        """True interface area over projected area (closed form where one exists)."""
        return self.area_ratio_numeric()

    def area_ratio_numeric(self, points: int = _QUAD_POINTS) -> float:
        """Area ratio by the midpoint rule over one period (spectral for smooth periodic h).

        Cached per surface: every case of a sweep reports it, and 4096² gradient evaluations
        take 0.1 s.
        """
        return _area_ratio_numeric(self, points)

    def _midpoint_area_ratio(self, points: int) -> float:
        s = self.period
        xs = (np.arange(points) + 0.5) * s / points - 0.5 * s
        total = 0.0
        for row in np.array_split(xs, max(1, points // 256)):
            x, y = np.meshgrid(row, xs, indexing="ij")
            hx, hy = self.gradient(x, y)
            total += float(np.sqrt(1.0 + hx**2 + hy**2).sum())
        return total / points**2

    @property
    def mirror_symmetric(self) -> bool:
        """True if h is even in x and y and in x − S/2, y − S/2: the quarter cell is exact."""
        return True

    @property
    def diagonal_symmetric(self) -> bool:
        """True if also h(x, y) = h(y, x): the eighth cell 0 ≤ y ≤ x ≤ S/2 is exact."""
        return True

    def crease_positions(self) -> list[float]:
        """Positions t of the axis-parallel kink lines x = t (and y = t) in [0, S/2].

        Meshes are graded toward them (and toward the diagonal, for :attr:`diagonal_kinks`)
        when the edges are rounded.
        """
        return []

    def kink_lines(self, quarter: bool) -> list[Segment]:
        """Lines in the plane where the gradient jumps; the mesh must have edges along them."""
        return []

    def symmetry_shifts(self) -> list[tuple[float, float]]:
        """In-plane translations, besides the period, that map the surface onto itself."""
        return []

    def equivalent_distance(self, p: list[float], q: list[float]) -> float:
        """Distance between points ``p`` and ``q`` modulo the surface's symmetries (m).

        Mirror images, period translations and :meth:`symmetry_shifts` of ``q`` are tried; two
        hot spots at symmetry-equivalent crests are 0 apart.
        """
        s = self.period
        shifts = [(0.0, 0.0), *self.symmetry_shifts()]
        best = math.inf
        for sx in (1, -1):
            for sy in (1, -1) if self.mirror_symmetric else (1,):
                for dx, dy in shifts:
                    for mx in (-1, 0, 1):
                        for my in (-1, 0, 1):
                            qx = sx * q[0] + dx + mx * s
                            qy = sy * q[1] + dy + my * s
                            d = math.dist(p, (qx, qy, q[2]))
                            best = min(best, d)
            if not self.mirror_symmetric:
                break
        return best

    def grid_lines(self, quarter: bool) -> list[float]:
        """Interior x (= y) coordinates of kink lines parallel to the axes, for tensor grids."""
        return []

    def fillet_lines(self) -> list[float]:
        """Where the rounded edges end on the sheared eighth cell's axis (0 ≤ ξ, η ≤ S/2).

        The lines ξ = t where a fillet of the profile meets a flat facet, and η = x − y where
        the diagonal fillet does. There the curvature of the surface jumps; a mesh line on
        each keeps every cell on one smooth piece of the surface.
        """
        return []

    def feature_wavelength(self) -> float | None:
        """Shortest wavelength that carries the surface's shape, m (None: the period sets it).

        Measured and random surfaces have content finer than their period; meshes are sized
        from it (:meth:`~contour_fem.geometry.spec.CellSpec.sizes`).
        """
        return None

    @property
    def diagonal_kinks(self) -> bool:
        """True if the gradient jumps along the diagonals x = ±y."""
        return False

    def describe(self) -> dict:
        """JSON-friendly description in µm, for provenance records."""
        return {"topography": self.kind, "height_um": UM.from_si(self.height),
                "separation_um": UM.from_si(self.period), "invert": self.invert}


# The fields every analytic topography shares, with their user keys, units and ranges.
MIN_PERIOD, MAX_PERIOD = 1e-8, 1e-2  # m: 0.01 µm … 10 mm
MAX_ASPECT = 2.0  # H/S: steeper surfaces give degenerate cells


def _height():
    return param(key="height_um", unit=UM, si="m", lo=0.0, strict_lo=True,
                 doc=f"crest-to-trough height H (H/S ≤ {MAX_ASPECT:g})")


def _period():
    return param(key="separation_um", unit=UM, si="m", lo=MIN_PERIOD, hi=MAX_PERIOD,
                 doc="period S in x and y (the separation of the features)")


def _invert():
    return param(False, kind=bool, doc="flip the surface upside down",
                 source="assumed: SE apexes point into the Li")


def _check_aspect(topo: Topography) -> None:
    if topo.height > MAX_ASPECT * topo.period:
        raise InputError(f"height must be ≤ {MAX_ASPECT:g} × separation "
                         f"({UM.from_si(MAX_ASPECT * topo.period):g} µm), "
                         f"got {UM.from_si(topo.height):g} µm")


@dataclass(frozen=True)
class Flat(Topography):
    """Flat interface h = 0 (reference)."""

    kind: ClassVar[str] = "flat"
    period: float = _period()
    height: float = 0.0
    invert: bool = False

    def __post_init__(self):
        validate(self)
        if self.height != 0.0:
            raise InputError(f"height of a flat interface must be 0, got {self.height!r}")

    def _eval(self, x, y):
        z = np.zeros_like(x)
        return z, z.copy(), z.copy()

    def area_ratio(self) -> float:
        """Exactly 1."""
        return 1.0


@dataclass(frozen=True)
class EggBox(Topography):
    """Egg-box surface: ``product`` (H/2)cos(kx)cos(ky) or ``sum`` (H/4)(cos kx + cos ky)."""

    kind: ClassVar[str] = "eggbox"
    FORMS: ClassVar[tuple[str, ...]] = ("product", "sum")
    height: float = _height()
    period: float = _period()
    form: str = param("product", kind=str, choices=FORMS,
                      doc="product (H/2)cos kx cos ky or sum (H/4)(cos kx + cos ky)",
                      source="assumed: the paper does not give its formula")
    invert: bool = _invert()

    def __post_init__(self):
        validate(self)
        _check_aspect(self)

    def _eval(self, x, y):
        k = 2.0 * math.pi / self.period
        cx, cy, sx, sy = np.cos(k * x), np.cos(k * y), np.sin(k * x), np.sin(k * y)
        if self.form == "product":
            a = 0.5 * self.height
            return a * cx * cy, -a * k * sx * cy, -a * k * cx * sy
        a = 0.25 * self.height
        return a * (cx + cy), -a * k * sx, -a * k * sy

    def symmetry_shifts(self) -> list[tuple[float, float]]:
        """The product form repeats after (S/2, S/2)."""
        return [(0.5 * self.period, 0.5 * self.period)] if self.form == "product" else []

    def describe(self) -> dict:
        """Description including the egg-box form."""
        return {**super().describe(), "form": self.form}


@dataclass(frozen=True)
class Frustum(Topography):
    """Frustums of square pyramids: top square of side ``top_width``, flat ``gap`` between bases.

    The flank slope is H / ((S − gap − top_width)/2). ``corner_radius`` rounds every edge with a
    circular fillet of that radius (in the section normal to the edge).
    """

    kind: ClassVar[str] = "frustum"
    height: float = _height()
    period: float = _period()
    top_width: float = param(key="top_width_um", unit=UM, si="m", lo=0.0, nullable=True,
                             default_doc="S/4", doc="side of the top square",
                             source="assumed: the paper gives no widths")
    gap: float = param(key="gap_um", unit=UM, si="m", lo=0.0, nullable=True,
                       default_doc="S/4", doc="flat gap between the bases",
                       source="assumed: the paper gives no widths")
    corner_radius: float = param(0.0, key="corner_radius_um", unit=UM, si="m", lo=0.0,
                                 doc="radius of the rounded edges (0: sharp)")
    corner_profile: str = param(
        LEGACY_CORNER_PROFILE, kind=str, choices=CORNER_PROFILES,
        doc="how edges are rounded: circular arcs (the curvature jumps to 1/r where an arc "
            "ends) or smooth blends (continuous curvature, smallest radius r)",
        source="assumed: the printed templates' edge profile is not measured")
    invert: bool = _invert()

    def __post_init__(self):
        validate(self)
        _check_aspect(self)
        if self.top_width is None or self.gap is None:
            raise InputError("frustum needs top_width and gap (make_topography defaults them "
                             "to S/4)")
        if self.top_width + self.gap >= self.period:
            raise InputError(
                f"top_width + gap must be < separation ({UM.from_si(self.period):g} µm), "
                f"got {UM.from_si(self.top_width + self.gap):g} µm"
            )
        _ = self._profile  # validates corner_radius now, not at the first evaluation

    @property
    def flank_slope(self) -> float:
        """Slope of the flanks, dimensionless."""
        return self.height / (0.5 * (self.period - self.gap - self.top_width))

    @property
    def _profile(self) -> FilletedProfile:
        # Cached by hand: frozen dataclasses cannot use functools.cached_property.
        prof = self.__dict__.get("_prof")
        if prof is None:
            a, b, half = 0.5 * self.top_width, 0.5 * (self.period - self.gap), 0.5 * self.period
            ts, zs = [0.0], [self.height]
            if a > 0:
                ts.append(a)
                zs.append(self.height)
            ts.append(b)
            zs.append(0.0)
            if b < half:
                ts.append(half)
                zs.append(0.0)
            prof = FilletedProfile(ts, zs, self.corner_radius, f"{self.kind} edges",
                                   self.corner_profile)
            object.__setattr__(self, "_prof", prof)
        return prof

    def _eval(self, x, y):
        xw, yw = _wrap(x, self.period), _wrap(y, self.period)
        # |x| and |y| rounded at 0 with the corner radius too. Near the apex the rounded max below
        # depends on both (its diagonal fillet reaches the mirror planes there), so with plain
        # |x| a rounded pyramid kept a kink across x = 0 and y = 0 within ~r/2 of its apex (slope
        # jump up to 0.1 at r = 2 µm, H25S150). Elsewhere m does not depend on the smaller of
        # |x| and |y|, and on a frustum's flat top p is constant: both are unchanged.
        tol = KINK_TOLERANCE * self.period
        shape = self.corner_profile
        ax, sx = rounded_abs(xw, 1.0, self.corner_radius, tolerance=tol, shape=shape)
        ay, sy = rounded_abs(yw, 1.0, self.corner_radius, tolerance=tol, shape=shape)
        s = self.flank_slope
        # Rounded max(|x|, |y|): the diagonal ridge gets a fillet of the same radius.
        d = ax - ay
        c = s / math.sqrt(2.0)
        ra, dra = rounded_abs(d / math.sqrt(2.0), c, self.corner_radius,
                              tolerance=KINK_TOLERANCE * self.period, shape=shape)
        m = 0.5 * (ax + ay) + ra / math.sqrt(2.0)
        dm_dax = 0.5 + 0.5 * dra
        dm_day = 0.5 - 0.5 * dra
        # Rounding can push m past S/2 near the cell corner: hold it at the ridge, where the
        # profile's slope is 0, so h stays C¹ (folding m back kept a kink across x = S/2 and
        # y = S/2 at a pyramid's corner, where m depends on the |x| that peaks there).
        over = m > 0.5 * self.period
        p, dp = self._profile(np.where(over, 0.5 * self.period, m))
        dp = np.where(over, 0.0, dp)
        # SE apexes point down into the Li: the interface is lowest at the apex.
        h = 0.5 * self.height - p
        hx = -dp * dm_dax * sx
        hy = -dp * dm_day * sy
        return h, hx, hy

    def area_ratio(self) -> float:
        """Closed form from the facets when edges are sharp, quadrature otherwise."""
        if self.corner_radius > 0:
            return self.area_ratio_numeric()
        s, a, b = self.period, self.top_width, self.period - self.gap
        sloped = b**2 - a**2
        return (s**2 - sloped + sloped * math.hypot(1.0, self.flank_slope)) / s**2

    def kink_lines(self, quarter: bool) -> list[Segment]:
        """Diagonals and the top and base squares of the frustum."""
        half = 0.5 * self.period
        squares = [w / 2 for w in (self.top_width, self.period - self.gap) if 0 < w < self.period]
        if quarter:
            segs: list[Segment] = [((0.0, 0.0), (half, half))]
            for c in squares:
                segs += [((c, 0.0), (c, c)), ((0.0, c), (c, c))]
            return segs
        segs = [((-half, -half), (half, half)), ((-half, half), (half, -half))]
        for c in squares:
            corners = [(c, c), (-c, c), (-c, -c), (c, -c)]
            segs += [(corners[i], corners[(i + 1) % 4]) for i in range(4)]
        return segs

    def crease_positions(self) -> list[float]:
        """The squares t where the profile kinks: the top and base squares, the pyramid ridge."""
        prof = self._profile
        out = []
        ext = np.concatenate([[-prof.slopes[0]], prof.slopes, [-prof.slopes[-1]]])
        for k, t in enumerate(prof.t):
            if abs(ext[k + 1] - ext[k]) > 1e-14 and t > 0:  # t = 0: the apex, a point
                out.append(float(t))
        return out

    def fillet_lines(self) -> list[float]:
        """See :meth:`Topography.fillet_lines`: the profile's arc ends and the diagonal's."""
        r = self.corner_radius
        if r <= 0:
            return []
        half = 0.5 * self.period
        c = self.flank_slope / math.sqrt(2.0)
        # _eval rounds |d|/√2 with slope c
        keep = [math.sqrt(2.0) * fillet_half_width(c, r, self.corner_profile)]
        # A profile end that close to a kept line (the apex's, next to the diagonal's) would
        # make a sliver layer of cells; the diagonal's line, which runs the whole flank, wins.
        for e in sorted(e for arc in self._profile.arcs for e in (arc.t_start, arc.t_end)):
            if all(abs(e - k) > 0.25 * r for k in keep):
                keep.append(e)
        tol = 1e-9 * self.period
        return sorted(float(e) for e in keep if tol < e < half - tol)

    def grid_lines(self, quarter: bool) -> list[float]:
        """The top and base squares (and, for the full cell, the centre lines)."""
        half = 0.5 * self.period
        squares = [w / 2 for w in (self.top_width, self.period - self.gap) if 0 < w / 2 < half]
        if quarter:
            return sorted(squares)
        return sorted({0.0, *squares, *(-c for c in squares)})

    @property
    def diagonal_kinks(self) -> bool:
        """Frustum and pyramid flanks meet along the diagonals."""
        return True

    def describe(self) -> dict:
        """Description including the frustum widths and the corner radius and profile."""
        return {**super().describe(), "top_width_um": UM.from_si(self.top_width),
                "gap_um": UM.from_si(self.gap), "corner_radius_um": UM.from_si(self.corner_radius),
                "corner_profile": self.corner_profile}


@dataclass(frozen=True)
class Pyramid(Frustum):
    """Square pyramids of height H on an S × S base, tiled with period S (triangle waves)."""

    kind: ClassVar[str] = "pyramid"
    height: float = _height()
    period: float = _period()
    top_width: float = 0.0
    gap: float = 0.0
    corner_radius: float = param(0.0, key="corner_radius_um", unit=UM, si="m", lo=0.0,
                                 doc="radius of the rounded edges (0: sharp)")
    invert: bool = _invert()

    def __post_init__(self):
        super().__post_init__()
        if self.top_width != 0.0 or self.gap != 0.0:
            raise InputError("pyramid has no top_width or gap; use the frustum topography")

    def area_ratio(self) -> float:
        """√(1 + (2H/S)²) for sharp edges, quadrature otherwise."""
        if self.corner_radius > 0:
            return self.area_ratio_numeric()
        return math.hypot(1.0, 2.0 * self.height / self.period)

    def describe(self) -> dict:
        """Description with the corner radius."""
        d = super().describe()
        d.pop("top_width_um")
        d.pop("gap_um")
        return d


TOPOGRAPHIES: dict[str, type[Topography]] = {
    cls.kind: cls for cls in (Flat, EggBox, Pyramid, Frustum)
}


def make_topography(kind: str, *, height: float, period: float, **kw) -> Topography:
    """Build a topography by name (``flat``, ``eggbox``, ``pyramid``, ``frustum``).

    For ``frustum`` the widths default to S/4 (docs/model.md §1, assumed); ``None`` for any
    keyword means its default.
    """
    kw = {k: v for k, v in kw.items() if v is not None}
    if kind not in TOPOGRAPHIES:
        raise InputError(
            f"topography must be one of {', '.join(TOPOGRAPHIES)}, got {kind!r}"
        )
    if kind == "flat":
        if kw.get("invert"):
            kw.pop("invert")
        if kw:
            raise InputError(f"flat topography takes no {', '.join(sorted(kw))}")
        return Flat(period=period)
    if kind == "frustum":
        kw.setdefault("top_width", period / 4)
        kw.setdefault("gap", period / 4)
    return TOPOGRAPHIES[kind](height=height, period=period, **kw)
