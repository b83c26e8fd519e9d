"""What a case will cost, before it runs: cells, DOFs and a rough time (``contour-fem check``).

Cells and DOFs are exact for structured meshes: the Pk nodes of a Kuhn-split tensor grid are the
points of the grid refined k times. The time is a fit to the timings of docs/performance.md
(MUMPS, one rank, warm JIT cache): the creep solve dominates and grows like DOFs^1.6.
"""

from __future__ import annotations

from dataclasses import dataclass

from contour_fem.case import Case
from contour_fem.geometry.spec import concrete, estimate_cells, structured_grid

#: (creep degree) → (creep DOFs, seconds on 1 rank) of the reference case (docs/performance.md).
REFERENCE_TIMES = {2: (41_234, 22.0), 3: (33_179, 17.3)}
TIME_EXPONENT = 1.6
#: Speed-up of one case on 2 ranks (docs/performance.md: 1.5–1.6).
TWO_RANK_SPEEDUP = 1.5


@dataclass(frozen=True)
class Estimate:
    """Cells, DOFs and seconds of one case (``exact`` for structured meshes)."""

    cells: int
    current_dofs: int
    creep_dofs: int
    seconds_one_rank: float
    exact: bool

    def seconds(self, ranks: int) -> float:
        """Rough wall time on ``ranks`` ranks (no gain assumed beyond two)."""
        return self.seconds_one_rank / (TWO_RANK_SPEEDUP if ranks > 1 else 1.0)


def _lattice(n_xy: int, n_z: int, k: int) -> int:
    return (k * n_xy + 1) ** 2 * (k * n_z + 1)


def _half_lattice(n_xy: int, n_z: int, k: int) -> int:
    """Points of the refined lattice in the triangle 0 ≤ j ≤ i ≤ k·n (the eighth cell)."""
    m = k * n_xy + 1
    return m * (m + 1) // 2 * (k * n_z + 1)


def estimate(case: Case) -> Estimate:
    """The cost of ``case``."""
    topo, spec, sol = case.topography, case.cell, case.solver
    cells = estimate_cells(topo, spec)
    spec = concrete(topo, spec)
    if spec.structured:
        xs, zs = structured_grid(topo, spec)
        nxy = len(xs) - 1
        below = int((zs < 0).sum())
        above = len(zs) - 1 - below
        k = sol.creep_degree
        lattice = _half_lattice if spec.domain == "eighth" else _lattice
        current = lattice(nxy, above, sol.current_degree)
        creep = 3 * lattice(nxy, below, k) + lattice(nxy, below, k - 1)
        exact = True
    else:  # Pk nodes per tetrahedron of a Delaunay mesh, roughly (vertices ≈ cells / 5.5)
        per_cell = {1: 1 / 5.5, 2: 1.35, 3: 4.5}
        current = int(0.5 * cells * per_cell[sol.current_degree])
        k = sol.creep_degree
        creep = int(0.5 * cells * (3 * per_cell[k] + per_cell[k - 1]))
        exact = False
    ref_dofs, ref_time = REFERENCE_TIMES[sol.creep_degree]
    seconds = ref_time * (creep / ref_dofs) ** TIME_EXPONENT
    return Estimate(cells, current, creep, seconds, exact)
