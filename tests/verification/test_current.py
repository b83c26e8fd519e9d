"""Current distribution: small-amplitude closed form, scale invariance, conservation, observed
order of a smooth functional, the Wagner-number limit."""

import itertools
import math

from mpi4py import MPI

import pytest

from contour_fem.fem.utils import assemble_global
from contour_fem.geometry import CellSpec, EggBox, Flat
from contour_fem.mesh import create_cell_mesh
from contour_fem.physics.current import CurrentProblem, solve_current
from contour_fem.physics.parameters import Electrolyte, Kinetics
from contour_fem.studies.convergence import richardson

S = 150e-6
UM = 1e-6
KAPPA = Electrolyte().conductivity
T = 298.15


@pytest.fixture(scope="module")
def small_amplitude_mesh():
    return create_cell_mesh(MPI.COMM_SELF, EggBox(height=0.002 * S, period=S),
                            CellSpec(resolution="medium"))

# docs/model.md §8: f_max − 1 ≈ (K·H/2)/(1 + K·κ·R_int), K = 2√2·π/S (product egg-box).


@pytest.mark.parametrize("k_kappa_r", [None, 0.5, 3.0])
def test_small_amplitude_closed_form(small_amplitude_mesh, k_kappa_r):
    k = 2 * math.sqrt(2) * math.pi / S
    height = 0.002 * S
    if k_kappa_r is None:
        kin, damping = Kinetics(distribution="primary"), 1.0
    else:
        kin, damping = Kinetics(interfacial_resistance=k_kappa_r / (k * KAPPA)), 1 + k_kappa_r
    res = solve_current(small_amplitude_mesh, Electrolyte(), kin, 10.0)
    expected = (k * height / 2) / damping
    # Second-order terms (slope² and the extra area) are ~K·H/2 ≈ 1 % of the perturbation.
    assert res.f_max - 1 == pytest.approx(expected, rel=0.02)
    # At a crest, to within one element (nodal flux values oscillate slightly in P2).
    crest = EggBox(height=height, period=S)
    assert crest.equivalent_distance(res.f_max_location, [0, 0, height / 2]) < S / 24


def test_primary_distribution_is_scale_invariant():
    results = []
    for h, s in ((5 * UM, 30 * UM), (150 * UM, 900 * UM)):
        cm = create_cell_mesh(MPI.COMM_SELF, EggBox(height=h, period=s),
                              CellSpec(resolution="coarse"))
        results.append(solve_current(cm, Electrolyte(), Kinetics(distribution="primary"), 10.0))
    assert results[0].f_max == pytest.approx(results[1].f_max, rel=1e-4)
    assert results[0].area_ratio == pytest.approx(results[1].area_ratio, rel=1e-10)


@pytest.mark.parametrize("distribution", ["primary", "secondary"])
def test_current_is_conserved(distribution):
    cm = create_cell_mesh(MPI.COMM_SELF, EggBox(height=75 * UM, period=S),
                          CellSpec(resolution="coarse"))
    res = solve_current(cm, Electrolyte(), Kinetics(distribution=distribution), 10.0)
    assert res.conservation_error < 1e-8
    # The mean over the true area is i_geo / area ratio.
    assert res.mean_current_true_area == pytest.approx(10.0 / res.area_ratio, rel=1e-8)


def test_flat_interface_is_uniform():
    cm = create_cell_mesh(MPI.COMM_SELF, Flat(period=S), CellSpec(resolution="coarse"))
    for kin in (Kinetics(distribution="primary"), Kinetics()):
        res = solve_current(cm, Electrolyte(), kin, 10.0)
        values = res.interface_current.x.array[res.interface_dofs]
        assert max(abs(values / 10.0 - 1)) < 1e-9


@pytest.mark.parametrize("degree, sizes, expected", [(2, (6, 12, 24), 4.0),
                                                     (1, (12, 24, 48), 2.0)])
def test_observed_order_of_a_smooth_functional(degree, sizes, expected):
    # The mean potential at the top (the cell's interfacial + bulk resistance) is a smooth
    # linear functional: it converges at twice the element order under uniform refinement.
    topo = EggBox(height=25 * UM, period=S)
    values, hs = [], []
    for n in sizes:
        cm = create_cell_mesh(MPI.COMM_SELF, topo, CellSpec(interface_size=S / n, growth=0.0))
        prob = CurrentProblem(cm, Electrolyte(), Kinetics(), T, degree=degree)
        res = prob.solve(10.0)
        values.append(assemble_global(res.potential * prob.ds_top, MPI.COMM_SELF)
                      / prob.projected_area)
        hs.append(S / n)
        prob.destroy()
    conv = richardson(tuple(hs), tuple(values))
    # Tolerance: the coarsest meshes are still slightly pre-asymptotic (observed 1.89 / 4.12).
    assert conv.order == pytest.approx(expected, abs=0.3)


def test_secondary_f_max_falls_with_resistance_towards_uniform_true_area_current():
    cm = create_cell_mesh(MPI.COMM_SELF, EggBox(height=25 * UM, period=S),
                          CellSpec(resolution="coarse"))
    f_max = []
    for r_ohm_cm2 in (1.0, 10.0, 30.0, 1e4):
        res = solve_current(cm, Electrolyte(), Kinetics(interfacial_resistance=r_ohm_cm2 * 1e-4),
                            10.0)
        f_max.append(res.f_max)
    assert all(a > b for a, b in itertools.pairwise(f_max))
    # Large Wagner number: current spreads evenly over the true area, f → 1/area ratio.
    assert f_max[-1] == pytest.approx(1 / res.area_ratio, rel=1e-3)
