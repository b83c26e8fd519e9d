"""Newton in the creep exponent: continuation, and starts from other cases' solutions.

:func:`continue_in_n` is the solve behind :meth:`CreepProblem.solve
<contour_fem.physics.creep.problem.CreepProblem.solve>`. A cold start solves the Newtonian
(n = 1) problem, sets the regularisation from its strain rates, then runs Newton at the target
exponent, halving the continuation step on failure. A :class:`CreepStart` (sweeps) changes only
where Newton starts, never the equations or the tolerance, so the result is the cold start's to
the Newton tolerance:

- ``newtonian``: the Newtonian solution of these data on this mesh, computed by an earlier case
  (a sweep's n = 1 case of the same current); it replaces the Newtonian solve, whose reference
  residual is computed as a cold start's;
- ``other_data`` (no slip): the solution at the target exponent for other data (R_int, the
  current) on this mesh;
- ``lower`` (free slip): the solution of these data at a lower exponent 1 < n' < n. With free
  slip a solution for other data is a bad start (Nitsche imposes the interface data weakly: 33
  Newton steps instead of 18 for the egg-box H25S150 at n = 6.56 from R_int 70 to 17 Ω·cm²),
  but the same data at n' = 3 is a good one (10 steps; docs/performance.md).

A problem that has solved once re-solves from its own solution (coupling, root finding). The
Newtonian problem is linear, with one matrix for all data: consecutive Newtonian solves on one
problem (a sweep block's n = 1 cases) factorise it once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import dolfinx
import numpy as np

from contour_fem.core.errors import ConvergenceError
from contour_fem.fem.utils import all_cells

#: A :class:`~contour_fem.physics.creep.problem.CreepProblem` (not imported: the problem module
#: imports this one).
CreepProblem = Any

log = logging.getLogger(__name__)

#: Halvings of a continuation step in n before the solve is declared failed.
MAX_HALVINGS = 6
#: ``auto`` with free slip: a primal–dual step the line search would damp below this length
#: ends the primal–dual attempt, and the Newton solve restarts with standard Newton.
EXACT_BELOW_STEP = 0.25


@dataclass(frozen=True)
class CreepStart:
    """Solutions of earlier cases on the same mesh object that a creep solve may start from.

    Attributes:
        newtonian: The Newtonian (n = 1) solution of the same data
            (:attr:`~contour_fem.physics.creep.stress.CreepResult.newtonian`); used when the
            target exponent is above 1.
        other_data: The solution at the same exponent for other data
            (:attr:`~contour_fem.physics.creep.stress.CreepResult.state`); used with no slip.
        lower: ``(n', solution)`` of the same data at an exponent 1 < n' < n; used with free
            slip.
    """

    newtonian: np.ndarray | None = None
    other_data: np.ndarray | None = None
    lower: tuple[float, np.ndarray] | None = None


def solve_at(problem: CreepProblem, n: float, history: list[dict], reuse: bool = False) -> None:
    """Newton at exponent ``n`` from the current iterate; appends to ``history``.

    Raises:
        ConvergenceError: If Newton fails (with the history so far).
    """
    problem.n_exp.value = n
    floor = problem.newton.min_step

    def attempt(min_step: float, reuse: bool) -> dict:
        t0 = time.perf_counter()
        problem.newton.min_step = min_step
        try:
            # At n = 1 the Jacobian is the Stokes operator, the same for every iterate and data
            # (η̂ = L/3, m = 0): Newtonian solves on one problem share its factors.
            rep = problem.newton.solve(start=problem._start_dual, step=problem._update_dual,
                                       reuse=reuse,
                                       constant_jacobian="newtonian" if n == 1.0 else None)
        finally:
            problem.newton.min_step = floor
        standard = problem._exact or problem.primal_dual is None
        return {"n": n, "iterations": rep.iterations, "linear_iterations": rep.linear_iterations,
                "factorizations": rep.factorizations, "residuals": rep.residuals,
                "steps": rep.steps, "reason": rep.reason, "converged": rep.converged,
                "newton": "standard" if standard else "primal-dual",
                "time_s": time.perf_counter() - t0}

    if problem.may_turn_exact and not problem._exact and n in problem.damped_exponents:
        # Primal–dual Newton was damped at this n for other data on this problem (a sweep
        # block): start where its restart would, with standard Newton from the initial iterate.
        problem._exact = True
        entry = {**attempt(floor, reuse), "damped_before": True}
    elif problem.may_turn_exact and not problem._exact:
        start = problem.w.x.array.copy()
        entry = attempt(EXACT_BELOW_STEP, reuse)
        if entry["reason"] == "line_search":
            log.debug("creep n=%.3g: primal-dual step damped below %g after %d steps; "
                      "standard Newton from the start", n, EXACT_BELOW_STEP,
                      entry["iterations"])
            history.append({**entry, "reason": "damped"})
            problem.w.x.array[:] = start
            problem._exact = True
            problem.damped_exponents.add(n)
            entry = attempt(floor, reuse=False)
    else:
        entry = attempt(floor, reuse)
    history.append(entry)
    log.debug("creep n=%.3g: %d Newton its (%d factorisations), %s", n, entry["iterations"],
              entry["factorizations"], entry["reason"])
    if not entry["converged"]:
        raise ConvergenceError(
            f"creep Newton did not converge at n = {n:.3g} ({entry['reason']}) after "
            f"{entry['iterations']} iterations; residuals "
            f"{[f'{r:.3g}' for r in entry['residuals']]}",
            history=history,
        )


def _newtonian(problem: CreepProblem, history: list[dict], shared: np.ndarray | None) -> None:
    """The Newtonian solution as the iterate: solved, or ``shared`` with its reference."""
    problem.w.x.array[:] = 0.0
    if shared is None:
        problem.newton.reset_reference()  # the cold start's residual is the data's scale
        solve_at(problem, 1.0, history)  # Newtonian: independent of ε̂₀
    else:
        # What the solve above would compute: its reference (‖F‖ at rest, n = 1) and its
        # solution, a vector solved to the Newton tolerance on this mesh for these data.
        problem.n_exp.value = 1.0
        problem.set_reference()
        problem.w.x.array[:] = shared
        history.append({"n": 1.0, "iterations": 0, "linear_iterations": 0,
                        "factorizations": 0, "residuals": [], "steps": [], "reason": "shared",
                        "converged": True, "newton": "none", "time_s": 0.0})
    problem.newtonian_state = problem.w.x.array.copy()


def continue_in_n(problem: CreepProblem, continuation: list[float] | None,
                  initial_guess: CreepProblem | None,
                  start: CreepStart | None = None) -> list[dict]:
    """Newton from a warm start, or continuation in n from the Newtonian solution.

    Args:
        problem: The problem, with its data set.
        continuation: Exponents to step through before the target.
        initial_guess: A solved problem on another mesh of the same cell (mesh sequencing).
        start: Solutions of earlier cases to start from (:class:`CreepStart`).

    Returns:
        The continuation history, one entry per Newton solve.
    """
    start = start or CreepStart()
    steps = [*(continuation or []), problem.n_target]
    history: list[dict] = []
    problem.newtonian_state = None  # set below if this solve has the Newtonian of its data
    pending = []
    size = problem.w.x.array.shape

    def fits(vector) -> bool:
        return vector is not None and vector.shape == size

    if initial_guess is not None and initial_guess._warm:
        problem.set_reference()
        _interpolate_solution(problem, initial_guess)
        problem.eps0.value = initial_guess.eps0.value  # the same flow: the same regularisation
        problem._warm = True
    if problem._warm:
        # Warm start from the last solution (coupling and root-finding re-solves).
        backup = problem.w.x.array.copy()
        try:
            solve_at(problem, problem.n_target, history, reuse=True)
        except ConvergenceError:
            problem.w.x.array[:] = backup
            problem._warm = False
    if not problem._warm:
        shared = fits(start.newtonian) and problem.n_target > 1.0
        _newtonian(problem, history, start.newtonian if shared else None)
        problem.eps0.value = problem.regularisation * problem.flow_rate()
        pending = [s for s in steps if s > 1.0]
        no_slip = problem.creep.slip == "no-slip"
        if pending and no_slip and fits(start.other_data):
            begin, label = start.other_data, {"warm_start": True}
        elif (pending and not no_slip and start.lower is not None and fits(start.lower[1])
              and 1.0 < start.lower[0] < problem.n_target):
            begin, label = start.lower[1], {"from_n": start.lower[0]}
        else:
            begin = None
        if begin is not None:
            problem.w.x.array[:] = begin
            try:
                solve_at(problem, problem.n_target, history)
                history[-1].update(label)
                pending = []
            except ConvergenceError:
                problem.w.x.array[:] = problem.newtonian_state
    current_n = 1.0
    failures = 0
    while pending:
        target = pending[0]
        backup = problem.w.x.array.copy()
        try:
            solve_at(problem, target, history)
        except ConvergenceError:
            problem.w.x.array[:] = backup
            failures += 1
            if failures > MAX_HALVINGS:
                raise ConvergenceError(
                    f"creep Newton failed at n = {target:.3g} after {failures - 1} halvings "
                    f"of the continuation step (last step {target - current_n:.2g})",
                    history=history) from None
            pending.insert(0, 0.5 * (current_n + target))
            continue
        current_n = target
        pending.pop(0)
    problem._warm = True
    return history


def _interpolate_solution(problem: CreepProblem, other: CreepProblem) -> None:
    """Scaled velocity and pressure of ``other`` (another mesh) as ``problem``'s iterate."""
    cells = all_cells(problem.sub.mesh)
    for mine, dofs, theirs in zip((problem.V, problem.Q), (problem.v_map, problem.p_map),
                                  other.fields(), strict=True):
        data = dolfinx.fem.create_interpolation_data(mine, theirs.function_space, cells,
                                                     padding=1e-8 * problem.length)
        target = dolfinx.fem.Function(mine)
        target.interpolate_nonmatching(theirs, cells, data)
        problem.w.x.array[dofs] = target.x.array
    problem.w.x.scatter_forward()
