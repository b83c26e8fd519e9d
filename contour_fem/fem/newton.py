"""Damped Newton on a DOLFINx residual form, with lagged factorisations and an energy line search.

The solver knows no physics: the residual, its Jacobian, an optional convex potential and two
hooks (after each Jacobian assembly, before each update) are all it is given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mpi4py import MPI

import dolfinx
import dolfinx.fem.petsc as fem_petsc
import numpy as np
import ufl
from petsc4py import PETSc

from contour_fem.core.errors import InputError
from contour_fem.fem.jit import compile_form
from contour_fem.fem.petsc import PrefixedOptions, failure_reason

log = logging.getLogger(__name__)


@dataclass
class NewtonReport:
    """Outcome of one Newton solve.

    Attributes:
        converged: Whether a stopping test (rtol, atol, stol or floor) was met.
        reason: ``rtol``, ``atol``, ``stol``, ``floor``, ``max_it``, ``line_search``,
            ``linear_solve`` or ``nan``.
        iterations: Newton steps taken.
        linear_iterations: Krylov iterations summed over the steps.
        factorizations: Steps that rebuilt the preconditioner (LU: refactorised the Jacobian).
        residuals: ℓ2 norm of the residual before the first and after every step.
        steps: Line-search step length of every step.

    """

    converged: bool
    reason: str
    iterations: int = 0
    linear_iterations: int = 0
    factorizations: int = 0
    residuals: list[float] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)
    increments: list[float] = field(default_factory=list)


class NewtonSolver:
    """Damped Newton on a DOLFINx residual form, with its own options prefix.

    The Dirichlet values are imposed on the iterate first, so every update vanishes on Dirichlet
    dofs and the residual needs no lifting. Each step solves J·δ = −F with a KSP configured by
    ``options``, then backtracks (Armijo on ‖F‖, halving) from the full step. With
    ``lag_factorization`` (for LU presets run as GMRES preconditioned by the factorisation) a
    step that follows a full step which cut the residual by ``lag_ratio`` or more keeps the
    previous factors: near the solution the Jacobian barely changes, and a few GMRES iterations
    are far cheaper than a new factorisation. A lagged solve that fails is redone with new factors.

    Args:
        residual: UFL residual form F(u; v).
        u: The unknown (updated in place by :meth:`solve`).
        bcs: Dirichlet conditions.
        prefix: PETSc options prefix (unique per problem).
        options: KSP/PC options set under the prefix.
        jacobian: Bilinear form used as the Jacobian (default: the Gâteaux derivative of F).
        on_jacobian: Called after every Jacobian assembly, with ``u`` at the iterate (e.g. to
            refresh auxiliary preconditioner matrices).
        rtol: Converged when ‖F‖ ≤ rtol·R, R the reference residual: ‖F‖ at the start of the
            first solve since :meth:`reset_reference` (the scale of the problem's own data), so
            the test is free of units and scales; a solve that starts below it (a warm
            restart) stops at once, any other iterates at least once.
        atol: An absolute floor (default 0: none).
        stol: ... or when the full Newton step is below ``stol`` times the iterate's norm.
        floor_rtol: ... or when ‖F‖ ≤ floor_rtol·R and a full step no longer halves it: the
            residual has reached its round-off floor, which on ill-scaled problems (surfaces of
            small amplitude) lies above rtol·R and depends on the machine's arithmetic.
        max_it: Newton steps allowed.
        lag_factorization: Reuse the preconditioner in the quadratic phase (see above).
        lag_ratio: Residual reduction of the previous full step that allows reuse.
        min_step: Smallest line-search step before the solve is declared failed.
        energy: Optional scalar form E(u) whose gradient is F on the constraint set that the
            Newton steps keep (a convex potential). A trial step is then also accepted when it
            decreases E enough (Armijo). Whether that saves steps depends on the linearisation:
            see :class:`contour_fem.physics.creep.CreepProblem`, which uses it only where it does.
        constraint: Multi-point constraints u = P·û (:mod:`contour_fem.fem.constraints`): the
            steps solve PᵀJP·δ̂ = −PᵀF, every iterate keeps the constraints, and the residual
            norm is ‖PᵀF‖.
    """

    def __init__(self, residual, u, bcs, *, prefix: str, options: Mapping[str, object],
                 jacobian=None, on_jacobian: Callable[[], None] | None = None,
                 rtol: float = 1e-10, atol: float = 0.0, stol: float = 1e-9,
                 floor_rtol: float = 1e-8, max_it: int = 40,
                 lag_factorization: bool = False, lag_ratio: float = 0.2,
                 min_step: float = 2.0**-10, energy=None, constraint=None):
        if constraint is not None and on_jacobian is not None:
            raise InputError("constraints and auxiliary preconditioner matrices do not mix "
                             "(use a direct creep solver)")
        self.u, self.bcs = u, bcs
        self.F = compile_form(residual)
        self.E = None if energy is None else compile_form(energy)
        self.J = compile_form(jacobian if jacobian is not None else ufl.derivative(residual, u))
        self.A = fem_petsc.create_matrix(self.J)
        self.on_jacobian = on_jacobian
        V = u.function_space
        self.b = fem_petsc.create_vector(V)
        self.x = fem_petsc.create_vector(V)
        self.x_old = fem_petsc.create_vector(V)
        self.du = dolfinx.fem.Function(V)
        self.rtol, self.atol, self.stol, self.max_it = rtol, atol, stol, max_it
        self.floor_rtol = floor_rtol
        self.lag_ratio, self.min_step = lag_ratio, min_step
        #: The reference residual R of the relative test (None: the next solve's first ‖F‖).
        self.reference: float | None = None
        self._factored = False
        # The ``constant_jacobian`` tag of the solve whose Jacobian the factors (and A) hold.
        self._factors_tag: object = None
        # With constraints the Krylov solver sees the reduced system: Â = PᵀJP (kept across
        # steps, so factors can be lagged), F̂ = PᵀF, and the step δ = P·δ̂.
        self.mpc = constraint
        self.A_hat = None  # built at the first Jacobian (PtAP needs an assembled J)
        self.F_hat = None if constraint is None else constraint.create_vector()
        self.du_hat = None if constraint is None else constraint.create_vector()
        self.ksp = PETSc.KSP().create(self.A.getComm())
        self.ksp.setOptionsPrefix(prefix)
        if constraint is None:
            self.ksp.setOperators(self.A)
        self.prefix, self.options = prefix, dict(options)
        with PrefixedOptions(prefix, options):
            self.ksp.setFromOptions()
        # Stale factors need a Krylov method around them; ``preonly`` would accept them as exact.
        self.lag = lag_factorization and self.ksp.getType() != PETSc.KSP.Type.PREONLY

    def _sync(self, x: PETSc.Vec) -> None:
        x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        x.copy(self.u.x.petsc_vec)
        self.u.x.scatter_forward()

    def residual_norm(self) -> float:
        """Assemble F at the current iterate ``x`` into ``b``; return ‖F‖₂ (‖PᵀF‖₂)."""
        self._sync(self.x)
        with self.b.localForm() as loc:
            loc.set(0.0)
        fem_petsc.assemble_vector(self.b, self.F)
        self.b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        fem_petsc.set_bc(self.b, self.bcs, self.x, -1.0)  # x − g on Dirichlet dofs (zero here)
        if self.mpc is None:
            return self.b.norm()
        self.mpc.reduce_vector(self.b, self.F_hat)
        return self.F_hat.norm()

    def _assemble_jacobian(self) -> None:
        self.A.zeroEntries()
        fem_petsc.assemble_matrix(self.A, self.J, bcs=self.bcs)
        self.A.assemble()
        if self.mpc is not None:
            first = self.A_hat is None
            self.A_hat = self.mpc.reduce_matrix(self.A, self.A_hat)
            if first:
                self.ksp.setOperators(self.A_hat)
        if self.on_jacobian is not None:
            self.on_jacobian()

    def _linear_solve(self, reuse: bool) -> tuple[int, bool]:
        """δ from J·δ = −F (F in ``b``); returns (iterations, whether the factors were rebuilt)."""
        rhs, sol = (self.b, self.du.x.petsc_vec) if self.mpc is None else (self.F_hat,
                                                                            self.du_hat)
        rhs.scale(-1.0)
        pc = self.ksp.getPC()
        its = 0
        for fresh in ((False, True) if reuse else (True,)):
            pc.setReusePreconditioner(not fresh)
            sol.set(0.0)
            with PrefixedOptions(self.prefix, self.options):  # sub-solvers read them at setup
                self.ksp.solve(rhs, sol)
            its += self.ksp.getIterationNumber()
            if self.ksp.getConvergedReason() > 0:
                break
        rhs.scale(-1.0)
        if self.mpc is not None:
            self.mpc.expand(self.du_hat, self.du.x.petsc_vec)
        self.du.x.scatter_forward()
        return its, fresh and self.ksp.getConvergedReason() > 0

    def solve(self, start: Callable[[], None] | None = None,
              step: Callable[[dolfinx.fem.Function, float], None] | None = None,
              reuse: bool = False, constant_jacobian: object = None) -> NewtonReport:
        """Newton from the current ``u`` with its Dirichlet values imposed first.

        Args:
            start: Called once the initial iterate (with Dirichlet values) is in ``u``.
            step: Called as ``step(du, alpha)`` with ``u`` still at the old iterate, just before
                the update ``u += alpha·du`` is made (e.g. to update auxiliary variables).
            reuse: The first step may use the factors of the previous solve (for re-solves of
                a slightly changed problem from its old solution).
            constant_jacobian: A tag the caller gives when the Jacobian of this solve depends
                on neither the iterate nor anything the caller changes between solves with the
                same tag (a linear problem with new data). If the factors are those of the
                last solve with this tag, the first step neither assembles nor factorises.

        Returns:
            The report; ``converged`` is False on failure (nothing is raised).
        """
        r = self.initial_residual()
        if start is not None:
            start()
        rep = NewtonReport(converged=False, reason="max_it")
        rep.residuals.append(r)
        r0, lag_ok = r, reuse and self._factored
        same = constant_jacobian is not None and constant_jacobian == self._factors_tag
        if not same:
            self._factors_tag = None  # this solve assembles another Jacobian
        if self.reference is None:
            self.reference = r0
        while True:
            if not np.isfinite(r):
                rep.reason = "nan"
                break
            if r <= self.atol or r <= self.rtol * self.reference:
                rep.converged, rep.reason = True, ("atol" if r <= self.atol else "rtol")
                break
            if rep.iterations >= self.max_it:
                break
            if same and rep.iterations == 0:
                its, fresh = self._linear_solve(True)  # A and its factors are this Jacobian
            else:
                self._assemble_jacobian()
                its, fresh = self._linear_solve(self.lag and lag_ok)
            rep.linear_iterations += its
            if self.ksp.getConvergedReason() <= 0:
                rep.reason = "linear_solve"
                log.warning("%s: linear solve failed (%s)", self.prefix.rstrip("_"),
                            failure_reason(self.ksp))
                break
            rep.factorizations += int(fresh)
            self._factored = True
            if fresh:
                self._factors_tag = constant_jacobian
            if self.du.x.petsc_vec.norm() <= self.stol * self.x.norm():
                # The full Newton step is below round-off of the iterate: converged even if the
                # residual sits on its round-off floor (surfaces of small amplitude).
                self.x.axpy(1.0, self.du.x.petsc_vec)
                rep.iterations += 1
                rep.converged, rep.reason = True, "stol"
                break
            alpha, r_new = self._line_search(r)
            if alpha is None:
                rep.reason = "line_search"
                break
            if step is not None:
                self._sync(self.x)
                step(self.du, alpha)
            self.x.axpy(alpha, self.du.x.petsc_vec)
            self._sync(self.x)  # ``b`` already holds F here: the last trial was accepted
            lag_ok = alpha == 1.0 and r_new <= self.lag_ratio * r
            # Newton near the solution cuts the residual many-fold per full step; one that does
            # not halve it this close to the solution only stirs round-off.
            on_floor = (alpha == 1.0 and r_new > 0.5 * r
                        and r_new <= self.floor_rtol * self.reference)
            r = r_new
            rep.iterations += 1
            rep.residuals.append(r)
            rep.steps.append(alpha)
            increment = alpha * self.du.x.petsc_vec.norm() / max(self.x.norm(), 1e-300)
            rep.increments.append(increment)
            log.info("%s Newton %2d: |F| %.3e (%.1e of the reference), step %.3g, "
                     "|du|/|u| %.1e, %d linear iterations%s", self.prefix.rstrip("_"),
                     rep.iterations, r, r / self.reference if self.reference else np.nan, alpha,
                     increment, its, ", new factors" if fresh else "")
            if on_floor and not (r <= self.atol or r <= self.rtol * self.reference):
                rep.converged, rep.reason = True, "floor"
                break
        self._sync(self.x)
        return rep

    def initial_residual(self) -> float:
        """‖F‖ at ``u`` with the Dirichlet values and constraints imposed (``u`` is changed)."""
        self.u.x.petsc_vec.copy(self.x)
        fem_petsc.set_bc(self.x, self.bcs)
        if self.mpc is not None:
            self.mpc.enforce(self.x)
        return self.residual_norm()

    def reset_reference(self) -> None:
        """The next solve sets the reference residual (call when the problem's data change)."""
        self.reference = None

    def energy(self) -> float:
        """E at the iterate last synchronised into ``u`` (global value)."""
        local = dolfinx.fem.assemble_scalar(self.E)
        return self.u.function_space.mesh.comm.allreduce(local, op=MPI.SUM)

    def _line_search(self, r: float) -> tuple[float | None, float]:
        """Backtrack from the full step; leaves ``x`` at the old iterate on return.

        A step is accepted when it decreases ‖F‖ (Armijo), or E with its slope F·δ (Armijo).
        """
        self.x.copy(self.x_old)
        e0 = None
        if self.E is not None:
            slope = self.b.dot(self.du.x.petsc_vec)
            e0 = self.energy() if slope < 0 else None  # ``u`` holds the old iterate here
        alpha = 1.0
        while alpha >= self.min_step:
            self.x_old.copy(self.x)
            self.x.axpy(alpha, self.du.x.petsc_vec)
            r_new = self.residual_norm()  # also puts the trial iterate into ``u``
            ok = np.isfinite(r_new) and r_new <= (1.0 - 1e-4 * alpha) * r
            if not ok and e0 is not None and np.isfinite(r_new):
                e_new = self.energy()
                ok = np.isfinite(e_new) and e_new <= e0 + 1e-4 * alpha * slope
            self.x_old.copy(self.x)
            if ok:
                return alpha, r_new
            alpha *= 0.5
        self._sync(self.x)
        return None, r

    def destroy(self) -> None:
        """Free the PETSc objects."""
        for obj in (self.ksp, self.A, self.b, self.x, self.x_old, self.A_hat, self.F_hat,
                    self.du_hat):
            if obj is not None:
                obj.destroy()
