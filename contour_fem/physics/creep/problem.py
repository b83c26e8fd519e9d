"""Power-law creep of lithium driven by plating: the problem and its solve (docs/model.md §3).

Steady Stokes flow of a J2 power-law solid in the Li region, Taylor–Hood P2/P1 (or P3/P2):

    ∇·σ = 0,  ∇·u = 0,  σ = −p I + 2η D(u),  η = ⅓ A^(−1/n) ε̇_e^((1−n)/n),  ε̇_e = √(⅔ D:D),

with u = −(i_loc V_Li/F)·n on the interface (exact normal of the topography), u·n = 0 and zero
shear on the mirror planes, and a bottom plate moving at the mean plating speed (or zero traction).

The equations are solved in scaled form (:mod:`~contour_fem.physics.creep.law`): velocities in
units of U = i_geo·V_Li/F (the mean plating speed), lengths of S, stresses of Σ = (U/(S·A))^(1/n),
so the scaled viscosity holds for any A and current; ε̂² is regularised to ε̂² + ε̂₀² with ε̂₀
(default 1e-3) far below the flow's strain rates, and the exact scaling Δp ∝ i_geo^(1/n) is kept.
Newton (with a backtracking line search) starts from the Newtonian solution and continues in n,
halving the step on failure. By default it is primal–dual Newton
(:mod:`~contour_fem.physics.creep.primal_dual`); with free slip a solve whose steps it damps
restarts with standard Newton (:func:`newton_variant`). With no slip the line search also
accepts a step that decreases the dissipation potential Ψ̂ (the problem is its convex
minimisation under ∇·u = 0, which every step keeps): the residual norm alone can reject good
steps where the viscosity changes by orders of magnitude. Stress recovery:
:mod:`~contour_fem.physics.creep.stress`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from mpi4py import MPI  # noqa: F401  (must load before PETSc/DOLFINx)

import basix.ufl
import dolfinx
import dolfinx.fem.petsc
import numpy as np
import ufl
from petsc4py import PETSc

from contour_fem.core.errors import InputError
from contour_fem.core.units import FARADAY
from contour_fem.fem.jit import compile_form
from contour_fem.fem.newton import NewtonSolver
from contour_fem.fem.petsc import SADDLE_POINT_PRESETS, preset
from contour_fem.fem.utils import assemble_global, dof_pairs
from contour_fem.mesh import CellMesh
from contour_fem.physics.creep import boundary, law, stress
from contour_fem.physics.creep.continuation import CreepStart, continue_in_n
from contour_fem.physics.creep.preconditioner import creep_preconditioner
from contour_fem.physics.creep.primal_dual import DualDirection
from contour_fem.physics.parameters import Creep, Operating

log = logging.getLogger(__name__)

PlatingInput = dolfinx.fem.Function | Callable[[np.ndarray], np.ndarray]
#: Linearisations of the viscous term.
NEWTON_VARIANTS = ("primal-dual", "standard")
#: Choices of ``[solver] newton``: a linearisation, or ``auto`` (:func:`newton_variant`).
NEWTON_CHOICES = ("auto", *NEWTON_VARIANTS)
#: Velocity degrees k of the Taylor–Hood pair Pk/Pk−1 (``[solver] creep_degree``).
CREEP_DEGREES = (2, 3)


def newton_variant(choice: str, slip: str) -> tuple[str, bool]:
    """The linearisation a ``[solver] newton`` choice starts with, and whether it may turn exact.

    ``auto`` is primal–dual Newton. With free slip, a Newton solve whose primal–dual step the
    line search would damp below
    :data:`~contour_fem.physics.creep.continuation.EXACT_BELOW_STEP` restarts from its initial
    iterate with standard Newton (the exact Jacobian), and the rest of the case stays standard;
    so do later solves at that exponent on the same problem (a sweep block's other data).
    Primal–dual J is not the derivative of the residual, so its step need not decrease ‖F‖;
    with no slip the energy line search accepts its steps, but with free slip the line search
    has only ‖F‖ to go by (Nitsche's form is no gradient of Ψ̂), and there primal–dual steps
    can stall at lengths of 1/8–1/128 for dozens of steps (docs/model.md §3.7, measured in
    docs/performance.md).

    Returns:
        (``primal-dual`` or ``standard``, whether a solve may restart with standard Newton).
    """
    if choice not in NEWTON_CHOICES:
        raise InputError(f"newton must be one of {', '.join(NEWTON_CHOICES)}, got {choice!r}")
    if choice != "auto":
        return choice, False
    return "primal-dual", slip == "free-slip"


class CreepProblem:
    """Norton creep in the Li region of one cell mesh; forms are compiled once and reused.

    Args:
        cell: Unit-cell mesh.
        creep: Creep law and boundary options.
        operating: Temperature, reference current (sets the velocity scale).
        quadrature_degree: Quadrature degree of the viscous term (default 2 × ``degree``).
        regularisation: ε̂₀ relative to the flow's own strain rates: the RMS effective strain
            rate of the Newtonian (n = 1) solution, which does not depend on ε̂₀. Relative to
            the flow, not to U/S, so that surfaces of small amplitude (slow shearing) are
            regularised as little as steep ones.
        solver: Name of a preset in :data:`contour_fem.fem.petsc.SADDLE_POINT_PRESETS`.
        prefix: PETSc options prefix of this problem.
        rtol: Relative residual tolerance of Newton.
        max_it: Newton iterations allowed per continuation step.
        newton: ``primal-dual`` (stress-based linearisation), ``standard``, or ``auto`` (the
            default: primal–dual, restarting standard where free slip damps it;
            :func:`newton_variant`).
        degree: Velocity degree k of the Taylor–Hood pair Pk/Pk−1 (2 or 3).
        recovery: Trace space of Δp, one of :data:`.stress.STRESS_RECOVERIES`.
    """

    def __init__(
        self,
        cell: CellMesh,
        creep: Creep,
        operating: Operating,
        *,
        quadrature_degree: int | None = None,
        regularisation: float = 1e-3,
        solver: str = "mumps",
        prefix: str = "creep_",
        rtol: float = 1e-10,
        max_it: int = 40,
        newton: str = "auto",
        degree: int = 2,
        recovery: str = stress.DEFAULT_STRESS_RECOVERY,
    ):
        newton, self.may_turn_exact = newton_variant(newton, creep.slip)
        self._exact = False  # primal–dual Newton turned standard for the rest of this solve
        #: Exponents where primal–dual was damped: later solves there start standard.
        self.damped_exponents: set[float] = set()
        if degree not in CREEP_DEGREES:
            raise InputError(f"creep velocity degree must be 2 or 3, got {degree!r}")
        self.cell, self.creep, self.operating = cell, creep, operating
        self.prefix, self.degree = prefix, degree
        self.quad_degree = quadrature_degree if quadrature_degree is not None else 2 * degree
        self.topo = cell.topography
        self.sub = sub = cell.submesh("lithium")
        msh = sub.mesh
        self.comm = msh.comm
        self.length = self.topo.period
        self.n_target = creep.exponent
        self.prefactor = creep.prefactor_at(operating.temperature)
        # Scales of the current solve (set by :meth:`solve`): U (m/s) and Σ (Pa).
        self.velocity_scale = float("nan")
        self.stress_scale = float("nan")

        cell_type = msh.basix_cell()
        Pu = basix.ufl.element("Lagrange", cell_type, degree, shape=(3,))
        Pp = basix.ufl.element("Lagrange", cell_type, degree - 1)
        self.W = W = dolfinx.fem.functionspace(msh, basix.ufl.mixed_element([Pu, Pp]))
        # Spaces built directly, not by W.sub(i).collapse(): interpolation into a collapsed
        # P3 space gives wrong values in DOLFINx 0.11, so dofs are paired here instead.
        self.V = dolfinx.fem.functionspace(msh, Pu)
        self.Q = dolfinx.fem.functionspace(msh, Pp)
        self.S2 = dolfinx.fem.functionspace(msh, ("Lagrange", degree))  # scalar velocity space
        self.v_map = dof_pairs(W.sub(0), self.V)  # V dof -> W dof
        self.p_map = dof_pairs(W.sub(1), self.Q)  # Q dof -> W dof
        self.w = dolfinx.fem.Function(W)

        self.n_exp = dolfinx.fem.Constant(msh, PETSc.ScalarType(1.0))
        self.regularisation = regularisation
        self.eps0 = dolfinx.fem.Constant(msh, PETSc.ScalarType(regularisation))
        self._rate2 = compile_form(law.scaled_strain_rate2(ufl.split(self.w)[0], self.length)
                                   * ufl.dx)
        self.li_volume = assemble_global(1.0 * ufl.dx(domain=msh), self.comm)
        self.normal = dolfinx.fem.Function(self.V, name="normal")
        self.normal.interpolate(lambda x: self.topo.normal(x[0], x[1]).T)
        self.plating = dolfinx.fem.Function(self.S2, name="plating_ratio")  # i_loc / i_geo
        self.g = dolfinx.fem.Function(self.V, name="interface_velocity")
        self._g_expr = dolfinx.fem.Expression(-self.plating * self.normal,
                                              self.V.element.interpolation_points)
        self.plate = dolfinx.fem.Function(self.V)
        self.ds_if = sub.ds("interface")
        self.if_dofs = dolfinx.fem.locate_dofs_topological(self.S2, 2, sub.facets("interface"))
        self.recovery_space = stress.recovery_space(recovery, sub, degree)  # None: on S2
        self.ds_bottom = sub.ds("lithium_bottom")
        self.bottom_area = assemble_global(1.0 * self.ds_bottom, self.comm)
        self.bottom_dofs = dolfinx.fem.locate_dofs_topological(self.V, 2,
                                                               sub.facets("lithium_bottom"))

        self.newton_variant = newton
        u, _ = ufl.split(self.w)
        self.primal_dual = (DualDirection(self.w, self.eps0, self.length, self.quad_degree)
                            if newton == "primal-dual" else None)
        # The S of the Jacobian: the dual variable, or D̂ of the iterate (standard Newton).
        self.direction = (self.primal_dual.dual if self.primal_dual is not None
                          else law.strain_direction(u, self.eps0, self.length)[0])
        F_visc, F_rest = self._residual()
        dw = ufl.TrialFunction(W)
        du, _ = ufl.split(dw)
        v, _ = ufl.TestFunctions(W)
        J = self.viscous_tangent(du, v) + ufl.derivative(F_rest, self.w, dw)
        (x0, x1), (y0, y1) = cell.x_range, cell.y_range
        eighth, periodic = cell.spec.domain == "eighth", cell.spec.domain == "full"
        if (eighth or periodic) and solver == "fieldsplit":
            raise InputError("the iterative creep solver takes no multi-point constraints (the "
                             "eighth cell's diagonal, periodic sides): use solver.creep = mumps, "
                             "or mesh.domain = quarter for a mirror-symmetric surface")
        pin = (x0, y0, cell.z_bottom)
        if periodic:  # a corner is a periodic slave: pin an interior bottom node instead
            pin = boundary.centre_pin(self.Q, sub, (0.5 * (x0 + x1), 0.5 * (y0 + y1)))
        self.bcs, self.pin_q = boundary.boundary_conditions(
            W, self.V, self.Q, self.S2, sub, slip=creep.slip, bottom=creep.bottom,
            interface_velocity=self.g, plate_velocity=self.plate, pin_point=pin,
            tolerance=1e-9 * self.length, diagonal=eighth, periodic=periodic)
        self.constraint = None
        if eighth:
            self.constraint = boundary.diagonal_constraint(W, self.V, sub, self.bcs)
        elif periodic:
            self.constraint = boundary.periodic_constraint(W, cell, self.bcs)
        #: Whether the line search may accept steps on Ψ̂: only with no slip (Nitsche's form is
        #: no gradient) and primal–dual Newton (standard Newton then wanders: H75S150, n = 8,
        #: coarse: 38 steps instead of 19).
        self.energy_line_search = creep.slip == "no-slip" and newton == "primal-dual"
        self.energy = law.dissipation_density(u, self.n_exp, self.eps0, self.length) * self.dx
        options = preset(SADDLE_POINT_PRESETS, solver)
        self.newton = NewtonSolver(F_visc + F_rest, self.w, self.bcs, prefix=prefix,
                                   options=options, jacobian=J,
                                   on_jacobian=self._update_pc if solver == "fieldsplit" else None,
                                   rtol=rtol, max_it=max_it, lag_factorization=True,
                                   energy=self.energy if self.energy_line_search else None,
                                   constraint=self.constraint)
        self._warm = False  # True once a solution at the target exponent exists
        #: The scaled Newtonian solution of the last solve's data (None if it had none).
        self.newtonian_state: np.ndarray | None = None
        self.pc = (creep_preconditioner(self, prefix, options) if solver == "fieldsplit"
                   else None)

    # -- forms -------------------------------------------------------------------------------
    @property
    def dx(self) -> ufl.Measure:
        """Volume measure with the quadrature degree of the viscous forms."""
        return ufl.dx(metadata={"quadrature_degree": self.quad_degree})

    def viscosity(self, u):
        """Scaled viscosity η̂(u) at the current exponent."""
        return law.norton_viscosity(u, self.n_exp, self.eps0, self.length)

    def viscous_tangent(self, du, v):
        """The linearised viscous term for any velocity trial and test functions (a form)."""
        u, _ = ufl.split(self.w)
        return law.viscous_tangent(u, du, v, self.n_exp, self.eps0, self.length,
                                   self.direction) * self.dx

    def _residual(self):
        """(viscous term, everything else): Newton linearises the two differently."""
        u, p = ufl.split(self.w)
        v, q = ufl.TestFunctions(self.W)
        eta = self.viscosity(u)
        F_visc = 2.0 * eta * ufl.inner(law.strain_rate(u), law.strain_rate(v)) * self.dx
        F = -p * ufl.div(v) * ufl.dx - q * ufl.div(u) * ufl.dx
        if self.creep.slip == "free-slip":
            F += boundary.free_slip_terms(
                u, p, v, q, normal=self.normal, interface_velocity=self.g,
                h=boundary.cell_size(self.sub.mesh), n=self.n_exp, eps0=self.eps0,
                length=self.length,
                ds=self.ds_if(metadata={"quadrature_degree": self.quad_degree}))
        return F_visc, F

    def _update_pc(self) -> None:
        if self.pc is not None:
            self.pc.update()

    def _start_dual(self) -> None:
        if self.primal_dual is not None:
            self.primal_dual.start()

    def _update_dual(self, du: dolfinx.fem.Function, alpha: float) -> None:
        if self.primal_dual is None:
            return
        if not self._exact:
            self.primal_dual.update(du, alpha)
            return
        # Standard Newton with the primal–dual forms: S = D̂ of the next iterate. ``w`` is the
        # old iterate here; it is moved only to evaluate D̂ (Newton then sets it from its copy).
        self.w.x.array[:] += alpha * du.x.array
        self.primal_dual.start()
        self.w.x.array[:] -= alpha * du.x.array

    def prepare(self, creep: Creep, operating: Operating, max_it: int) -> CreepProblem:
        """This problem, as new, for another case with the same forms (sweeps reuse it).

        Only what no form holds may differ: the exponent, the prefactor and molar volume, the
        operating point and the Newton iteration limit. Reuse keeps the compiled forms, matrices,
        symbolic factorisation, Newtonian factors and :attr:`damped_exponents`.

        Raises:
            InputError: If the slip or the bottom condition differ (they are in the forms).
        """
        if (creep.slip, creep.bottom) != (self.creep.slip, self.creep.bottom):
            raise InputError("a creep problem is reused only with the same slip and bottom "
                             "condition")
        self.creep, self.operating = creep, operating
        self.n_target = creep.exponent
        self.prefactor = creep.prefactor_at(operating.temperature)
        self.newton.max_it = max_it
        self.newton.reset_reference()
        self._warm = self._exact = False
        self.newtonian_state = None
        return self

    def destroy(self) -> None:
        """Free the PETSc solver objects (they hold callbacks into this object)."""
        self.newton.destroy()
        for obj in (self.pc, self.constraint):
            if obj is not None:
                obj.destroy()

    # -- solve -------------------------------------------------------------------------------
    def set_plating(self, plating: PlatingInput, geometric_current: float) -> None:
        """Set the interface plating current i_loc (A/m²): a Function on any mesh, or a callable.

        A callable receives points of shape (3, N) in m and returns i_loc at them.
        """
        i_geo = geometric_current
        if isinstance(plating, dolfinx.fem.Function):
            tmp = self.cell.transfer(plating, self.S2)
            self.plating.x.array[:] = tmp.x.array / i_geo
        elif callable(plating):
            self.plating.interpolate(lambda x: np.asarray(plating(x), dtype=float) / i_geo)
        else:
            raise InputError("plating must be a dolfinx Function or a callable i_loc(x)")
        self.plating.x.scatter_forward()

    def solve(self, plating: PlatingInput, geometric_current: float,
              continuation: list[float] | None = None,
              initial_guess: CreepProblem | None = None,
              start: CreepStart | None = None) -> stress.CreepResult:
        """Solve the creep flow for the plating current ``plating`` (A/m²).

        Args:
            plating: Interface current (see :meth:`set_plating`).
            geometric_current: i_geo, A/m²: sets the velocity and stress scales.
            continuation: Exponents to step through before the target (default: straight from
                the Newtonian solution to the target, halving the step on failure).
            initial_guess: A solved problem on another (coarser) mesh of the same cell: Newton
                starts from its solution (mesh sequencing), falling back to continuation.
            start: Solutions of earlier cases on this same mesh object to start from
                (:class:`~contour_fem.physics.creep.continuation.CreepStart`: the Newtonian
                solution of the same data, the solution for other data, or the same data at a
                lower exponent). They change where Newton starts, not the result (the cold
                start's to the Newton tolerance); one that fails falls back to continuation.

        Raises:
            ConvergenceError: With the iteration history if Newton fails at the smallest step.

        """
        t0 = time.perf_counter()
        if not geometric_current > 0:
            raise InputError(f"geometric current must be > 0, got {geometric_current!r}")
        self.velocity_scale = geometric_current * self.creep.molar_volume / FARADAY
        rate = self.velocity_scale / self.length
        self.stress_scale = (rate / self.prefactor) ** (1.0 / self.n_target)
        self.set_plating(plating, geometric_current)
        self.g.interpolate(self._g_expr)
        self.g.x.scatter_forward()
        plate_speed = 0.0
        if self.creep.bottom == "plate":
            # Discrete flux balance, so the all-Dirichlet Stokes problem is compatible.
            n_h = ufl.FacetNormal(self.sub.mesh)
            flux = assemble_global(ufl.dot(self.g, n_h) * self.ds_if, self.comm)
            plate_speed = flux / self.bottom_area  # scaled, negative = downward
            self.plate.x.array[2::3] = plate_speed
            self.plate.x.scatter_forward()
        history = continue_in_n(self, continuation, initial_guess, start)
        return stress.recover(self, geometric_current, plate_speed, history,
                              time.perf_counter() - t0)

    def set_reference(self) -> None:
        """The Newton reference residual: ‖F‖ at rest with the data imposed (a cold start)."""
        self.w.x.array[:] = 0.0
        self.newton.reference = self.newton.initial_residual()

    def flow_rate(self) -> float:
        """RMS effective strain rate of the current iterate, in units of U/S (global).

        A flow without shear (a flat interface: the Li moves as a rigid body) returns 1.
        """
        local = dolfinx.fem.assemble_scalar(self._rate2)
        rms = (self.comm.allreduce(local) / self.li_volume) ** 0.5
        return rms if rms > 1e-9 else 1.0

    def fields(self) -> tuple[dolfinx.fem.Function, dolfinx.fem.Function]:
        """Copies of the (scaled) velocity and pressure of the current iterate."""
        u, p = dolfinx.fem.Function(self.V), dolfinx.fem.Function(self.Q)
        u.x.array[:] = self.w.x.array[self.v_map]
        p.x.array[:] = self.w.x.array[self.p_map]
        return u, p
