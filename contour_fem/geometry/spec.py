"""How a unit cell is built: domains, mesh-resolution presets and :class:`CellSpec` (no gmsh).

Kept apart from the gmsh code so that configuration and documentation can list the choices
without loading gmsh.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

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
    # For P3/P2 creep ([solver] creep_degree = 3): Δp_max within 1 % with a fast-growing far
    # field (runs/creep_convergence.toml; docs/verification.md).
    "lean": Resolution(interface=1 / 16, far=1 / 2, growth=0.8),
    # medium's interface size with lean's far field: the benchmark's main level. Against medium
    # (P2/P1, 14 samples): f_max within 7e-5, Δp_max within its error bar, at 62 % of the DOFs.
    "medium-lean": Resolution(interface=1 / 24, far=1 / 2, growth=0.8),
}
DOMAINS = ("quarter", "full")
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

    domain: str = param("quarter", kind=str, choices=DOMAINS,
                        doc="quarter cell [0, S/2]² with mirror planes, or the full cell")
    electrolyte_thickness: float | None = param(
        None, key="electrolyte_thickness_um", unit=UM, si="m", lo=0.0, strict_lo=True,
        nullable=True, default_doc="S", doc="SE above the highest interface point",
        source="assumed (perturbations decay like exp(−2π√2·z/S))")
    lithium_thickness: float | None = param(
        None, key="lithium_thickness_um", unit=UM, si="m", lo=0.0, strict_lo=True,
        nullable=True, default_doc="S", doc="Li below the lowest interface point",
        source="assumed (unknown in the experiment; see the sensitivity study)")
    resolution: str = param("medium", kind=str, choices=tuple(RESOLUTIONS),
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
    order: int = param(2, kind=int, choices=ORDERS,
                       doc="geometry order: 1 straight, 2 curved cells")
    structured: bool = param(True, kind=bool,
                             doc="structured (Kuhn-split tensor grid) or unstructured mesh")
    max_cells: int = param(MAX_CELLS, kind=int, lo=1, hi=10**10,
                           doc="refuse meshes estimated to have more cells (memory guard)")

    def __post_init__(self):
        validate(self)
        if self.first_layer is not None and not self.first_layer > 0:
            raise InputError(f"first_layer must be > 0 m, got {self.first_layer!r}")

    def sizes(self, period: float) -> tuple[float, float, float]:
        """Interface size, far size (m) and growth rate for a cell of period ``period``."""
        preset = RESOLUTIONS[self.resolution]
        near = self.interface_size if self.interface_size is not None else preset.interface * period
        far = self.far_size if self.far_size is not None else preset.far * period
        growth = self.growth if self.growth is not None else preset.growth
        return near, max(far, near), growth


def cell_extent(topo: Topography, spec: CellSpec) -> tuple[tuple, tuple, float, float]:
    """Return x range, y range, z_bottom and z_top of the cell for ``topo``.

    Raises:
        InputError: A quarter cell of a surface without mirror symmetry.

    """
    s = topo.period
    if spec.domain == "quarter":
        if not topo.mirror_symmetric:
            raise InputError(
                "domain 'quarter' needs a mirror-symmetric topography; use domain = 'full'"
            )
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


def structured_axes(topo: Topography, quarter: bool, xr: tuple[float, float], zb: float,
                    zt: float, near: float, layer: float,
                    growth: float) -> tuple[np.ndarray, np.ndarray]:
    """Grid lines in x (= y) and z of the structured mesher (flat cell, interface at z = 0)."""
    xs = axis_points(xr[0], xr[1], topo.grid_lines(quarter), near)
    ratio = 1.0 + growth
    below = graded_layers(-zb, layer, ratio)
    zs = np.concatenate([-below[::-1], graded_layers(zt, layer, ratio)[1:]])
    return xs, zs


def estimate_cells(topo: Topography, spec: CellSpec) -> int:
    """Tetrahedra the mesher will make (exact for structured meshes, an estimate otherwise)."""
    (x0, x1), _, zb, zt = cell_extent(topo, spec)
    near, far, growth = spec.sizes(topo.period)
    if spec.structured:
        layer = spec.first_layer if spec.first_layer is not None else near
        xs, zs = structured_axes(topo, spec.domain == "quarter", (x0, x1), zb, zt, near, layer,
                                 growth)
        return 6 * (len(xs) - 1) ** 2 * (len(zs) - 1)
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
