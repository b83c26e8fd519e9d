"""Current and creep together: pressure–kinetics coupling and the root-finding criterion.

- :func:`solve_current_and_creep`: the current at i_geo, then the creep flow it drives; with the
  coupling of docs/model.md §4, Picard iterations of the two (Aitken-relaxed): the excess pressure
  shifts the equilibrium potential by V_Li·Δp/F.
- :func:`root_find`: the critical current by re-solving at trial currents (docs/model.md §5,
  the general solver; equal to the closed form when the coupling is off).
- :func:`interface_pairs`: f and Δp at the same interface points, for the criterion.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from mpi4py import MPI

import dolfinx
import numpy as np
from scipy.optimize import brentq

from contour_fem.core.errors import ConvergenceError
from contour_fem.core.units import FARADAY
from contour_fem.fem.utils import owned
from contour_fem.physics.creep import CreepProblem, CreepResult, CreepStart
from contour_fem.physics.criterion import FlatReference, growth_current
from contour_fem.physics.current import CurrentProblem, CurrentResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Coupling:
    """Pressure–kinetics coupling settings.

    Attributes:
        enabled: Iterate current and creep to a fixed point.
        tol: Relative change of i_loc that ends the Picard iteration.
        max_it: Picard iterations allowed.
        molar_volume: V_Li, m³/mol (sets the shift V_Li·Δp/F).

    """

    enabled: bool
    tol: float
    max_it: int
    molar_volume: float


@dataclass
class CoupledSolution:
    """Current and creep at one geometric current.

    Attributes:
        current: The current distribution.
        creep: The creep flow.
        change: Relative changes of i_loc caused by the coupling, of its maximum
            (``max_current``) and the largest pointwise change (``pointwise``), both relative
            to the uncoupled maximum; None without coupling.
        iterations: Picard iterations (0 without coupling).

    """

    current: CurrentResult
    creep: CreepResult
    change: dict | None
    iterations: int


def to_electrolyte(current: CurrentProblem, field_li: dolfinx.fem.Function) -> np.ndarray:
    """Values of a Li-side interface field at the electrolyte's interface dofs."""
    return current.cell.transfer(field_li, current.V).x.array


def interface_pairs(current: CurrentProblem, cur: CurrentResult, crp: CreepResult):
    """F and Δp (Pa) at the same (owned) electrolyte interface dofs, with their coordinates (m)."""
    V = current.V
    own = owned(V, current.dofs)
    dp = to_electrolyte(current, crp.excess_pressure)
    f = cur.interface_current.x.array[own] / cur.geometric_current
    return f, dp[own], V.tabulate_dof_coordinates()[own]


def _max_abs(comm: MPI.Comm, values: np.ndarray) -> float:
    return comm.allreduce(float(np.abs(values).max(initial=0.0)), op=MPI.MAX)


def solve_current_and_creep(current: CurrentProblem, creep: CreepProblem, i_geo: float,
                            coupling: Coupling, timings: dict | None = None,
                            start: CreepStart | None = None) -> CoupledSolution:
    """Current and creep at ``i_geo`` (A/m²); with coupling, Picard iterations of the two.

    ``start`` is passed to the first creep solve (:meth:`CreepProblem.solve`).

    Raises:
        ConvergenceError: If a solve or the Picard iteration fails.
    """
    current.shift.x.array[:] = 0.0
    t0 = time.perf_counter()
    cur = current.solve(i_geo)
    t1 = time.perf_counter()
    crp = creep.solve(cur.interface_current, i_geo, start=start)
    if timings is not None:
        timings["current"] = t1 - t0
        timings["creep"] = time.perf_counter() - t1
    if not coupling.enabled:
        return CoupledSolution(cur, crp, None, 0)
    comm = current.comm
    own = owned(current.V, current.dofs)
    base = cur.interface_current.x.array.copy()
    f_max_uncoupled = cur.f_max
    scale = _max_abs(comm, base[own])
    r_int = current.r_int
    shift = current.shift.x.array
    mask = current.dofs < current.V.dofmap.index_map.size_local
    r_prev, relax = None, 0.5
    for it in range(coupling.max_it + 1):
        dp = to_electrolyte(current, crp.excess_pressure)
        # Pressure shifts the equilibrium potential by V_Li·Δp/F (docs/model.md §4). The
        # fixed-point residual is the current that the not-yet-applied part of that shift moves.
        r = coupling.molar_volume * dp[current.dofs] / FARADAY - shift[current.dofs]
        residual = _max_abs(comm, r[mask]) / (r_int * scale)
        log.debug("coupling iteration %d: fixed-point residual %.2e (relative current)", it,
                  residual)
        if residual <= coupling.tol:
            new = cur.interface_current.x.array
            change = {"max_current": abs(cur.f_max - f_max_uncoupled) / f_max_uncoupled,
                      "pointwise": _max_abs(comm, new[own] - base[own]) / scale}
            return CoupledSolution(cur, crp, change, it)
        if r_prev is not None:
            # Aitken's dynamic relaxation: the map's eigenvalue nears −1 at low current.
            dr = (r - r_prev)[mask]
            num = comm.allreduce(float(np.dot(r_prev[mask], dr)))
            den = comm.allreduce(float(np.dot(dr, dr)))
            if den > 0:
                relax = float(np.clip(-relax * num / den, 0.02, 1.0))
        r_prev = r
        shift[current.dofs] += relax * r
        cur = current.solve(i_geo)
        crp = creep.solve(cur.interface_current, i_geo)
    raise ConvergenceError(
        f"pressure–kinetics coupling did not converge in {coupling.max_it} iterations")


def root_find(current: CurrentProblem, creep: CreepProblem, coupling: Coupling,
              ref: FlatReference, guess: float, rtol: float) -> float:
    """Critical current (A/m²) by brentq on g(i) = max_x (i_loc − i_g(Δp)) / i.

    Every evaluation re-solves current and creep at the trial current i (with the coupling if
    enabled), so this is the general solver of the criterion.

    Args:
        current: The current problem.
        creep: The creep problem.
        coupling: Coupling settings.
        ref: Flat-interface constants of the criterion.
        guess: The closed-form critical current, A/m² (brackets the root).
        rtol: Relative tolerance of the root.
    """
    comm = current.comm

    def margin(log_i: float) -> float:
        i_geo = math.exp(log_i)
        sol = solve_current_and_creep(current, creep, i_geo, coupling)
        f, dp, _ = interface_pairs(current, sol.current, sol.creep)
        local = f * i_geo - growth_current(dp, ref)
        value = comm.allreduce(float(local.max(initial=-np.inf)), op=MPI.MAX) / i_geo
        log.debug("root finding: i_geo = %.6g A/m², margin %.3e", i_geo, value)
        return value

    if not math.isfinite(guess):
        raise ConvergenceError("root finding: no point of the interface can grow a crack")
    # The closed form is exact without coupling and close with it: bracket tightly around it.
    lo, hi = math.log(guess) - 0.05, math.log(guess) + 0.05
    while margin(lo) > 0:
        lo -= 0.2
    while margin(hi) < 0:
        hi += 0.2
    return math.exp(brentq(margin, lo, hi, xtol=rtol, rtol=rtol))
