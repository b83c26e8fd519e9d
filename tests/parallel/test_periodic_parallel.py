"""Periodic full cells on 2 ranks: serial equals parallel, a measured map of an egg-box and a
shifted egg-box against the analytic quarter cell."""

import math

from mpi4py import MPI

import numpy as np
import pytest

from contour_fem.case import Case, SolverSettings, run_case
from contour_fem.geometry import CellSpec, EggBox
from contour_fem.geometry.heightmap import HeightMap

S, H = 150e-6, 25e-6
P2 = SolverSettings(creep_degree=2)
COARSE = CellSpec(resolution="coarse")


@pytest.fixture(scope="module")
def quarter():
    return run_case(Case(topography=EggBox(height=H, period=S), cell=COARSE, solver=P2),
                    MPI.COMM_WORLD)


def test_a_periodic_cell_gives_the_same_result_serial_and_in_parallel(shifted_eggbox):
    case = Case(topography=shifted_eggbox(S / 4),
                cell=CellSpec(resolution="coarse", interface_size=S / 8), solver=P2)
    par = run_case(case, MPI.COMM_WORLD)
    ser = run_case(case, MPI.COMM_SELF)
    assert par.current.f_max == pytest.approx(ser.current.f_max, rel=1e-9)
    assert par.creep.dp_max == pytest.approx(ser.creep.dp_max, rel=1e-6)
    assert par.critical_current == pytest.approx(ser.critical_current, rel=1e-6)


def test_a_height_map_of_the_eggbox_reproduces_the_analytic_case(quarter):
    n = 64
    x = np.arange(n) * S / n
    gx, gy = np.meshgrid(x, x)
    z = 0.5 * H * np.cos(2 * math.pi * gx / S) * np.cos(2 * math.pi * gy / S)
    hm = HeightMap.from_array(z, S / n)
    res = run_case(Case(topography=hm, cell=COARSE, solver=P2), MPI.COMM_WORLD)
    assert res.case.cell.domain == "full"
    assert res.current.area_ratio == pytest.approx(quarter.current.area_ratio, abs=1e-3)
    assert res.current.f_max == pytest.approx(quarter.current.f_max, rel=5e-3)
    assert res.creep.dp_max == pytest.approx(quarter.creep.dp_max, rel=2e-2)


def test_an_eggbox_shifted_by_a_quarter_period_on_two_ranks(quarter, shifted_eggbox):
    res = run_case(Case(topography=shifted_eggbox(S / 4), cell=COARSE, solver=P2),
                   MPI.COMM_WORLD)
    assert res.current.f_max == pytest.approx(quarter.current.f_max, rel=1e-4)
    assert res.creep.dp_max == pytest.approx(quarter.creep.dp_max, rel=1e-2)
