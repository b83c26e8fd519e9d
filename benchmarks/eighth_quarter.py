"""Eighth cell against quarter cell for a rounded frustum or pyramid (P2/P1), serially.

    python benchmarks/eighth_quarter.py --topography frustum --corner-radius-um 2 \
        --crease-um 0.5 --resolution coarse

Prints f_max, the primary f_max, Δp_max, the critical current, DOFs, Newton steps and time of
both cells. The suite checks the same at r = 4 µm (tests/verification/test_case.py), whose
quarter cell is cheap enough; at r = 2 µm the quarter cell takes about 15 min.
"""

from __future__ import annotations

import argparse
import sys
import time

from mpi4py import MPI

from contour_fem.case import Case, SolverSettings, run_case
from contour_fem.core.units import UM
from contour_fem.geometry import CellSpec, Frustum, Pyramid

S, H = UM.to_si(150.0), UM.to_si(25.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--topography", choices=("frustum", "pyramid"), default="frustum")
    p.add_argument("--corner-radius-um", type=float, default=2.0)
    p.add_argument("--crease-um", type=float, default=None, help="default: r/8")
    p.add_argument("--resolution", default="coarse")
    args = p.parse_args(argv)
    r = UM.to_si(args.corner_radius_um)
    topo = (Frustum(height=H, period=S, top_width=S / 4, gap=S / 4, corner_radius=r)
            if args.topography == "frustum" else Pyramid(height=H, period=S, corner_radius=r))
    crease = None if args.crease_um is None else UM.to_si(args.crease_um)
    for domain in ("eighth", "quarter"):
        t0 = time.perf_counter()
        res = run_case(Case(topography=topo, cell=CellSpec(resolution=args.resolution,
                                                            domain=domain, crease_size=crease),
                            solver=SolverSettings(creep_degree=2)), MPI.COMM_SELF)
        print(f"{domain:7s}: f_max {res.current.f_max:.12f}, primary "
              f"{res.primary_current_ratio:.12f}, Δp_max {res.creep.dp_max / 1e6:.10f} MPa, "
              f"critical {res.critical_current:.10e}, creep DOFs {res.creep.ndofs}, Newton "
              f"{res.creep.newton_iterations}, {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
