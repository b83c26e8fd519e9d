"""Criterion constants and the pointwise critical current (closed forms, no FEM)."""

import math
from dataclasses import replace

import numpy as np
import pytest

from contour_fem.physics.criterion import (
    critical_pressure,
    critical_ratio,
    flat_reference,
    growth_current,
    growth_prefactor,
    pointwise_critical_current,
)
from contour_fem.physics.parameters import (
    FLOW_STRESS_REF,
    STRAIN_RATE_REF,
    Creep,
    Criterion,
    Operating,
)


def test_physical_mode_constants():
    cri, creep, op = Criterion(mode="physical"), Creep(), Operating()
    p_star = critical_pressure(cri)
    assert p_star == pytest.approx(0.23e6 / (1.12 * math.sqrt(math.pi * 100e-6)))
    ref = flat_reference(cri, creep, op)
    assert ref.flat_current == pytest.approx(growth_prefactor(cri, creep, op.temperature)
                                             * (p_star - 7e6) ** creep.exponent)
    # The default crack opening was chosen to give i0 ≈ 1 mA/cm² (docs/model.md §6 order).
    assert ref.flat_current == pytest.approx(10.0, rel=0.05)
    # Higher pressure, longer and narrower cracks all lower the growth current (docs/model.md §5).
    assert flat_reference(cri, creep, replace(op, stack_pressure=8e6)).flat_current < \
        ref.flat_current
    assert flat_reference(replace(cri, filament_length=150e-6), creep, op).flat_current < \
        ref.flat_current
    assert flat_reference(replace(cri, crack_opening=15e-6), creep, op).flat_current < \
        ref.flat_current


def _closed_form(f, b, n):
    """The m = n closed form of docs/model.md §5, written out independently."""
    bracket = np.clip(f, 0, None) ** (1 / n) + b
    return np.where(bracket > 0, np.abs(bracket) ** (-n), np.inf)


def test_growth_exponent_equal_to_creep_exponent_is_the_closed_form():
    rng = np.random.default_rng(3)
    f, b = rng.uniform(0.2, 3.0, 500), rng.uniform(-0.5, 2.0, 500)
    n = 6.56
    exact = _closed_form(f, b, n)
    assert np.allclose(critical_ratio(f, b, n, n), exact, rtol=1e-12)
    # The general solver is continuous at m = n: an m a millionth away moves u by ~1e-5.
    finite = np.isfinite(exact)
    for m in (n * (1 - 1e-6), n * (1 + 1e-6)):
        near = critical_ratio(f, b, m, n)
        assert np.all(np.isinf(near[~finite]) | (near[~finite] > 1e200))
        assert np.allclose(near[finite], exact[finite], rtol=1e-4)


def test_growth_exponent_one_against_a_hand_calculation():
    # m = 1, n = 2: f·u + b·√u = 1 is a quadratic in √u: √u = (−b + √(b² + 4f)) / (2f).
    f = np.array([1.0, 2.0, 0.5, 1.3, 0.8])
    b = np.array([0.0, 0.3, 0.7, -0.2, -0.9])
    root = (-b + np.sqrt(b**2 + 4 * f)) / (2 * f)
    assert np.allclose(critical_ratio(f, b, 1.0, 2.0), root**2, rtol=1e-13)
    # Pressure alone (f = 0): b·√u = 1.
    assert critical_ratio(np.array([0.0]), np.array([0.5]), 1.0, 2.0)[0] == pytest.approx(4.0)


def test_growth_exponent_above_n_with_suction_may_never_crack():
    # m = 4, n = 2, b < 0: g(u) = √√(f·u)... rises to a maximum below 1 when the suction is strong.
    f, m, n = np.array([1.0, 1.0]), 4.0, 2.0
    b = np.array([-0.1, -2.0])
    u = critical_ratio(f, b, m, n)
    assert np.isfinite(u[0]) and np.isinf(u[1])
    g = (f[0] * u[0]) ** (1 / m) + b[0] * u[0] ** (1 / n)
    assert g == pytest.approx(1.0, abs=1e-12)
    # The first crossing: just below u the growth law still wins.
    below = u[0] * (1 - 1e-9)
    assert (f[0] * below) ** (1 / m) + b[0] * below ** (1 / n) < 1.0


def test_flat_reference_carries_the_growth_exponent():
    op = Operating()
    ref = flat_reference(Criterion(), Creep(), op)
    assert ref.growth_exponent == ref.creep_exponent == Creep().exponent
    ref1 = flat_reference(Criterion(growth_exponent=1.0), Creep(), op)
    assert ref1.growth_exponent == 1.0
    # At Δp = 0 the growth current is i0 whatever m; at Δp = ΔP*/2 it is i0/2^m.
    assert growth_current(np.array([0.0]), ref1)[0] == pytest.approx(ref1.flat_current)
    half = 0.5 * ref1.pressure_margin
    assert growth_current(np.array([half]), ref1)[0] == pytest.approx(0.5 * ref1.flat_current)
    # The pointwise current of a flat interface (f = 1, Δp = 0) is i0 for any m.
    for m in (1.0, 3.0, 6.56):
        r = flat_reference(Criterion(growth_exponent=m), Creep(), op)
        assert pointwise_critical_current(np.ones(3), np.zeros(3), r) == \
            pytest.approx(r.flat_current, rel=1e-12)


def test_creep_prefactor_follows_the_exponent_through_the_pinned_flow_point():
    default = Creep()
    assert default.prefactor == pytest.approx(7.73e-3 * 1e6**-6.56, rel=1e-14)
    for n in (1.0, 3.0, 6.56, 9.0):
        law = Creep(exponent=n)
        assert law.prefactor * FLOW_STRESS_REF**n == pytest.approx(STRAIN_RATE_REF, rel=1e-12)
    # A 0.4 MPa flow stress at about 2e-5 /s: inside Masias's measured range.
    assert 1e-6 < STRAIN_RATE_REF < 1e-3
    # A prefactor given explicitly is kept.
    assert Creep(exponent=1.0, prefactor=1e-9).prefactor == 1e-9
