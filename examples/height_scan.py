"""Scan the egg-box height from Python: f_max, Δp_max and the critical current against H/S.

    python examples/height_scan.py                 # serial, about 20 s
    mpirun -n 2 python -m mpi4py examples/height_scan.py

Every case is built from a case table (the same keys as a case file), run with ``run_case`` and
written with ``write_case_result`` under the output-folder rule, so each one can be reopened
with ``load_result`` or plotted with ``contour-fem plot``. Coarse P2/P1 meshes keep it quick:
for converged numbers drop the ``mesh`` and ``solver`` entries (the defaults).
"""

from __future__ import annotations

import sys
from pathlib import Path

from mpi4py import MPI

from contour_fem import config, load_result
from contour_fem.case import run_case
from contour_fem.io.output import staged_output
from contour_fem.io.results import write_case_result


def main(out: Path = Path("out/height_scan")) -> list[dict]:
    """Solve the three heights into ``out``; returns their result records."""
    comm = MPI.COMM_WORLD
    rows = []
    for height in (5.0, 25.0, 50.0):
        table = config.resolve({
            "name": f"eggbox_H{height:g}S150",
            "geometry": {"topography": "eggbox", "height_um": height, "separation_um": 150},
            "mesh": {"resolution": "coarse"},
            "solver": {"creep_degree": 2},
        })
        result = run_case(config.build_case(table), comm)
        folder = out / table["name"]
        # As `contour-fem solve` does: the folder must be new, or an earlier output of `solve`.
        with staged_output(folder, comm, "solve", overwrite=True) as stage:
            write_case_result(result, stage, config=table, fields=False)
        rows.append(load_result(folder).result)
    if comm.rank == 0:
        print("H/S    f_max    Δp_max (MPa)   i_crit/flat (k = 0.2 /MPa)")
        for r in rows:
            print(f"{r['height_um'] / r['separation_um']:.3f}  {r['max_current_ratio']:.5f}  "
                  f"{r['max_excess_pressure_MPa']:10.4f}     "
                  f"{r['critical_current_ratio_to_flat']:.4f}")
    return rows


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("out/height_scan"))
