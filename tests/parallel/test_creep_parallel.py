"""Creep: serial equals parallel (MUMPS P2/P1 and P3/P2, fieldsplit)."""

from mpi4py import MPI

import pytest

from contour_fem.geometry import CellSpec, EggBox
from contour_fem.mesh import create_cell_mesh
from contour_fem.physics.creep import CreepProblem
from contour_fem.physics.current import solve_current
from contour_fem.physics.parameters import Creep, Electrolyte, Kinetics, Operating

S = 150e-6
UM = 1e-6
I_REF = 10.0


@pytest.mark.parametrize(("degree", "solver"), [
    pytest.param(2, "mumps", marks=pytest.mark.ranks3), (3, "mumps"),
    pytest.param(2, "fieldsplit", marks=pytest.mark.ranks3)])
def test_serial_equals_parallel(degree, solver):
    comm = MPI.COMM_WORLD
    if comm.size < 2:
        pytest.skip("needs mpirun -n 2")
    topo = EggBox(height=25 * UM, period=S)
    out = {}
    for name, c in (("par", comm), ("ser", MPI.COMM_SELF)):
        # The iterative solver takes no diagonal constraint: quarter cells for it.
        domain = "quarter" if solver == "fieldsplit" else "auto"
        cm = create_cell_mesh(c, topo, CellSpec(resolution="coarse", domain=domain))
        cur = solve_current(cm, Electrolyte(), Kinetics(), I_REF)
        prob = CreepProblem(cm, Creep(), Operating(), degree=degree, solver=solver)
        res = prob.solve(cur.interface_current, I_REF)
        out[name] = (res.dp_max, res.dp_min, res.plate_velocity)
        prob.destroy()
    for a, b in zip(out["par"], out["ser"], strict=True):
        assert a == pytest.approx(b, rel=1e-6)
