"""Dendrite-growth criterion and the critical current (docs/model.md §5).

A *reconstruction* of the Li-filled crack model of Ning et al., Nature 618 (2023) 287, whose
closed form is not available to us: Li plated on the flanks of a crack (depth c, opening w)
holding a filament of length l must creep out of the crack mouth against the local interfacial
pressure p; the crack grows when the pressure at the filament tip reaches P* = K_Ic/(Y·√(π·c)).
The growth current is

    i_g(p) = K_g·(P* − p)^n  (p < P*),   K_g = F·C/(2·V_Li)·((n+1)/n)^n / l^(n+1),
    C = 2·3^((n+1)/2)·A·b^(n+2)/(n+2),   b = w/2.

With i_loc = f·i_geo and Δp = Δp1·(i_geo/i_ref)^(1/n), growth at a point starts at

    i_crit(x) = [(f/i0)^(1/n) + Δp1/(ΔP*·i_ref^(1/n))]^(−n),   i0 = K_g·ΔP*^n,

and the interface's critical current is the minimum over x.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from contour_fem.core.errors import InputError
from contour_fem.core.units import FARADAY, MPA
from contour_fem.physics.parameters import Creep, Criterion, Operating


@dataclass(frozen=True)
class FlatReference:
    """Criterion constants of the flat interface.

    Attributes:
        flat_current: i0, the critical current of a flat interface, A/m².
        pressure_margin: ΔP* = P* − P_stack, Pa.
        k: (i0/i_ref)^(1/n)/ΔP*, 1/Pa.

    """

    flat_current: float
    pressure_margin: float
    k: float


def growth_prefactor(criterion: Criterion, creep: Creep, temperature: float) -> float:
    """K_g of the physical mode, A/m² per Paⁿ."""
    n = creep.exponent
    amp = creep.prefactor_at(temperature)
    b = 0.5 * criterion.crack_opening
    c = 2.0 * 3.0 ** ((n + 1) / 2) * amp * b ** (n + 2) / (n + 2)
    return (FARADAY * c / (2.0 * creep.molar_volume) * ((n + 1) / n) ** n
            / criterion.filament_length ** (n + 1))


def critical_pressure(criterion: Criterion) -> float:
    """P* = K_Ic / (Y·√(π·c)), Pa."""
    return criterion.fracture_toughness / (
        criterion.geometry_factor * math.sqrt(math.pi * criterion.crack_depth))


def flat_reference(criterion: Criterion, creep: Creep, operating: Operating) -> FlatReference:
    """i0, ΔP* and k in either mode.

    Raises:
        InputError: In physical mode, if the stack pressure already exceeds P*.

    """
    n = creep.exponent
    i_ref = operating.reference_current
    if criterion.mode == "calibrated":
        i0 = criterion.flat_critical_current
        if criterion.k == 0:
            return FlatReference(i0, math.inf, 0.0)
        margin = (i0 / i_ref) ** (1.0 / n) / criterion.k
        return FlatReference(i0, margin, criterion.k)
    margin = critical_pressure(criterion) - operating.stack_pressure
    if margin <= 0:
        raise InputError(
            f"criterion: stack pressure {MPA.from_si(operating.stack_pressure):g} MPa is at or "
            f"above the crack-growth pressure P* = {MPA.from_si(critical_pressure(criterion)):.3g}"
            " MPa"
        )
    i0 = growth_prefactor(criterion, creep, operating.temperature) * margin**n
    return FlatReference(i0, margin, (i0 / i_ref) ** (1.0 / n) / margin)


def growth_current(excess_pressure: np.ndarray, ref: FlatReference, n: float) -> np.ndarray:
    """i_g at excess pressure Δp (Pa): i0·((ΔP* − Δp)/ΔP*)^n, 0 where Δp ≥ ΔP*."""
    if math.isinf(ref.pressure_margin):
        return np.full_like(np.asarray(excess_pressure, dtype=float), ref.flat_current)
    rel = np.clip(1.0 - np.asarray(excess_pressure, dtype=float) / ref.pressure_margin, 0.0, None)
    return ref.flat_current * rel**n


def pointwise_critical_current(
    f: np.ndarray, dp1: np.ndarray, ref: FlatReference, n: float, i_ref: float
) -> np.ndarray:
    """Critical geometric current at each interface point (closed form), A/m².

    Args:
        f: i_loc / i_geo at the points.
        dp1: Excess pressure at i_ref, Pa.
        ref: Flat-interface constants.
        n: Creep exponent.
        i_ref: Current at which ``dp1`` was computed, A/m².

    Returns:
        i_crit(x); ``inf`` where the bracket is ≤ 0 (the point never grows a crack).

    """
    f = np.asarray(f, dtype=float)
    bracket = (np.clip(f, 0.0, None) / ref.flat_current) ** (1.0 / n)
    if not math.isinf(ref.pressure_margin):
        scale = ref.pressure_margin * i_ref ** (1.0 / n)
        bracket = bracket + np.asarray(dp1, dtype=float) / scale
    out = np.full(bracket.shape, np.inf)
    pos = bracket > 0
    out[pos] = bracket[pos] ** (-n)
    return out
