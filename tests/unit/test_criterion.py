"""Criterion constants in physical mode (closed forms, no FEM)."""

import math
from dataclasses import replace

import pytest

from contour_fem.physics.criterion import critical_pressure, flat_reference, growth_prefactor
from contour_fem.physics.parameters import Creep, Criterion, Operating


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
