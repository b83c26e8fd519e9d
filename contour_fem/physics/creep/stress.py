"""Stress recovery of the creep flow: the interfacial excess pressure and its datum.

The excess pressure Δp = −n·σ·n − P_stack on the interface is the L2 projection of −n·σ̂·n on the
interface trace space (nodal reactions were tried too: at the mirror-plane edges the traction
jumps between faces and a continuous projection of the reactions smears it). The datum comes from
the reactions of the bottom plate: their z-components summed over the bottom dofs are exactly the
force on the plate (the side planes carry no shear), and the mean normal stress there is the
stack pressure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mpi4py import MPI  # noqa: F401  (must load before PETSc/DOLFINx)

import dolfinx
import dolfinx.fem.petsc
import numpy as np
import ufl
from petsc4py import PETSc

from contour_fem.core.errors import InputError
from contour_fem.core.units import MA_CM2, MPA, UM
from contour_fem.fem.jit import compile_form
from contour_fem.fem.utils import boundary_projection, global_argmax, owned
from contour_fem.physics.creep import law

#: Trace spaces of the Δp projection: the velocity's degree k, or the pressure's k − 1. The stress
#: of Pk/Pk−1 is discontinuous of degree k − 1; projected on the degree-k trace it overshoots
#: from node to node where it changes fast (a fillet), on the degree-(k − 1) trace it does not
#: (docs/verification.md §4).
STRESS_RECOVERIES = ("velocity", "pressure")
#: The default recovery: it does not alternate across fillets, where at n = 1 the velocity's
#: trace is 20–37 % above it on the same mesh; on smooth surfaces the two agree
#: (docs/verification.md §3, §4).
DEFAULT_STRESS_RECOVERY = "pressure"
#: The recovery of every result stored before the choice existed.
LEGACY_STRESS_RECOVERY = "velocity"


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
        state: The scaled solution vector (local dofs, ghosts included): a warm start for a
            case on the same mesh object that differs only in its data (sweeps).
        newtonian: The scaled Newtonian (n = 1) solution of this solve's data, if the solve
            had one: the start of a case on the same mesh object that differs only in n.

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
    state: np.ndarray | None = field(default=None, repr=False)
    newtonian: np.ndarray | None = field(default=None, repr=False)

    def summary(self) -> dict:
        """Scalars only, JSON-friendly (user units in the key names)."""
        return {
            "geometric_current_mA_cm2": MA_CM2.from_si(self.geometric_current),
            "max_excess_pressure_MPa": MPA.from_si(self.dp_max),
            "max_excess_pressure_location_um": [UM.from_si(c) for c in self.dp_max_location],
            "min_excess_pressure_MPa": MPA.from_si(self.dp_min),
            "plate_velocity_um_s": UM.from_si(self.plate_velocity),
            "ndofs": self.ndofs,
            "newton_iterations": self.newton_iterations,
            "linear_iterations": self.linear_iterations,
            "continuation": self.history,
            "wall_time_s": self.wall_time_s,
        }


def reactions(residual_form, V: dolfinx.fem.FunctionSpace, v_map: np.ndarray):
    """Velocity rows of the assembled residual: ∫ t·ψ_j ds at the Dirichlet dofs.

    Args:
        residual_form: Compiled residual form on the mixed space.
        V: Velocity space; ``v_map[i]`` is the mixed-space index of V's dof i.
        v_map: See above.
    """
    res = dolfinx.fem.petsc.assemble_vector(residual_form)
    res.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    r_v = dolfinx.fem.Function(V)
    nown = V.dofmap.index_map.size_local * V.dofmap.index_map_bs
    r_v.x.array[:nown] = res.array_r[v_map[:nown]]
    r_v.x.scatter_forward()
    res.destroy()
    return r_v


def plate_pressure(reaction: dolfinx.fem.Function, bottom_dofs: np.ndarray,
                   bottom_area: float) -> float:
    """Mean normal stress on the bottom plate from its reactions (global, scaled units)."""
    V = reaction.function_space
    force_z = reaction.x.array.reshape(-1, 3)[owned(V, bottom_dofs), 2].sum()
    return V.mesh.comm.allreduce(float(force_z)) / bottom_area


def normal_stress(sigma, normal, space: dolfinx.fem.FunctionSpace, dofs: np.ndarray, ds,
                  quadrature_degree: int, prefix: str) -> dolfinx.fem.Function:
    """−n·σ·n on the interface (0 elsewhere): the L2 projection on the trace space.

    Args:
        sigma: Stress (UFL).
        normal: Unit normal (a Function).
        space: Scalar space of the projection.
        dofs: Interface dofs of ``space``.
        ds: Interface measure.
        quadrature_degree: Quadrature degree of the right-hand side.
        prefix: PETSc options prefix of the boundary mass-matrix solve.
    """
    v = ufl.TestFunction(space)
    ds_q = ds(metadata={"quadrature_degree": quadrature_degree})
    form = compile_form(-ufl.dot(ufl.dot(sigma, normal), normal) * v * ds_q)
    rhs = dolfinx.fem.petsc.assemble_vector(form)
    rhs.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    out, _ = boundary_projection(space, rhs, dofs, ds, prefix=prefix)
    rhs.destroy()
    out.name = "excess_pressure"
    return out


def recovery_space(recovery: str, sub, degree: int):
    """The trace space of Δp for ``recovery`` and its interface dofs (None: the velocity's).

    Args:
        recovery: One of :data:`STRESS_RECOVERIES`.
        sub: The lithium submesh (its ``mesh`` and ``facets("interface")``).
        degree: Velocity degree k.
    """
    if recovery not in STRESS_RECOVERIES:
        raise InputError(f"solver.stress_recovery must be one of {', '.join(STRESS_RECOVERIES)}, "
                         f"got {recovery!r}")
    if recovery == "velocity":
        return None
    space = dolfinx.fem.functionspace(sub.mesh, ("Lagrange", degree - 1))
    return space, dolfinx.fem.locate_dofs_topological(space, 2, sub.facets("interface"))


def recover(problem, i_geo: float, plate_speed: float, history: list[dict],
            elapsed: float) -> CreepResult:
    """The result of a solved :class:`~contour_fem.physics.creep.CreepProblem` (SI units).

    Args:
        problem: The solved problem (its iterate holds the scaled solution).
        i_geo: Geometric current of the solve, A/m².
        plate_speed: Scaled speed of the bottom plate.
        history: The continuation history of the solve.
        elapsed: Wall time of the solve, s.
    """
    comm = problem.comm
    reaction = reactions(problem.newton.F, problem.V, problem.v_map)
    # Pressure datum: the mean normal stress on the bottom is the stack pressure.
    datum = plate_pressure(reaction, problem.bottom_dofs, problem.bottom_area)
    u, p = ufl.split(problem.w)
    sigma = law.stress(u, p, problem.n_exp, problem.eps0, problem.length)
    if problem.recovery_space is not None:  # the pressure's degree, written in S2
        space, dofs = problem.recovery_space
        low = normal_stress(sigma, problem.normal, space, dofs, problem.ds_if,
                            problem.quad_degree, problem.prefix + "dp_")
        dp = dolfinx.fem.Function(problem.S2, name="excess_pressure")
        dp.interpolate(low)  # exact: the degree-(k − 1) space lies in the degree-k one
        keep = dp.x.array[problem.if_dofs].copy()
        dp.x.array[:] = 0.0  # midpoints of edges that only touch the interface
        dp.x.array[problem.if_dofs] = keep
    else:
        dp = normal_stress(sigma, problem.normal, problem.S2, problem.if_dofs, problem.ds_if,
                           problem.quad_degree, problem.prefix + "dp_")
    dp.x.array[problem.if_dofs] -= datum
    scale = problem.stress_scale
    dp.x.array[:] *= scale
    own = owned(problem.S2, problem.if_dofs)
    pts = problem.S2.tabulate_dof_coordinates()[own]
    dp_max, loc = global_argmax(comm, dp.x.array[own], pts)
    dp_min = -global_argmax(comm, -dp.x.array[own], pts)[0]

    velocity, pressure = problem.fields()
    velocity.name, pressure.name = "velocity", "pressure"
    velocity.x.array[:] *= problem.velocity_scale
    pressure.x.array[:] = (pressure.x.array - datum) * scale
    W = problem.W
    return CreepResult(
        velocity=velocity,
        pressure=pressure,
        excess_pressure=dp,
        geometric_current=i_geo,
        dp_max=dp_max,
        dp_max_location=loc,
        dp_min=dp_min,
        plate_velocity=plate_speed * problem.velocity_scale,
        ndofs=W.dofmap.index_map.size_global * W.dofmap.index_map_bs,
        # Every Newton step taken counts, retried continuation steps included.
        newton_iterations=sum(h["iterations"] for h in history),
        linear_iterations=sum(h["linear_iterations"] for h in history),
        history=history,
        wall_time_s=elapsed,
        state=problem.w.x.array.copy(),
        newtonian=problem.newtonian_state,
    )
