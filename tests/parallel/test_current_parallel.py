"""Current distribution: serial equals parallel."""

from mpi4py import MPI

import pytest

from contour_fem.fem.utils import assemble_global
from contour_fem.geometry import CellSpec, EggBox
from contour_fem.mesh import create_cell_mesh
from contour_fem.physics.current import CurrentProblem
from contour_fem.physics.parameters import Electrolyte, Kinetics

S = 150e-6
UM = 1e-6
T = 298.15


@pytest.mark.ranks3
def test_serial_equals_parallel():
    comm = MPI.COMM_WORLD
    if comm.size < 2:
        pytest.skip("needs mpirun -n 2")
    topo = EggBox(height=25 * UM, period=S)
    out = {}
    for name, c in (("par", comm), ("ser", MPI.COMM_SELF)):
        cm = create_cell_mesh(c, topo, CellSpec(resolution="coarse"))
        for kin in (Kinetics(distribution="primary"), Kinetics()):
            prob = CurrentProblem(cm, Electrolyte(), kin, T)
            res = prob.solve(10.0)
            top = assemble_global(res.potential * prob.ds_top, c)
            out[name, kin.primary] = (res.f_max, top, res.mean_current_true_area)
    for primary in (True, False):
        for a, b in zip(out["par", primary], out["ser", primary], strict=True):
            assert a == pytest.approx(b, rel=1e-8)
