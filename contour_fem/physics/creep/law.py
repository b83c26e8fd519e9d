"""The J2 Norton (power-law) creep law as stateless UFL functions (docs/model.md §3).

Everything is in the scaled variables of :mod:`contour_fem.physics.creep.problem`: velocities in
units of the mean plating speed U, lengths of the period S (``length``), stresses of
Σ = (U/(S·A))^(1/n). In these units the uniaxial law ε̇ = A·σⁿ in J2 form gives

    η̂ = (L/3)·(ε̂² + ε̂₀²)^((1−n)/(2n)),   ε̂² = ⅔·L²·D:D,   D = sym ∇u,

for any A and current; ε̂₀ regularises the viscosity where the flow is at rest. The functions take
the exponent ``n`` and the regularisation ``eps0`` as UFL constants (or numbers), so one compiled
form serves every continuation step.
"""

from __future__ import annotations

import ufl


def strain_rate(u):
    """D(u) = sym ∇u."""
    return ufl.sym(ufl.grad(u))


def scaled_strain_rate2(u, length):
    """ε̂² = ⅔·L²·D:D, the squared effective strain rate in units of the scale rate."""
    d = strain_rate(u)
    return (2.0 / 3.0) * ufl.inner(d, d) * length**2


def norton_viscosity(u, n, eps0, length):
    """Scaled J2 Norton viscosity η̂ = (L/3)·(ε̂² + ε̂₀²)^((1−n)/(2n)), ε̂² = ⅔·L²·D:D.

    Args:
        u: Scaled velocity (UFL).
        n: Creep exponent (UFL constant or number).
        eps0: Regularisation ε̂₀ (relative to the strain-rate scale).
        length: Length scale L (m) of the scaling.
    """
    return (length / 3.0) * (scaled_strain_rate2(u, length) + eps0**2) ** ((1 - n) / (2 * n))


def stress(u, p, n, eps0, length):
    """Scaled Cauchy stress σ̂ = 2η̂·D(u) − p·I."""
    return 2.0 * norton_viscosity(u, n, eps0, length) * strain_rate(u) - p * ufl.Identity(3)


def dissipation_density(u, n, eps0, length):
    """Scaled dissipation potential density n/(L(n+1))·(ε̂² + ε̂₀²)^((n+1)/(2n)).

    Its derivative in u is the viscous residual 2η̂·D(u):D(v): with no slip the creep problem is
    the minimisation of its integral under ∇·u = 0.
    """
    eps2 = scaled_strain_rate2(u, length)
    return n / (length * (n + 1)) * (eps2 + eps0**2) ** ((n + 1) / (2 * n))


def strain_direction(u, eps0, length):
    """(D/ψ, ψ) with ψ = √(D:D + δ²), δ² = ε̂₀²/(⅔L²): the regularised unit strain-rate tensor."""
    d = strain_rate(u)
    psi = ufl.sqrt(ufl.inner(d, d) + eps0**2 / ((2.0 / 3.0) * length**2))
    return d / psi, psi


def viscous_tangent(u, du, v, n, eps0, length, direction):
    """Linearised viscous term 2η̂·[δD + ½m((D̂:δD)·S + (S:δD)·D̂)] : D(v), m = (1 − n)/n.

    With ``direction`` S = D̂ (the unit strain rate of ``u``) this is the exact derivative of the
    viscous residual (standard Newton); primal–dual Newton passes its independent S. The
    symmetrisation matches the exact Hessian of the dissipation potential; the form is positive
    definite because |S| ≤ 1 and m > −1.

    Args:
        u: Velocity at which the viscosity is linearised.
        du: Velocity trial function.
        v: Velocity test function.
        n: Creep exponent.
        eps0: Regularisation ε̂₀.
        length: Length scale L.
        direction: The tensor S (D̂ of ``u``, or the dual variable).
    """
    d_hat, _ = strain_direction(u, eps0, length)
    dd = strain_rate(du)
    m = (1 - n) / n
    lin = dd + 0.5 * m * (ufl.inner(d_hat, dd) * direction + ufl.inner(direction, dd) * d_hat)
    return 2.0 * norton_viscosity(u, n, eps0, length) * ufl.inner(lin, strain_rate(v))


def dual_update(u, du, dual, alpha, eps0, length):
    """S + α·δS from linearising ψ(D)·S = D at ``u`` along ``du``, clipped to |S| ≤ 1.

    The stress-based update of Rudi, Shih & Stadler (2020): δS = (δD − (D̂:δD)·S)/ψ + D̂ − S.
    """
    d_hat, psi = strain_direction(u, eps0, length)
    dd = strain_rate(du)
    new = dual + alpha * ((dd - ufl.inner(d_hat, dd) * dual) / psi + d_hat - dual)
    return new / ufl.max_value(ufl.sqrt(ufl.inner(new, new)), 1.0)
