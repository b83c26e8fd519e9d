"""Power-law (Norton) creep of lithium driven by plating, and the interfacial pressure (MODEL §3).

Steady Stokes flow of a J2 power-law solid in the Li region, Taylor–Hood P2/P1 (or P3/P2):

    ∇·σ = 0,  ∇·u = 0,  σ = −p I + 2η D(u),  η = ⅓ A^(−1/n) ε̇_e^((1−n)/n),  ε̇_e = √(⅔ D:D),

with u = −(i_loc V_Li/F)·n on the interface (exact normal of the topography), u·n = 0 and zero
shear on the mirror planes, and a bottom plate moving at the mean plating speed (or zero traction).

The equations are solved in scaled form: velocities in units of U = i_geo·V_Li/F (the mean plating
speed), lengths of S, stresses of Σ = (U/(S·A))^(1/n). The scaled viscosity η̂ = (S/3)·ε̂^((1−n)/n)
then holds for any A and current; ε̂² is regularised to ε̂² + ε̂₀² with ε̂₀ (default 1e-3) far below
the flow's strain rates, so the exact power-law scaling Δp ∝ i_geo^(1/n) is kept. Newton (with a
backtracking line search) starts from the Newtonian solution and continues in n, halving the step
on failure. By default it is the primal–dual (stress-based) Newton method of Rudi, Shih & Stadler
(2020): the strain-rate direction in the Jacobian, D/|D|, is replaced by an independent variable S
at the quadrature points, updated from each step, and the result symmetrised. With no slip the
line search also accepts a step that decreases the dissipation potential Ψ̂ (the problem is
its convex minimisation under ∇·u = 0, which every step keeps): the residual norm alone can reject
good steps where the viscosity changes by orders of magnitude.
The interfacial excess pressure is the L2 projection of −n·σ·n on the interface trace space, with
the datum set so that the mean normal stress on the bottom plate equals the stack pressure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mpi4py import MPI  # noqa: F401  (must load before PETSc/DOLFINx)

import basix.ufl
import dolfinx
import dolfinx.fem.petsc
import numpy as np
import ufl
from petsc4py import PETSc

from contour_fem.constants import FARADAY
from contour_fem.errors import ConvergenceError, InputError
from contour_fem.fem_utils import (
    assemble_global,
    boundary_projection,
    global_argmax,
    owned,
    write_vtx,
)
from contour_fem.mesh import CellMesh
from contour_fem.parameters import Creep, Operating
from contour_fem.solvers import CREEP_PRESETS, NewtonSolver, compile_form, preset
from contour_fem.stokes_pc import StokesPreconditioner

log = logging.getLogger(__name__)

PlatingInput = dolfinx.fem.Function | Callable[[np.ndarray], np.ndarray]
NEWTON_VARIANTS = ("primal-dual", "standard")
# Side faces and the velocity component that vanishes on each (mirror symmetry).
MIRROR_PLANES = (("side_x0", 0), ("side_x1", 0), ("side_y0", 1), ("side_y1", 1))


def _dof_pairs(sub: dolfinx.fem.FunctionSpace, space: dolfinx.fem.FunctionSpace) -> np.ndarray:
    """Index in ``sub``'s parent of every local dof (unrolled) of ``space``, a copy of ``sub``."""
    msh = space.mesh
    tdim = msh.topology.dim
    imap = msh.topology.index_map(tdim)
    cells = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
    bs = space.dofmap.index_map_bs
    nlocal = space.dofmap.index_map.size_local + space.dofmap.index_map.num_ghosts
    out = np.full(nlocal * bs, -1, dtype=np.int32)
    for c in range(bs):
        pair = (sub.sub(c), space.sub(c)) if bs > 1 else (sub, space)
        parent, mine = dolfinx.fem.locate_dofs_topological(pair, tdim, cells)
        out[mine] = parent
    if (out < 0).any():
        raise RuntimeError("dof pairing between the mixed space and its component failed")
    return out


def scaled_strain_rate2(u, length):
    """ε̂² = ⅔·L²·D:D, the squared effective strain rate in units of the scale rate."""
    d = ufl.sym(ufl.grad(u))
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


@dataclass
class CreepResult:
    """Creep solution on the lithium submesh (SI units).

    Attributes:
        velocity: Li velocity, m/s.
        pressure: Hydrostatic pressure relative to the stack pressure, Pa.
        excess_pressure: Δp = −n·σ·n − P_stack at the interface dofs, Pa (0 elsewhere).
        dp_max: Maximum of Δp, Pa, and ``dp_max_location`` where it is reached, m.
        newton_iterations: Newton iterations summed over the continuation steps.
        history: One entry per continuation step (n, iterations, residual norms).

    """

    velocity: dolfinx.fem.Function
    pressure: dolfinx.fem.Function
    excess_pressure: dolfinx.fem.Function
    geometric_current: float
    dp_max: float
    dp_max_location: list[float]
    dp_min: float
    plate_velocity: float
    ndofs: int
    newton_iterations: int
    linear_iterations: int
    history: list[dict]
    wall_time_s: float
    extra: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """Scalars only, JSON-friendly (MPa, µm)."""
        return {
            "geometric_current_A_m2": self.geometric_current,
            "max_excess_pressure_MPa": self.dp_max / 1e6,
            "max_excess_pressure_location_um": [c * 1e6 for c in self.dp_max_location],
            "min_excess_pressure_MPa": self.dp_min / 1e6,
            "plate_velocity_m_s": self.plate_velocity,
            "ndofs": self.ndofs,
            "newton_iterations": self.newton_iterations,
            "linear_iterations": self.linear_iterations,
            "continuation": self.history,
            "wall_time_s": self.wall_time_s,
        }

    def write(self, path) -> None:
        """Write velocity and excess pressure (P2) to a VTX folder for ParaView."""
        write_vtx(path, [self.velocity, self.excess_pressure])


class CreepProblem:
    """Norton creep in the Li region of one cell mesh; forms are compiled once and reused.

    Args:
        cell: Unit-cell mesh.
        creep: Creep law and boundary options.
        operating: Temperature, reference current (sets the velocity scale).
        quadrature_degree: Quadrature degree of the viscous term (default 2 × ``degree``).
        regularisation: ε̂₀, relative to the flow's strain-rate scale U/S.
        solver: Name of a preset in :data:`contour_fem.solvers.CREEP_PRESETS`.
        prefix: PETSc options prefix of this problem.
        rtol: Relative residual tolerance of Newton.
        max_it: Newton iterations allowed per continuation step.
        newton: ``primal-dual`` (stress-based linearisation, default) or ``standard``.
        degree: Velocity degree k of the Taylor–Hood pair Pk/Pk−1 (2 or 3).

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
        newton: str = "primal-dual",
        degree: int = 2,
    ):
        if newton not in NEWTON_VARIANTS:
            raise InputError(f"newton must be one of {', '.join(NEWTON_VARIANTS)}, got {newton!r}")
        if degree not in (2, 3):
            raise InputError(f"creep velocity degree must be 2 or 3, got {degree!r}")
        self.cell, self.creep, self.operating = cell, creep, operating
        self.prefix = prefix
        self.quad_degree = quadrature_degree if quadrature_degree is not None else 2 * degree
        self.nitsche_penalty = 20.0
        self.topo = cell.topography
        sub = cell.submesh("lithium")
        self.sub = sub
        msh = sub.mesh
        self.comm = msh.comm
        self.length = self.topo.period
        self.n_target = creep.exponent
        self.prefactor = creep.prefactor_at(operating.temperature)

        self.degree = degree
        cell_type = msh.basix_cell()
        Pu = basix.ufl.element("Lagrange", cell_type, degree, shape=(3,))
        Pp = basix.ufl.element("Lagrange", cell_type, degree - 1)
        W = dolfinx.fem.functionspace(msh, basix.ufl.mixed_element([Pu, Pp]))
        self.W = W
        # Spaces built directly, not by W.sub(i).collapse(): interpolation into a collapsed
        # P3 space gives wrong values in DOLFINx 0.11, so dofs are paired here instead.
        self.V = dolfinx.fem.functionspace(msh, Pu)
        self.Q = dolfinx.fem.functionspace(msh, Pp)
        self.S2 = dolfinx.fem.functionspace(msh, ("Lagrange", degree))  # scalar velocity space
        self.v_map = _dof_pairs(W.sub(0), self.V)  # V dof -> W dof
        self.p_map = _dof_pairs(W.sub(1), self.Q)  # Q dof -> W dof
        # Scalar dof k sits at block dof s_block[k] of V.
        self.s_block = _dof_pairs(self.V.sub(0), self.S2) // 3
        self.w = dolfinx.fem.Function(W)

        self.n_exp = dolfinx.fem.Constant(msh, PETSc.ScalarType(1.0))
        self.eps0 = dolfinx.fem.Constant(msh, PETSc.ScalarType(regularisation))
        self.normal = dolfinx.fem.Function(self.V, name="normal")
        self.normal.interpolate(lambda x: self.topo.normal(x[0], x[1]).T)
        self.plating = dolfinx.fem.Function(self.S2, name="plating_ratio")  # i_loc / i_geo
        self.g = dolfinx.fem.Function(self.V, name="interface_velocity")
        self._g_expr = dolfinx.fem.Expression(
            -self.plating * self.normal, self.V.element.interpolation_points
        )
        self.plate = dolfinx.fem.Function(self.V)
        self.ds_if = sub.ds("interface")
        self.if_dofs = dolfinx.fem.locate_dofs_topological(self.S2, 2, sub.facets("interface"))
        self.ds_bottom = sub.ds("lithium_bottom")
        self.bottom_area = assemble_global(1.0 * self.ds_bottom, self.comm)

        self.newton_variant = newton
        self.dual = None  # S at the quadrature points (primal-dual Newton)
        F_visc, F_rest = self._residual()
        F = F_visc + F_rest
        dw = ufl.TrialFunction(W)
        J = self._jacobian(dw) + ufl.derivative(F_rest, self.w, dw)
        self.bcs = self._boundary_conditions()
        options = preset(CREEP_PRESETS, solver)
        self.pc = None
        self.newton = NewtonSolver(F, self.w, self.bcs, prefix=prefix, options=options,
                                   jacobian=J, on_jacobian=self._update_pc,
                                   rtol=rtol, max_it=max_it, lag_factorization=True,
                                   energy=self._energy() if self._energy_applies() else None)
        self._warm = False  # True once a solution at the target exponent exists
        self.max_halvings = 6
        if solver == "fieldsplit":
            self.pc = self._block_preconditioner(prefix, options)

    # -- forms -------------------------------------------------------------------------------
    def _viscosity(self, u):
        return norton_viscosity(u, self.n_exp, self.eps0, self.length)

    def _stress(self, u, p):
        """Scaled Cauchy stress σ̂."""
        return 2.0 * self._viscosity(u) * ufl.sym(ufl.grad(u)) - p * ufl.Identity(3)

    def _energy_applies(self) -> bool:
        """Whether the line search may accept steps on Ψ̂.

        Only with no slip (Nitsche's form is no gradient) and primal–dual Newton: standard Newton
        then wanders (H75S150, n = 8, coarse: 38 steps instead of 19).
        """
        return self.creep.slip == "no-slip" and self.newton_variant == "primal-dual"

    def _energy(self):
        """Scaled dissipation potential Ψ̂ = ∫ n/(L(n+1))·(ε̂² + ε̂₀²)^((n+1)/(2n)) dx.

        Its derivative is the viscous residual; the Newton steps keep the constraints (∇·u = 0
        and the Dirichlet data), on which the Stokes residual is its gradient.
        """
        u, _ = ufl.split(self.w)
        n, L = self.n_exp, self.length
        eps2 = scaled_strain_rate2(u, L)
        return n / (L * (n + 1)) * (eps2 + self.eps0**2) ** ((n + 1) / (2 * n)) * self._dx_q()

    def _dx_q(self):
        return ufl.dx(metadata={"quadrature_degree": self.quad_degree})

    def _residual(self):
        """(viscous term, everything else): Newton linearises the two differently."""
        u, p = ufl.split(self.w)
        v, q = ufl.TestFunctions(self.W)
        eta = self._viscosity(u)
        F_visc = 2.0 * eta * ufl.inner(ufl.sym(ufl.grad(u)), ufl.sym(ufl.grad(v))) * self._dx_q()
        F = -p * ufl.div(v) * ufl.dx - q * ufl.div(u) * ufl.dx
        if self.creep.slip == "free-slip":
            # Non-symmetric Nitsche for u·n = g·n with zero tangential traction: stable for any
            # penalty, and Newton converges where the symmetric variant stalls.
            n = self.normal
            h = self._cell_size()
            gap = ufl.dot(u - self.g, n)
            t_u = ufl.dot(ufl.dot(self._stress(u, p), n), n)
            t_v = ufl.dot(ufl.dot(2.0 * eta * ufl.sym(ufl.grad(v)) - q * ufl.Identity(3), n), n)
            ds_q = self.ds_if(metadata={"quadrature_degree": self.quad_degree})
            F += (-t_u * ufl.dot(v, n) + t_v * gap
                  + self.nitsche_penalty * eta / h * gap * ufl.dot(v, n)) * ds_q
        return F_visc, F

    def _strain_direction(self, u):
        """D/ψ with ψ = √(D:D + δ²), δ² = ε̂₀²/(⅔L²): the regularised unit strain-rate tensor."""
        d = ufl.sym(ufl.grad(u))
        psi = ufl.sqrt(ufl.inner(d, d) + self.eps0**2 / ((2.0 / 3.0) * self.length**2))
        return d / psi, psi

    def _jacobian(self, dw):
        """Linearisation of the viscous term: 2η̂ [δD + m (D̂:δD) S] : D(v), m = (1 − n)/n.

        Standard Newton has S = D̂ (the exact derivative). Primal–dual Newton (Rudi, Shih &
        Stadler 2020) uses the independent S, updated after each step by :meth:`_update_dual`.
        """
        u, _ = ufl.split(self.w)
        du, _ = ufl.split(dw)
        v, _ = ufl.TestFunctions(self.W)
        d_hat, _ = self._strain_direction(u)
        direction = d_hat
        if self.newton_variant == "primal-dual":
            element = basix.ufl.quadrature_element(self.sub.mesh.basix_cell(), value_shape=(3, 3),
                                                   degree=self.quad_degree)
            Qs = dolfinx.fem.functionspace(self.sub.mesh, element)
            self.dual = dolfinx.fem.Function(Qs, name="dual_strain_direction")
            self._step = dolfinx.fem.Function(self.W)
            self._alpha = dolfinx.fem.Constant(self.sub.mesh, PETSc.ScalarType(1.0))
            points = Qs.element.interpolation_points
            self._dual_start = dolfinx.fem.Expression(d_hat, points)
            self._dual_next = dolfinx.fem.Expression(self._dual_update(u), points)
            direction = self.dual
        self._direction = direction
        return self._viscous_tangent(du, v)

    def _viscous_tangent(self, du, v):
        """The linearised viscous term for any velocity trial and test functions."""
        u, _ = ufl.split(self.w)
        d_hat, _ = self._strain_direction(u)
        dd = ufl.sym(ufl.grad(du))
        m = (1 - self.n_exp) / self.n_exp
        S = self._direction
        # Symmetrised like the exact Hessian of Ψ̂; positive definite as |S| ≤ 1 and m > −1.
        lin = dd + 0.5 * m * (ufl.inner(d_hat, dd) * S + ufl.inner(S, dd) * d_hat)
        return 2.0 * self._viscosity(u) * ufl.inner(lin, ufl.sym(ufl.grad(v))) * self._dx_q()

    def _dual_update(self, u):
        """S + α·δS at the old iterate, from linearising ψ(D)·S = D; clipped to |S| ≤ 1."""
        d_hat, psi = self._strain_direction(u)
        dd = ufl.sym(ufl.grad(ufl.split(self._step)[0]))
        S = self.dual
        new = S + self._alpha * ((dd - ufl.inner(d_hat, dd) * S) / psi + d_hat - S)
        return new / ufl.max_value(ufl.sqrt(ufl.inner(new, new)), 1.0)

    def _start_dual(self) -> None:
        if self.dual is not None:
            self.dual.interpolate(self._dual_start)

    def _update_dual(self, du: dolfinx.fem.Function, alpha: float) -> None:
        if self.dual is not None:
            self._step.x.array[:] = du.x.array
            self._alpha.value = alpha
            self.dual.interpolate(self._dual_next)

    def destroy(self) -> None:
        """Free the PETSc solver objects (they hold callbacks into this object)."""
        self.newton.destroy()
        if self.pc is not None:
            self.pc.destroy()

    def _cell_size(self) -> dolfinx.fem.Function:
        """Cell diameters as a DG0 function (CellDiameter is unsupported on curved cells)."""
        msh = self.sub.mesh
        tdim = msh.topology.dim
        DG0 = dolfinx.fem.functionspace(msh, ("DG", 0))
        h = dolfinx.fem.Function(DG0)
        ncells = msh.topology.index_map(tdim).size_local + msh.topology.index_map(tdim).num_ghosts
        h.x.array[:] = msh.h(tdim, np.arange(ncells, dtype=np.int32))
        return h

    def _boundary_conditions(self):
        W, V, sub = self.W, self.V, self.sub
        bcs = []
        self._pin_q = None
        if self.creep.slip == "no-slip":
            dofs = dolfinx.fem.locate_dofs_topological((W.sub(0), V), 2, sub.facets("interface"))
            bcs.append(dolfinx.fem.dirichletbc(self.g, dofs, W.sub(0)))
        zero = dolfinx.fem.Function(self.S2)
        for name, comp in MIRROR_PLANES:
            dofs = dolfinx.fem.locate_dofs_topological((W.sub(0).sub(comp), self.S2), 2,
                                                       sub.facets(name))
            bcs.append(dolfinx.fem.dirichletbc(zero, dofs, W.sub(0).sub(comp)))
        if self.creep.bottom == "plate":
            dofs = dolfinx.fem.locate_dofs_topological((W.sub(0), V), 2,
                                                       sub.facets("lithium_bottom"))
            bcs.append(dolfinx.fem.dirichletbc(self.plate, dofs, W.sub(0)))
            # The normal velocity is prescribed on the whole boundary (strongly, or weakly by
            # Nitsche for free slip): a constant pressure is a null mode, so pin one point.
            (x0, _), (y0, _), zb = self.cell.x_range, self.cell.y_range, self.cell.z_bottom
            tol = 1e-9 * self.length

            def corner(x):
                return (np.abs(x[0] - x0) < tol) & (np.abs(x[1] - y0) < tol) & (
                    np.abs(x[2] - zb) < tol)

            pdofs = dolfinx.fem.locate_dofs_geometrical((W.sub(1), self.Q), corner)
            self._pin_q = pdofs[1]
            bcs.append(dolfinx.fem.dirichletbc(dolfinx.fem.Function(self.Q), pdofs, W.sub(1)))
        return bcs

    def _constrained(self, space: dolfinx.fem.FunctionSpace) -> np.ndarray:
        """Local (unrolled) dofs of a 3-vector space that carry Dirichlet data."""
        comps = [(name, (c,)) for name, c in MIRROR_PLANES]
        if self.creep.slip == "no-slip":
            comps.append(("interface", (0, 1, 2)))
        if self.creep.bottom == "plate":
            comps.append(("lithium_bottom", (0, 1, 2)))
        dofs = [dolfinx.fem.locate_dofs_topological(space.sub(c), 2, self.sub.facets(name))
                for name, cs in comps for c in cs]
        return np.unique(np.concatenate(dofs)).astype(np.int32)

    def _block_preconditioner(self, prefix: str, options) -> StokesPreconditioner:
        """Schur matrix −(1/η̂)·M_p on Q and the viscous tangent rediscretised on P1 velocity."""
        u, _ = ufl.split(self.w)
        p, q = ufl.TrialFunction(self.Q), ufl.TestFunction(self.Q)
        schur = -p * q / self._viscosity(u) * self._dx_q()
        msh = self.sub.mesh
        V1 = dolfinx.fem.functionspace(msh, ("Lagrange", 1, (3,)))
        du, v = ufl.TrialFunction(V1), ufl.TestFunction(V1)
        coarse = self._viscous_tangent(du, v)
        if self.creep.slip == "free-slip":  # the Nitsche penalty carries u·n on the interface
            n, h = self.normal, self._cell_size()
            ds_q = self.ds_if(metadata={"quadrature_degree": self.quad_degree})
            coarse += (self.nitsche_penalty * self._viscosity(u) / h * ufl.dot(du, n)
                       * ufl.dot(v, n) * ds_q)
        pin = self._pin_q if self._pin_q is not None else np.empty(0, dtype=np.int32)
        return StokesPreconditioner(self.newton.ksp, self.V, self.v_map, self.Q, self.p_map,
                                    schur, pin, coarse, V1, self._constrained, self.length,
                                    prefix, options)

    def _update_pc(self) -> None:
        if self.pc is not None:
            self.pc.update()

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
              initial_guess: CreepProblem | None = None) -> CreepResult:
        """Solve the creep flow for the plating current ``plating`` (A/m²).

        Args:
            plating: Interface current (see :meth:`set_plating`).
            geometric_current: i_geo, A/m²: sets the velocity and stress scales.
            continuation: Exponents to step through before the target (default: straight from
                the Newtonian solution to the target, halving the step on failure).
            initial_guess: A solved problem on another (coarser) mesh of the same cell: Newton
                starts from its solution (mesh sequencing), falling back to continuation.

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

        steps = [*(continuation or []), self.n_target]
        history: list[dict] = []
        newton_total = linear_total = 0
        pending = []
        if initial_guess is not None and initial_guess._warm:
            self._interpolate_solution(initial_guess)
            self._warm = True
        if self._warm:
            # Warm start from the last solution (coupling and root-finding re-solves).
            backup = self.w.x.array.copy()
            try:
                self._solve_at(self.n_target, history, reuse=True)
            except ConvergenceError:
                self.w.x.array[:] = backup
                self._warm = False
        if not self._warm:
            self.w.x.array[:] = 0.0
            self._solve_at(1.0, history)
            pending = [s for s in steps if s > 1.0]
        newton_total += sum(h["iterations"] for h in history)
        linear_total += sum(h["linear_iterations"] for h in history)
        current_n = 1.0
        failures = 0
        while pending:
            target = pending[0]
            backup = self.w.x.array.copy()
            try:
                self._solve_at(target, history)
            except ConvergenceError:
                self.w.x.array[:] = backup
                failures += 1
                if failures > self.max_halvings:
                    raise ConvergenceError(
                        f"creep Newton failed at n = {target:.3g} after {failures - 1} halvings "
                        f"of the continuation step (last step {target - current_n:.2g})",
                        history=history) from None
                pending.insert(0, 0.5 * (current_n + target))
                continue
            newton_total += history[-1]["iterations"]
            linear_total += history[-1]["linear_iterations"]
            current_n = target
            pending.pop(0)
        self._warm = True
        return self._postprocess(geometric_current, plate_speed, history, newton_total,
                                 linear_total, time.perf_counter() - t0)

    def _interpolate_solution(self, other: CreepProblem) -> None:
        """Scaled velocity and pressure of ``other`` (another mesh) as this iterate."""
        tdim = self.sub.mesh.topology.dim
        imap = self.sub.mesh.topology.index_map(tdim)
        cells = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
        for mine, dofs, theirs in zip((self.V, self.Q), (self.v_map, self.p_map),
                                      other._fields(), strict=True):
            data = dolfinx.fem.create_interpolation_data(mine, theirs.function_space, cells,
                                                         padding=1e-8 * self.length)
            target = dolfinx.fem.Function(mine)
            target.interpolate_nonmatching(theirs, cells, data)
            self.w.x.array[dofs] = target.x.array
        self.w.x.scatter_forward()

    def _solve_at(self, n: float, history: list[dict], reuse: bool = False) -> None:
        self.n_exp.value = n
        t0 = time.perf_counter()
        rep = self.newton.solve(start=self._start_dual, step=self._update_dual, reuse=reuse)
        entry = {
            "n": n,
            "iterations": rep.iterations,
            "linear_iterations": rep.linear_iterations,
            "factorizations": rep.factorizations,
            "residuals": rep.residuals,
            "steps": rep.steps,
            "reason": rep.reason,
            "converged": rep.converged,
            "time_s": time.perf_counter() - t0,
        }
        history.append(entry)
        log.debug("creep n=%.3g: %d Newton its (%d factorisations), %s", n, rep.iterations,
                  rep.factorizations, rep.reason)
        if not rep.converged:
            raise ConvergenceError(
                f"creep Newton did not converge at n = {n:.3g} ({rep.reason}) after "
                f"{rep.iterations} iterations; residuals {[f'{r:.3g}' for r in rep.residuals]}",
                history=history,
            )

    def _postprocess(self, i_geo, plate_speed, history, newton, linear, elapsed) -> CreepResult:
        comm, V = self.comm, self.V
        reaction = self._reactions()
        # Pressure datum: the mean normal stress on the bottom is the stack pressure.
        bottom = dolfinx.fem.locate_dofs_topological(V, 2, self.sub.facets("lithium_bottom"))
        force_z = reaction.x.array.reshape(-1, 3)[owned(V, bottom), 2].sum()
        datum = comm.allreduce(float(force_z)) / self.bottom_area
        dp = self._normal_stress()
        dp.x.array[self.if_dofs] -= datum
        stress = self.stress_scale
        dp.x.array[:] *= stress
        dp.name = "excess_pressure"
        own = owned(self.S2, self.if_dofs)
        pts = self.S2.tabulate_dof_coordinates()[own]
        dp_max, loc = global_argmax(comm, dp.x.array[own], pts)
        dp_min = -global_argmax(comm, -dp.x.array[own], pts)[0]

        velocity, pressure = self._fields()
        velocity.name, pressure.name = "velocity", "pressure"
        velocity.x.array[:] *= self.velocity_scale
        pressure.x.array[:] = (pressure.x.array - datum) * stress
        return CreepResult(
            velocity=velocity,
            pressure=pressure,
            excess_pressure=dp,
            geometric_current=i_geo,
            dp_max=dp_max,
            dp_max_location=loc,
            dp_min=dp_min,
            plate_velocity=plate_speed * self.velocity_scale,
            ndofs=self.W.dofmap.index_map.size_global * self.W.dofmap.index_map_bs,
            newton_iterations=newton,
            linear_iterations=linear,
            history=history,
            wall_time_s=elapsed,
        )

    def _fields(self) -> tuple[dolfinx.fem.Function, dolfinx.fem.Function]:
        """Copies of the (scaled) velocity and pressure of the current iterate."""
        u, p = dolfinx.fem.Function(self.V), dolfinx.fem.Function(self.Q)
        u.x.array[:] = self.w.x.array[self.v_map]
        p.x.array[:] = self.w.x.array[self.p_map]
        return u, p

    def _reactions(self) -> dolfinx.fem.Function:
        """Velocity rows of the residual at the solution: ∫ t·ψ_j ds at the Dirichlet dofs.

        Their z-components summed over the bottom dofs give the force on the bottom plate
        exactly (the side planes carry no shear).
        """
        V = self.V
        res = dolfinx.fem.petsc.assemble_vector(self.newton.F)
        res.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        r_v = dolfinx.fem.Function(V)
        nown = V.dofmap.index_map.size_local * V.dofmap.index_map_bs
        r_v.x.array[:nown] = res.array_r[self.v_map[:nown]]
        r_v.x.scatter_forward()
        res.destroy()
        return r_v

    def _normal_stress(self) -> dolfinx.fem.Function:
        """Scaled −n·σ̂·n on the interface (0 elsewhere): L2 projection on the trace space.

        (Nodal reactions were tried too: at the mirror-plane edges the traction jumps between
        faces and a continuous projection of the reactions smears it.)
        """
        u, p = ufl.split(self.w)
        sig = self._stress(u, p)
        v = ufl.TestFunction(self.S2)
        ds_q = self.ds_if(metadata={"quadrature_degree": self.quad_degree})
        form = compile_form(-ufl.dot(ufl.dot(sig, self.normal), self.normal) * v * ds_q)
        rhs = dolfinx.fem.petsc.assemble_vector(form)
        rhs.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        field, _ = boundary_projection(self.S2, rhs, self.if_dofs, self.ds_if,
                                       prefix=self.prefix + "dp_")
        rhs.destroy()
        field.name = "excess_pressure"
        return field
