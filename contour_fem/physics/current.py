"""Current distribution in the solid electrolyte (docs/model.md §2).

    −∇·(κ∇φ) = 0 in the SE,  κ ∂φ/∂z = i_geo on top,  zero flux on mirror side planes
    (quarter and eighth cells) or periodic sides (full cells),
    interface: φ = 0 (primary) or i_loc = (φ − φ_shift)/R_int (secondary, linearised BV),

where φ_shift = V_Li·Δp/F is the optional pressure shift of the equilibrium potential (§4 of
docs/model.md). The
primary interface current is the variationally consistent flux (reactions of the assembled system,
projected on the interface trace space), not a differentiated potential.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from mpi4py import MPI  # noqa: F401  (must load before PETSc/DOLFINx)

import dolfinx
import dolfinx.fem.petsc
import numpy as np
import ufl
from petsc4py import PETSc

from contour_fem.core.errors import InputError
from contour_fem.core.units import UM
from contour_fem.fem.constraints import (
    MultiPointConstraint,
    periodic_constraints,
    side_periodicity,
)
from contour_fem.fem.jit import compile_form
from contour_fem.fem.petsc import LINEAR_PRESETS, preset, solve_linear
from contour_fem.fem.utils import assemble_global, boundary_projection, global_argmax, owned
from contour_fem.mesh import CellMesh
from contour_fem.physics.parameters import Electrolyte, Kinetics

#: Linear solver presets that suit the potential problem (``[solver] current``).
CURRENT_SOLVERS = ("cg_gamg", "mumps")
#: Lagrange degrees of the potential (``[solver] current_degree``).
CURRENT_DEGREES = (1, 2, 3)

log = logging.getLogger(__name__)


@dataclass
class CurrentResult:
    """Solution of the current problem (fields on the electrolyte submesh, SI units).

    Attributes:
        potential: Electrolyte potential φ, V.
        interface_current: Local plating current i_loc at the interface dofs, A/m² (0 elsewhere).
        geometric_current: i_geo, A/m².
        f_max: max i_loc / i_geo.
        f_max_location: Where f_max is reached, m.
        mean_current_true_area: ∫ i_loc dA / A_true, A/m².
        area_ratio: A_true / A_proj of the mesh.
        conservation_error: |∫ i_loc dA − i_geo·A_proj| / (i_geo·A_proj).
        wagner: κ·R_int / S (inf for the primary distribution).

    """

    potential: dolfinx.fem.Function
    interface_current: dolfinx.fem.Function
    interface_dofs: np.ndarray
    geometric_current: float
    f_max: float
    f_max_location: list[float]
    mean_current_true_area: float
    area_ratio: float
    conservation_error: float
    wagner: float
    distribution: str
    ndofs: int
    iterations: int
    wall_time_s: float
    extra: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """Scalars only, JSON-friendly (µm for locations)."""
        return {
            "distribution": self.distribution,
            "geometric_current_A_m2": self.geometric_current,
            "f_max": self.f_max,
            "f_max_location_um": [UM.from_si(c) for c in self.f_max_location],
            "mean_current_true_area_A_m2": self.mean_current_true_area,
            "area_ratio": self.area_ratio,
            "conservation_error": self.conservation_error,
            "wagner_number": self.wagner,
            "ndofs": self.ndofs,
            "iterations": self.iterations,
            "wall_time_s": self.wall_time_s,
        }


class CurrentProblem:
    """The potential problem on one cell mesh; forms are built once and reused.

    Args:
        cell: Unit-cell mesh.
        electrolyte: SE conductivity.
        kinetics: Interface kinetics (``distribution="primary"`` for φ = 0 on the interface).
        temperature: K, used when R_int follows from the exchange current density.
        degree: Lagrange degree of φ.
        solver: Name of a preset in :data:`CURRENT_SOLVERS`.
        prefix: PETSc options prefix of this problem.

    """

    def __init__(
        self,
        cell: CellMesh,
        electrolyte: Electrolyte,
        kinetics: Kinetics,
        temperature: float,
        *,
        degree: int = 2,
        solver: str = "cg_gamg",
        prefix: str = "current_",
    ):
        if degree not in CURRENT_DEGREES:
            raise InputError(f"current degree must be one of {CURRENT_DEGREES}, got {degree!r}")
        if solver not in CURRENT_SOLVERS:
            raise InputError(f"current solver must be one of {', '.join(CURRENT_SOLVERS)}, "
                             f"got {solver!r}")
        self.cell = cell
        self.options = preset(LINEAR_PRESETS, solver)
        self.prefix = prefix
        self.primary = kinetics.primary
        self.kappa = electrolyte.conductivity
        self.r_int = None if self.primary else kinetics.resistance(temperature)
        sub = cell.submesh("electrolyte")
        self.sub = sub
        msh = sub.mesh
        V = dolfinx.fem.functionspace(msh, ("Lagrange", degree))
        self.V = V
        self.comm = msh.comm
        self.dofs = dolfinx.fem.locate_dofs_topological(V, 2, sub.facets("interface"))
        self.i_geo = dolfinx.fem.Constant(msh, PETSc.ScalarType(0.0))
        self.shift = dolfinx.fem.Function(V, name="potential_shift")
        phi, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        ds_if, ds_top = sub.ds("interface"), sub.ds("electrolyte_top")
        a = self.kappa * ufl.inner(ufl.grad(phi), ufl.grad(v)) * ufl.dx
        rhs = self.i_geo * v * ds_top
        if not self.primary:
            a += phi * v / self.r_int * ds_if
            rhs += self.shift * v / self.r_int * ds_if
        self.a, self.L = compile_form(a), compile_form(rhs)
        self.bcs = []
        if self.primary:
            self.bcs = [dolfinx.fem.dirichletbc(PETSc.ScalarType(0.0), self.dofs, V)]
        self.A = dolfinx.fem.petsc.assemble_matrix(self.a, bcs=self.bcs)
        self.A.assemble()
        # Full cells: periodic sides, φ = P·φ̂ (the constant operator is reduced once).
        periodicity = side_periodicity(cell)
        self.periodic = (periodic_constraints(V, periodicity) if periodicity else None)
        self.mpc = self.A_hat = None
        if self.periodic is not None:
            self.mpc = MultiPointConstraint(V, self.periodic, bcs=self.bcs)
            self.A_hat = self.mpc.reduce_matrix(self.A)
        self.A_free = None
        if self.primary:  # reactions need the operator without Dirichlet rows
            self.A_free = dolfinx.fem.petsc.assemble_matrix(self.a)
            self.A_free.assemble()
        self.ds_if, self.ds_top = ds_if, ds_top
        self.projected_area = assemble_global(1.0 * ds_top, self.comm)
        self.true_area = assemble_global(1.0 * ds_if, self.comm)

    @property
    def ndofs(self) -> int:
        """Global number of unknowns."""
        return self.V.dofmap.index_map.size_global

    def solve(self, geometric_current: float) -> CurrentResult:
        """Solve for ``geometric_current`` (A/m²) with the current potential shift.

        Raises:
            ConvergenceError: If the linear solver fails.

        """
        t0 = time.perf_counter()
        V, comm = self.V, self.comm
        self.i_geo.value = geometric_current
        b = dolfinx.fem.petsc.assemble_vector(self.L)
        dolfinx.fem.petsc.apply_lifting(b, [self.a], bcs=[self.bcs])
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        for bc in self.bcs:
            bc.set(b.array_w)
        phi = dolfinx.fem.Function(V, name="potential")
        if self.mpc is None:
            its = solve_linear(self.A, b, phi.x.petsc_vec, prefix=self.prefix,
                               options=self.options, what="current distribution")
        else:
            b_hat = self.mpc.reduce_vector(b)
            x_hat = self.mpc.create_vector()
            its = solve_linear(self.A_hat, b_hat, x_hat, prefix=self.prefix,
                               options=self.options, what="current distribution")
            self.mpc.expand(x_hat, phi.x.petsc_vec)
            b_hat.destroy()
            x_hat.destroy()
        phi.x.scatter_forward()

        if self.primary:
            rhs = dolfinx.fem.petsc.assemble_vector(self.L)
            rhs.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
            reaction = rhs.copy()
            self.A_free.mult(phi.x.petsc_vec, reaction)
            reaction.aypx(-1.0, rhs)  # b − Aφ: ∫ i_loc ψ_j at the interface dofs
            local = reaction.array_r[owned(V, self.dofs)].sum()
            total = comm.allreduce(float(local))
            i_loc, _ = boundary_projection(V, reaction, self.dofs, self.ds_if,
                                           prefix=self.prefix + "flux_",
                                           constraints=self.periodic)
            rhs.destroy()
            reaction.destroy()
        else:
            i_loc = dolfinx.fem.Function(V)
            i_loc.x.array[self.dofs] = (
                phi.x.array[self.dofs] - self.shift.x.array[self.dofs]
            ) / self.r_int
            total = assemble_global(i_loc * self.ds_if, comm)
        b.destroy()
        i_loc.name = "interface_current"

        own = owned(V, self.dofs)
        pts = V.tabulate_dof_coordinates()[own]
        vmax, loc = global_argmax(comm, i_loc.x.array[own] / geometric_current, pts)
        expected = geometric_current * self.projected_area
        period = self.cell.topography.period
        return CurrentResult(
            potential=phi,
            interface_current=i_loc,
            interface_dofs=self.dofs,
            geometric_current=geometric_current,
            f_max=vmax,
            f_max_location=loc,
            mean_current_true_area=total / self.true_area,
            area_ratio=self.true_area / self.projected_area,
            conservation_error=abs(total - expected) / expected,
            wagner=np.inf if self.primary else self.kappa * self.r_int / period,
            distribution="primary" if self.primary else "secondary",
            ndofs=self.ndofs,
            iterations=its,
            wall_time_s=time.perf_counter() - t0,
        )

    def destroy(self) -> None:
        """Free the PETSc matrices."""
        for obj in (self.A, self.A_free, self.A_hat, self.mpc):
            if obj is not None:
                obj.destroy()


def solve_current(
    cell: CellMesh,
    electrolyte: Electrolyte,
    kinetics: Kinetics,
    geometric_current: float,
    *,
    temperature: float = 298.15,
    degree: int = 2,
    solver: str = "cg_gamg",
) -> CurrentResult:
    """One-shot convenience wrapper around :class:`CurrentProblem`."""
    problem = CurrentProblem(cell, electrolyte, kinetics, temperature, degree=degree,
                             solver=solver)
    try:
        return problem.solve(geometric_current)
    finally:
        problem.destroy()
