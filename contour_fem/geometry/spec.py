"""How a unit cell is built: domains, mesh-resolution presets and :class:`CellSpec` (no gmsh).

Kept apart from the gmsh code so that configuration and documentation can list the choices
without loading gmsh.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

import numpy as np

from contour_fem.core.errors import InputError
from contour_fem.core.params import param, validate
from contour_fem.core.units import ONE, UM
from contour_fem.geometry.topography import Topography


@dataclass(frozen=True)
class Resolution:
    """Mesh-size preset, each size a fraction of the period S.

    Attributes:
        interface: Element size at the interface.
        far: Largest element size, far from the interface.
        growth: Increase of element size per unit distance from the interface.

    """

    interface: float
    far: float
    growth: float


RESOLUTIONS: dict[str, Resolution] = {
    "coarse": Resolution(interface=1 / 16, far=1 / 3, growth=0.4),
    "medium": Resolution(interface=1 / 24, far=1 / 4, growth=0.25),
    "fine": Resolution(interface=1 / 36, far=1 / 6, growth=0.2),
    # The default, for P3/P2 creep: lean refined by 1.5 (the same family, so lean is its
    # error-bar level). Egg-box samples of Zhang 2024: Δp_max within 0.7 %, f_max within 0.04 %
    # of the extrapolated values (docs/verification.md §3).
    "standard": Resolution(interface=1 / 24, far=1 / 3, growth=0.8 / 1.5),
    # A fast-growing far field: Δp_max within 0.5 % for gentle surfaces (H/S ≤ 1/6), 2.3 % at
    # H/S = 1/2 with P3/P2 (docs/verification.md §3).
    "lean": Resolution(interface=1 / 16, far=1 / 2, growth=0.8),
}
#: ``auto``: the smallest exact cell (eighth, quarter or full, by the surface's symmetries).
DOMAINS = ("auto", "eighth", "quarter", "full")
#: Size ratio of neighbouring cells in the grading toward creases at refinement 1. Its excess
#: over 1 is divided by the refinement, like the growth, so that a refined mesh is the same mesh
#: with every size divided: the cell size h(d) = crease + (ratio − 1)·d at a distance d from a
#: crease is then divided everywhere (docs/verification.md §4).
CREASE_RATIO = 1.5
#: Revision of the crease-graded meshes of rounded edges, part of the hashes of such cases
#: (config.resolve): a folder from before a change of these meshes recomputes its rounded cases
#: instead of reusing results from the old meshes. 2: the grading scales with the refinement.
CREASE_MESH_REVISION = 2
#: Default element size at a crease, as a fraction of the corner radius. With mesh lines on the
#: fillet ends, r/8 keeps the pyramid's and the frustum's Δp_max at n = 6.56 within about 2 %
#: over the levels of one family; r/4 gave no observed order; at n = 1 r/8 does not converge.
#: r/16 converges the pyramid at n = 6.56 (order 2.3) and shows the frustum's r/8 levels about
#: 4 % high, at 4-5x the time per case, so r/8 stays the default (docs/verification.md §4).
CREASE_FRACTION = 0.125
#: Interface cells per feature wavelength of a measured or random surface (P2 geometry: the
#: interface area of a cosine is then within ~1e-4).
CELLS_PER_WAVELENGTH = 8
ORDERS = (1, 2)
#: Cells a mesh may have unless ``max_cells`` says otherwise (about 1e6 P2/P1 creep DOFs, a few
#: GB per rank with the iterative creep solver; docs/performance.md).
MAX_CELLS = 500_000


@dataclass(frozen=True)
class CellSpec:
    """How to build the unit cell (lengths in m).

    Attributes:
        domain: ``quarter`` ([0, S/2]² with mirror planes) or ``full`` ([−S/2, S/2]², periodic
            side faces matched node to node).
        electrolyte_thickness: SE above the highest interface point (default S).
        lithium_thickness: Li below the lowest interface point (default S).
        resolution: Preset name in :data:`RESOLUTIONS`.
        interface_size: Element size at the interface, overrides the preset.
        far_size: Element size far from the interface, overrides the preset.
        growth: Size increase per unit distance from the interface (structured: layer ratio
            1 + growth), overrides the preset; 0 gives uniform layers.
        first_layer: Thickness of the first cell layer on each side of the interface
            (structured meshes; default: the interface size).
        order: Geometry order, 1 (straight) or 2 (curved cells).
        structured: Transfinite (structured) cells graded in z, tensor grid in x–y with lines at
            every kink of the topography; ``False`` gives an unstructured Delaunay mesh graded
            from the interface. Structured meshes give markedly smoother creep stresses.

    """

    domain: str = param("auto", kind=str, choices=DOMAINS,
                        doc="unit cell: eighth 0 ≤ y ≤ x ≤ S/2, quarter [0, S/2]² (mirror "
                            "planes), full [−S/2, S/2]²; auto: the smallest exact one")
    electrolyte_thickness: float | None = param(
        None, key="electrolyte_thickness_um", unit=UM, si="m", lo=0.0, strict_lo=True,
        nullable=True, default_doc="S", doc="SE above the highest interface point",
        source="assumed (perturbations decay like exp(−2π√2·z/S))")
    lithium_thickness: float | None = param(
        None, key="lithium_thickness_um", unit=UM, si="m", lo=0.0, strict_lo=True,
        nullable=True, default_doc="S", doc="Li below the lowest interface point",
        source="assumed (unknown in the experiment; see the sensitivity study)")
    resolution: str = param("standard", kind=str, choices=tuple(RESOLUTIONS),
                            doc="mesh-size preset (sizes as fractions of S)")
    interface_size: float | None = param(
        None, key="interface_size_um", unit=UM, si="m", lo=0.0, strict_lo=True, nullable=True,
        default_doc="preset", doc="element size at the interface (overrides the preset)")
    far_size: float | None = param(
        None, key="far_size_um", unit=UM, si="m", lo=0.0, strict_lo=True, nullable=True,
        default_doc="preset", doc="largest element size, far from the interface")
    growth: float | None = param(
        None, unit=ONE, lo=0.0, nullable=True, default_doc="preset",
        doc="size increase per unit distance from the interface (0: uniform layers)")
    first_layer: float | None = None
    refinement: float = param(1.0, unit=ONE, lo=0.05, hi=20.0,
                              doc="divides every size of the mesh family (preset or given), "
                                  "the growth and the crease grading's slope: 2 halves them "
                                  "(convergence studies)")
    order: int = param(2, kind=int, choices=ORDERS,
                       doc="geometry order: 1 straight, 2 curved cells")
    structured: bool = param(True, kind=bool,
                             doc="structured (Kuhn-split tensor grid) or unstructured mesh")
    crease_size: float | None = param(
        None, key="crease_size_um", unit=UM, si="m", lo=0.0, strict_lo=True, nullable=True,
        default_doc="corner radius / 8", doc="element size at the creases of rounded edges "
        f"(structured meshes grade toward them by {CREASE_RATIO:g} per cell at refinement 1)")
    max_cells: int = param(MAX_CELLS, kind=int, lo=1, hi=10**10,
                           doc="refuse meshes estimated to have more cells (memory guard)")

    def __post_init__(self):
        validate(self)
        if self.first_layer is not None and not self.first_layer > 0:
            raise InputError(f"first_layer must be > 0 m, got {self.first_layer!r}")

    def sizes(self, topo: Topography) -> tuple[float, float, float]:
        """Interface size, far size (m) and growth rate for the cell of ``topo``.

        Preset sizes are fractions of the period S; for a surface with content finer than S
        (height maps, random surfaces) the interface size is at most the surface's feature
        wavelength over :data:`CELLS_PER_WAVELENGTH`. Every size of the family (the preset's or
        the user's) and the growth are divided by ``refinement``, so refinements of one case
        are one mesh family.
        """
        preset = RESOLUTIONS[self.resolution]
        r = self.refinement
        period = topo.period
        near = self.interface_size
        if near is None:
            near = preset.interface * period
            wavelength = topo.feature_wavelength()
            if wavelength is not None:
                near = min(near, wavelength / CELLS_PER_WAVELENGTH)
        far = self.far_size if self.far_size is not None else preset.far * period
        growth = self.growth if self.growth is not None else preset.growth
        return near / r, max(far, near) / r, growth / r

    def layer(self, topo: Topography) -> float:
        """Thickness of the first cell layer on each side of the interface (m)."""
        near = self.sizes(topo)[0]
        return self.first_layer / self.refinement if self.first_layer is not None else near

    def crease_size_for(self, topo: Topography) -> float | None:
        """Element size at the creases of ``topo``, or None (no grading toward creases).

        Grading needs a rounded edge to resolve (at a sharp one the fields are singular and
        refining does not converge): by default :data:`CREASE_FRACTION` of the corner radius.
        """
        near = self.sizes(topo)[0]
        if self.crease_size is not None:
            size = self.crease_size / self.refinement
        else:
            radius = getattr(topo, "corner_radius", 0.0) or 0.0
            size = CREASE_FRACTION * radius / self.refinement if radius > 0 else None
        if size is None or size >= near or not (topo.crease_positions() or topo.diagonal_kinks):
            return None
        return size

    @property
    def crease_ratio(self) -> float:
        """Size ratio of neighbouring cells in the grading toward creases (see CREASE_RATIO)."""
        return 1.0 + (CREASE_RATIO - 1.0) / self.refinement


def concrete(topo: Topography, spec: CellSpec) -> CellSpec:
    """``spec`` with ``domain = "auto"`` replaced by the smallest exact cell of ``topo``."""
    if spec.domain != "auto":
        return spec
    if not topo.mirror_symmetric:
        domain = "full"
    else:  # the eighth cell is built by the structured mesher only
        domain = "eighth" if topo.diagonal_symmetric and spec.structured else "quarter"
    return replace(spec, domain=domain)


def cell_extent(topo: Topography, spec: CellSpec) -> tuple[tuple, tuple, float, float]:
    """Return x range, y range, z_bottom and z_top of the cell for ``topo``.

    Raises:
        InputError: A quarter cell of a surface without mirror symmetry.

    """
    s = topo.period
    spec = concrete(topo, spec)
    if spec.domain in ("quarter", "eighth"):
        if not topo.mirror_symmetric:
            raise InputError(
                f"domain '{spec.domain}' needs a mirror-symmetric topography; use domain = "
                "'full' (or 'auto')"
            )
        if spec.domain == "eighth" and not topo.diagonal_symmetric:
            raise InputError("domain 'eighth' needs a surface symmetric about x = y; use "
                             "domain = 'quarter' (or 'auto')")
        xr = yr = (0.0, 0.5 * s)
    else:
        xr = yr = (-0.5 * s, 0.5 * s)
    lo, hi = topo.bounds()
    se = spec.electrolyte_thickness if spec.electrolyte_thickness is not None else s
    li = spec.lithium_thickness if spec.lithium_thickness is not None else s
    return xr, yr, lo - li, hi + se


def graded_layers(length: float, first: float, ratio: float) -> np.ndarray:
    """Layer boundaries 0 … length, geometric with ``ratio``, first layer at most ``first``."""
    if ratio <= 1.0 + 1e-12:
        n = max(1, math.ceil(length / first))
        return np.linspace(0.0, length, n + 1)
    n = max(1, math.ceil(math.log1p(length * (ratio - 1) / first) / math.log(ratio)))
    widths = ratio ** np.arange(n)
    return np.concatenate([[0.0], np.cumsum(widths)]) * (length / widths.sum())


def axis_points(lo: float, hi: float, breaks: list[float], size: float) -> np.ndarray:
    """Uniform points within each interval between ``lo``, the ``breaks`` and ``hi``."""
    knots = [lo, *breaks, hi]
    pts = [np.linspace(a, b, max(1, round((b - a) / size)) + 1)[:-1]
           for a, b in itertools.pairwise(knots)]
    return np.concatenate([*pts, [hi]])


def graded_axis(lo: float, hi: float, breaks: list[float], fine: list[float], size: float,
                fine_size: float | None, ratio: float = CREASE_RATIO) -> np.ndarray:
    """Points from ``lo`` to ``hi`` through every break, of spacing ``size`` or finer.

    Near the ``fine`` points the spacing drops to ``fine_size``: it grows linearly with the
    distance from the nearest fine point, so neighbouring cells differ by ``ratio``.
    """
    if fine_size is None or fine_size >= size or not fine:
        return axis_points(lo, hi, breaks, size)
    knots = [lo, *sorted(b for b in breaks if lo < b < hi), hi]
    marks = np.asarray(fine, dtype=float)
    pts = []
    for a, b in itertools.pairwise(knots):
        x = np.linspace(a, b, 4001)
        dist = np.abs(x[:, None] - marks[None, :]).min(axis=1)
        density = 1.0 / np.minimum(size, fine_size + (ratio - 1.0) * dist)
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1])
                                               * np.diff(x))])
        n = max(1, round(cum[-1]))
        pts.append(np.interp(np.linspace(0.0, cum[-1], n + 1), cum, x)[:-1])
    return np.concatenate([*pts, [hi]])


def crease_axis(topo: Topography, near: float, crease: float | None,
                ratio: float) -> np.ndarray:
    """The (ξ = x, η = x − y) axis of the sheared eighth cell on [0, S/2].

    Graded toward the kink lines x = t_k and, for the diagonal crease (η = 0), toward 0.
    """
    half = 0.5 * topo.period
    fine = [*topo.crease_positions(), 0.0] if topo.diagonal_kinks else topo.crease_positions()
    breaks = topo.grid_lines(True) + (topo.fillet_lines() if crease is not None else [])
    return graded_axis(0.0, half, breaks, fine, near, crease, ratio)


def structured_axes(topo: Topography, quarter: bool, xr: tuple[float, float], zb: float,
                    zt: float, near: float, layer: float, growth: float,
                    crease: float | None, crease_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Grid lines in x (= y) and z of the structured mesher (flat cell, interface at z = 0).

    With ``crease`` the lines are graded toward the axis-parallel kink lines and the first
    layers are no thicker than ``crease``.
    """
    if quarter:
        fine = topo.crease_positions()
    else:  # the full cell: the kink lines of every quadrant
        fine = sorted({c * sign for c in topo.crease_positions() for sign in (1, -1)})
    xs = graded_axis(xr[0], xr[1], topo.grid_lines(quarter), fine, near, crease, crease_ratio)
    ratio = 1.0 + growth
    first = layer if crease is None else min(layer, crease)
    below = graded_layers(-zb, first, ratio)
    zs = np.concatenate([-below[::-1], graded_layers(zt, first, ratio)[1:]])
    return xs, zs


def structured_grid(topo: Topography, spec: CellSpec) -> tuple[np.ndarray, np.ndarray]:
    """The x (= y) and z node coordinates of the structured mesh of a concrete ``spec``, m."""
    (x0, x1), _, zb, zt = cell_extent(topo, spec)
    near, _, growth = spec.sizes(topo)
    crease = spec.crease_size_for(topo)
    xs, zs = structured_axes(topo, spec.domain != "full", (x0, x1), zb, zt, near,
                             spec.layer(topo), growth, crease, spec.crease_ratio)
    if topo.diagonal_kinks and spec.domain != "full":
        xs = crease_axis(topo, near, crease, spec.crease_ratio)
    return xs, zs


def estimate_cells(topo: Topography, spec: CellSpec) -> int:
    """Tetrahedra the mesher will make (exact for structured meshes, an estimate otherwise)."""
    spec = concrete(topo, spec)
    (x0, x1), _, zb, zt = cell_extent(topo, spec)
    near, far, growth = spec.sizes(topo)
    if spec.structured:
        xs, zs = structured_grid(topo, spec)
        n = len(xs) - 1
        boxes = n * n if spec.domain != "eighth" else n * (n - 1) // 2 + n / 2
        return int(6 * boxes * (len(zs) - 1))
    # Delaunay: about 6 tetrahedra per cube of the local size, size = min(far, near + g·|z|).
    z = np.concatenate([np.linspace(zb, 0.0, 2001), np.linspace(0.0, zt, 2001)])
    size = np.minimum(far, near + growth * np.abs(z))
    return int(6 * (x1 - x0) ** 2 * np.trapezoid(size**-3.0, z))


def check_cell_count(topo: Topography, spec: CellSpec) -> int:
    """The estimated cell count; raise InputError if it exceeds ``spec.max_cells``."""
    cells = estimate_cells(topo, spec)
    if cells > spec.max_cells:
        raise InputError(
            f"mesh: about {cells:,} cells estimated, more than mesh.max_cells = "
            f"{spec.max_cells:,}; use a coarser resolution or larger sizes, or raise "
            "mesh.max_cells (--allow-large) if the machine has the memory")
    return cells
