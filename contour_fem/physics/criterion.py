"""Dendrite-growth criterion and the critical current (docs/model.md §5).

A *reconstruction* of the Li-filled crack model of Ning et al., Nature 618 (2023) 287, whose
closed form is not available to us: Li plated on the flanks of a crack (depth c, opening w)
holding a filament of length l must creep out of the crack mouth against the local interfacial
pressure p; the crack grows when the pressure at the filament tip reaches P* = K_Ic/(Y·√(π·c)).
The growth current is

    i_g(p) = K_g·(P* − p)^n  (p < P*),   K_g = F·C/(2·V_Li)·((n+1)/n)^n / l^(n+1),
    C = 2·3^((n+1)/2)·A·b^(n+2)/(n+2),   b = w/2,

that is i_g = i0·(1 − Δp/ΔP*)^m with i0 = K_g·ΔP*^n and the growth exponent m = n. The growth
exponent is kept as its own parameter (``criterion.growth_exponent``, docs/model.md §5.3): the tie
m = n rests on the filament creeping by the same law, which no experiment has tested.

With i_loc = f·i_geo, Δp = Δp1·(i_geo/i_ref)^(1/n) and u = i_geo/i0, growth at a point starts at
the smallest u with

    (f·u)^(1/m) + k·Δp1·u^(1/n) = 1,   k = (i0/i_ref)^(1/n)/ΔP*,

which for m = n is the closed form u = [f^(1/n) + k·Δp1]^(−n). The interface's critical current
is the minimum over x.
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
        creep_exponent: n, which scales Δp with the current.
        growth_exponent: m of the growth law.

    """

    flat_current: float
    pressure_margin: float
    k: float
    creep_exponent: float
    growth_exponent: float


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
    m = n if criterion.growth_exponent is None else criterion.growth_exponent
    i_ref = operating.reference_current
    if criterion.mode == "calibrated":
        i0 = criterion.flat_critical_current
        if criterion.k == 0:
            return FlatReference(i0, math.inf, 0.0, n, m)
        margin = (i0 / i_ref) ** (1.0 / n) / criterion.k
        return FlatReference(i0, margin, criterion.k, n, m)
    margin = critical_pressure(criterion) - operating.stack_pressure
    if margin <= 0:
        raise InputError(
            f"criterion: stack pressure {MPA.from_si(operating.stack_pressure):g} MPa is at or "
            f"above the crack-growth pressure P* = {MPA.from_si(critical_pressure(criterion)):.3g}"
            " MPa"
        )
    i0 = growth_prefactor(criterion, creep, operating.temperature) * margin**n
    return FlatReference(i0, margin, (i0 / i_ref) ** (1.0 / n) / margin, n, m)


def growth_current(excess_pressure: np.ndarray, ref: FlatReference) -> np.ndarray:
    """i_g at excess pressure Δp (Pa): i0·((ΔP* − Δp)/ΔP*)^m, 0 where Δp ≥ ΔP*."""
    if math.isinf(ref.pressure_margin):
        return np.full_like(np.asarray(excess_pressure, dtype=float), ref.flat_current)
    rel = np.clip(1.0 - np.asarray(excess_pressure, dtype=float) / ref.pressure_margin, 0.0, None)
    return ref.flat_current * rel**ref.growth_exponent


def pointwise_critical_current(f: np.ndarray, dp1: np.ndarray,
                               ref: FlatReference) -> np.ndarray:
    """Critical geometric current at each interface point, A/m².

    Args:
        f: i_loc / i_geo at the points.
        dp1: Excess pressure at the reference current i_ref that ``ref.k`` was made with, Pa.
        ref: Flat-interface constants (with the creep and growth exponents).

    Returns:
        i_crit(x); ``inf`` where no current grows a crack.

    """
    # k·Δp1 = Δp1·(i0/i_ref)^(1/n)/ΔP*: the pressure term at u = 1 (k = 0: no pressure term).
    b = ref.k * np.asarray(dp1, dtype=float)
    return ref.flat_current * critical_ratio(f, b, ref.growth_exponent, ref.creep_exponent)


def critical_ratio(f: np.ndarray, b: np.ndarray, m: float, n: float) -> np.ndarray:
    """Smallest u > 0 with (f·u)^(1/m) + b·u^(1/n) ≥ 1, elementwise (``inf`` if none).

    u is the critical current over flat at a point with current ratio f and pressure term
    b = k·Δp1. For m = n the closed form [f^(1/n) + b]^(−n); otherwise the first crossing is
    bracketed on the increasing branch of the left side and bisected in log u to round-off.

    Args:
        f: i_loc/i_geo (values ≤ 0 carry no current into a crack).
        b: k·Δp1 (dimensionless; negative where the pressure is below the stack pressure).
        m: Growth exponent.
        n: Creep exponent.

    """
    f = np.clip(np.asarray(f, dtype=float), 0.0, None)
    b = np.broadcast_to(np.asarray(b, dtype=float), f.shape)
    if abs(m - n) <= 1e-12 * n:  # the closed form (the general bracket degenerates as m → n)
        bracket = f ** (1.0 / n) + b
        out = np.full(f.shape, np.inf)
        pos = bracket > 0
        out[pos] = bracket[pos] ** (-n)
        return out
    return _first_crossing(f ** (1.0 / m), b, 1.0 / m, 1.0 / n)


def _first_crossing(a: np.ndarray, b: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Smallest u with g(u) = a·u^α + b·u^β ≥ 1 (a ≥ 0, α ≠ β), by bisection in t = ln u."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        la, lb = np.log(a), np.log(np.abs(b))
        # t at which each term alone reaches 1/2: below both, g < 1 when b ≥ 0.
        t_a, t_b = (np.log(0.5) - la) / alpha, (np.log(0.5) - lb) / beta
        t_peak = (np.log(np.abs(b) * beta) - np.log(a * alpha)) / (alpha - beta)  # g' = 0
        g_peak = np.exp(la + alpha * t_peak) * (1.0 - alpha / beta)  # g there (b < 0, α < β)
    out = np.full(a.shape, np.inf)
    lo, hi = np.full(a.shape, np.nan), np.full(a.shape, np.nan)
    up = b >= 0  # g increases everywhere: the root lies between the half-way points ×2
    both = up & (a > 0) & (b > 0)
    lo[both], hi[both] = np.minimum(t_a, t_b)[both], (np.minimum(t_a, t_b) + np.log(2.0) /
                                                       min(alpha, beta))[both]
    only_a = up & (a > 0) & (b == 0)
    out[only_a] = a[only_a] ** (-1.0 / alpha)
    only_b = up & (a == 0) & (b > 0)
    out[only_b] = b[only_b] ** (-1.0 / beta)
    neg = (b < 0) & (a > 0)
    if alpha > beta:  # g < 0 up to its minimum, then grows without bound: one crossing
        # g ≥ a·u^α/2 once a·u^α ≥ 2|b|·u^β and a·u^α ≥ 2.
        t_far = np.maximum((np.log(2.0) + lb - la) / (alpha - beta), (np.log(2.0) - la) / alpha)
        lo[neg], hi[neg] = t_peak[neg], np.maximum(t_far, t_peak)[neg]
    else:  # g rises to a maximum, then falls to −∞: a crossing only if the maximum reaches 1
        ok = neg & (g_peak >= 1.0)
        lo[ok], hi[ok] = np.minimum(t_a, t_peak)[ok], t_peak[ok]
    todo = np.isfinite(lo) & np.isfinite(hi)
    # u within e^±600 of 1 (ratios to flat of 1e±260 at most): beyond it, no crack in practice.
    cap = 600.0 / max(alpha, beta)
    lo, hi = np.clip(lo[todo], -cap, cap), np.clip(hi[todo], -cap, cap)
    a, b = a[todo], b[todo]

    def reaches(t):
        return a * np.exp(alpha * t) + b * np.exp(beta * t) >= 1.0

    for _ in range(200):  # the bracket is at most 2·cap wide: 2^-200 of it is round-off
        mid = 0.5 * (lo + hi)
        above = reaches(mid)
        hi, lo = np.where(above, mid, hi), np.where(above, lo, mid)
        if np.all(hi - lo <= 1e-15 * np.maximum(1.0, np.abs(hi))):
            break
    out[todo] = np.where(reaches(hi), np.exp(hi), np.inf)
    return out
