"""Serial equals parallel for the sharp and rounded pyramid and frustum (their creases once made
2-rank results differ by 0.7 %: kinks evaluated with a one-sided normal)."""

from mpi4py import MPI

import pytest

from contour_fem.case import Case, SolverSettings, run_case
from contour_fem.geometry import CellSpec, Frustum, Pyramid

S, H = 150e-6, 25e-6
P2 = SolverSettings(creep_degree=2)


@pytest.mark.parametrize("topo, cell", [
    (Pyramid(height=H, period=S), CellSpec(resolution="coarse")),
    (Pyramid(height=H, period=S, corner_radius=4e-6),
     CellSpec(resolution="coarse", crease_size=2e-6)),
    (Frustum(height=H, period=S, top_width=S / 4, gap=S / 4, corner_radius=4e-6),
     CellSpec(resolution="coarse", crease_size=2e-6)),
], ids=["pyramid sharp", "pyramid r=4", "frustum r=4"])
def test_creased_surfaces_give_the_same_result_serial_and_in_parallel(topo, cell):
    case = Case(topography=topo, cell=cell, solver=P2)
    par, ser = run_case(case, MPI.COMM_WORLD), run_case(case, MPI.COMM_SELF)
    assert par.case.cell.domain == "eighth"
    assert par.current.f_max == pytest.approx(ser.current.f_max, rel=1e-9)
    assert par.primary_current_ratio == pytest.approx(ser.primary_current_ratio, rel=1e-9)
    assert par.creep.dp_max == pytest.approx(ser.creep.dp_max, rel=1e-6)
    assert par.critical_current == pytest.approx(ser.critical_current, rel=1e-6)
