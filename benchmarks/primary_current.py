"""Mesh convergence of the primary current's maximum alone (a linear problem: fast).

    mpirun -n 2 python -m mpi4py benchmarks/primary_current.py geometries/pyramid_H25S150.toml \
        --set geometry.corner_radius_um=2 --set mesh.crease_size_um=0.125 --levels 0.667 1 1.5

For each refinement of the case's mesh family it solves only the primary current distribution
(no interface kinetics, no creep) and prints f_max, where it is reached, and the DOFs, as a
Markdown table. It separates what the current resolution of a crease does from what the creep
solve adds: ``contour-fem convergence`` runs the whole case. Times are printed, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import time

from mpi4py import MPI

from contour_fem import config
from contour_fem.case import primary_current
from contour_fem.core.units import UM
from contour_fem.mesh import create_cell_mesh


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("case", help="case file")
    p.add_argument("--levels", type=float, nargs="+", default=[2 / 3, 1.0, 1.5])
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = p.parse_args(argv)
    comm = MPI.COMM_WORLD
    overrides = config.parse_overrides(args.set)
    if comm.rank == 0:
        print("| level | current DOFs | f_max, primary | at (x, y, z) µm | s on "
              f"{comm.size} rank(s) |\n|---|---|---|---|---|", flush=True)
    for level in sorted(args.levels):
        case = config.build_case(config.load(args.case,
                                             overrides={**overrides, "mesh.refinement": level}))
        t0 = time.perf_counter()
        cell = create_cell_mesh(comm, case.topography, case.cell)
        result = primary_current(case, cell)
        if comm.rank == 0:
            at = ", ".join(f"{UM.from_si(c):.3f}" for c in result.f_max_location)
            print(f"| ×{level:.3g} | {result.ndofs:,} | {result.f_max:.6f} | {at} | "
                  f"{time.perf_counter() - t0:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
