"""Serial against parallel for the benchmark's rounded pyramid and frustum (r = 2 µm, P2/P1).

    mpirun -n 2 python -m mpi4py benchmarks/serial_parallel.py [--resolution coarse]
        [--refinement 1] [--samples pyramid frustum]

Each case runs on all ranks, then on rank 0 alone; the script prints the relative differences
of f_max, the primary f_max, Δp_max and the critical current. (The suite checks the same at
r = 4 µm, whose meshes are cheaper: tests/parallel/test_topographies_parallel.py.)
"""

from __future__ import annotations

import argparse
import sys

from mpi4py import MPI

from contour_fem.case import Case, SolverSettings, run_case
from contour_fem.geometry import CellSpec, Frustum, Pyramid

S, H, R = 150e-6, 25e-6, 2e-6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--resolution", default="coarse")
    p.add_argument("--refinement", type=float, default=1.0,
                   help="mesh.refinement (the benchmark: 1 on standard, 2/3 its coarse level)")
    p.add_argument("--samples", nargs="+", choices=("pyramid", "frustum"),
                   default=["pyramid", "frustum"])
    args = p.parse_args(argv)
    comm = MPI.COMM_WORLD
    topographies = {"pyramid": Pyramid(height=H, period=S, corner_radius=R),
                    "frustum": Frustum(height=H, period=S, top_width=S / 4, gap=S / 4,
                                       corner_radius=R)}
    for name in args.samples:
        topo = topographies[name]
        case = Case(topography=topo, cell=CellSpec(resolution=args.resolution,
                                                   refinement=args.refinement),
                    solver=SolverSettings(creep_degree=2))
        par = run_case(case, comm)
        ser = run_case(case, MPI.COMM_SELF) if comm.rank == 0 else None
        if comm.rank == 0:
            pairs = {"f_max": (par.current.f_max, ser.current.f_max),
                     "primary f_max": (par.primary_current_ratio, ser.primary_current_ratio),
                     "Δp_max": (par.creep.dp_max, ser.creep.dp_max),
                     "critical current": (par.critical_current, ser.critical_current)}
            print(f"{name} ({par.case.cell.domain} cell, {comm.size} ranks vs 1): " + ", ".join(
                f"{k} {abs(a / b - 1):.1e}" for k, (a, b) in pairs.items()), flush=True)
        comm.barrier()
    return 0


if __name__ == "__main__":
    sys.exit(main())
