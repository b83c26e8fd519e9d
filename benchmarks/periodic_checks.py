"""The periodic-cell checks of the suite, with their numbers printed rather than asserted.

    mpirun -n 2 python -m mpi4py benchmarks/periodic_checks.py

- a 64 × 64 periodic height map of the product egg-box H25S150 (full periodic cell) against the
  analytic egg-box (its eighth cell): area ratio, f_max, Δp_max (P2/P1, ``coarse``);
- two modes with phase shifts (no mirror symmetry): f − 1 against the first-order closed form
  f − 1 = Σ |k|·a_k·cos(k·x + φ_k) / (1 + |k|·κ·R_int), primary and secondary, at ``coarse``
  and ``fine`` (the surface of tests/verification/test_periodic.py).
"""

from __future__ import annotations

import math
import sys

from mpi4py import MPI

import numpy as np

from contour_fem.case import Case, SolverSettings, run_case
from contour_fem.geometry import CellSpec, EggBox, HeightFunction
from contour_fem.geometry.heightmap import HeightMap
from contour_fem.mesh import create_cell_mesh
from contour_fem.physics.current import solve_current
from contour_fem.physics.parameters import Electrolyte, Kinetics

S, H = 150e-6, 25e-6
MODES = [(np.array([1.0, 0.0]), 8e-4 * S, 0.4), (np.array([1.0, 2.0]), 5e-4 * S, 1.3)]
K0 = 2 * math.pi / S


def _h(x, y):
    return sum(a * np.cos(K0 * (k[0] * x + k[1] * y) + phi) for k, a, phi in MODES)


def _grad(x, y):
    s = [(-a * K0 * np.sin(K0 * (k[0] * x + k[1] * y) + phi), k) for k, a, phi in MODES]
    return sum(v * k[0] for v, k in s), sum(v * k[1] for v, k in s)


def height_map(comm: MPI.Comm) -> str:
    cell, p2 = CellSpec(resolution="coarse"), SolverSettings(creep_degree=2)
    ref = run_case(Case(topography=EggBox(height=H, period=S), cell=cell, solver=p2), comm)
    n = 64
    gx, gy = np.meshgrid(np.arange(n) * S / n, np.arange(n) * S / n)
    z = 0.5 * H * np.cos(2 * math.pi * gx / S) * np.cos(2 * math.pi * gy / S)
    res = run_case(Case(topography=HeightMap.from_array(z, S / n), cell=cell, solver=p2), comm)
    return (f"height map ({res.case.cell.domain} cell, {res.creep.ndofs} creep DOFs) against the "
            f"egg-box: area ratio {res.current.area_ratio:.6f} vs {ref.current.area_ratio:.6f}, "
            f"f_max {res.current.f_max / ref.current.f_max - 1:+.2e}, "
            f"Δp_max {res.creep.dp_max / ref.creep.dp_max - 1:+.2e}")


def two_modes(comm: MPI.Comm) -> list[str]:
    topo = HeightFunction(func=_h, grad=_grad, period=S, name="two modes")
    g = np.linspace(-0.5, 0.5, 801) * S
    x, y = np.meshgrid(g, g)
    kappa = Electrolyte().conductivity
    lines = []
    for resolution in ("coarse", "fine"):
        msh = create_cell_mesh(comm, topo, CellSpec(resolution=resolution))
        for r_int in (None, 5e-4):
            kin = (Kinetics(distribution="primary") if r_int is None
                   else Kinetics(interfacial_resistance=r_int))
            f = solve_current(msh, Electrolyte(), kin, 10.0).f_max
            damp = [1.0 + (0.0 if r_int is None else np.linalg.norm(k) * K0 * kappa * r_int)
                    for k, _, _ in MODES]
            linear = sum(np.linalg.norm(k) * K0 * a * np.cos(K0 * (k[0] * x + k[1] * y) + phi)
                         / d for (k, a, phi), d in zip(MODES, damp, strict=True)).max()
            label = "primary" if r_int is None else f"R_int = {r_int * 1e4:g} Ω·cm²"
            lines.append(f"two modes, {resolution}, {label}: f − 1 = {f - 1:.5e} against "
                         f"{linear:.5e} ({(f - 1) / linear - 1:+.2%})")
    return lines


def main() -> int:
    comm = MPI.COMM_WORLD
    lines = [height_map(comm), *two_modes(comm)]
    if comm.rank == 0:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
