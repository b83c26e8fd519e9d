"""Block preconditioner for the creep Newton systems (Taylor–Hood Stokes, variable viscosity).

The ``fieldsplit`` preset of :data:`contour_fem.fem.petsc.SADDLE_POINT_PRESETS` runs GMRES with an
upper block-triangular Schur preconditioner; this module supplies what options cannot:

- velocity block: two-level p-multigrid. Symmetric SOR smoothing on the Pk velocity space,
  coarse correction on the P1 velocity space with the linearised viscous operator rediscretised
  there and one smoothed-aggregation AMG cycle (rigid-body near-null-space) on it. AMG straight on
  the P2 block built dense coarse levels (operator complexity 3) and lost accuracy under
  refinement (136 → 220 → 228 iterations from 41k to 389k DOFs; docs/performance.md); Jacobi
  smoothing instead of SOR doubled the iterations.
- Schur complement: −(1/η̂)·pressure mass matrix, assembled on the pressure space (Jacobi).

Both auxiliary matrices are reassembled with every Jacobian. Dirichlet dofs are removed from the
coarse space: the prolongation has zero rows at fine and zero columns at coarse constrained dofs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from mpi4py import MPI  # noqa: F401  (must load before PETSc/DOLFINx)

import dolfinx
import dolfinx.fem.petsc as fem_petsc
import numpy as np
import ufl
from petsc4py import PETSc

from contour_fem.fem.jit import compile_form
from contour_fem.fem.petsc import PrefixedOptions
from contour_fem.physics.creep import boundary

ConstrainedDofs = Callable[[dolfinx.fem.FunctionSpace], np.ndarray]


def rigid_body_modes(space: dolfinx.fem.FunctionSpace, mat: PETSc.Mat,
                     length: float) -> PETSc.NullSpace:
    """Orthonormal translations and rotations of a 3-vector Lagrange space, as a PETSc null space.

    Args:
        space: Blocked (bs = 3) space whose owned dofs are the rows of ``mat``.
        mat: Matrix the modes are for (sets the vector layout).
        length: Length scale for the rotation modes (keeps them O(1)).
    """
    nodes = space.dofmap.index_map.size_local
    x = space.tabulate_dof_coordinates()[:nodes]
    x = (x - x.mean(axis=0)) / length  # local mean: any origin gives the same span
    vecs = [mat.createVecLeft() for _ in range(6)]
    for c in range(3):
        vecs[c].array.reshape(-1, 3)[:, c] = 1.0
    for k, (a, b) in enumerate(((0, 1), (1, 2), (2, 0))):  # rotation in the (a, b) plane
        arr = vecs[3 + k].array.reshape(-1, 3)
        arr[:, a] = -x[:, b]
        arr[:, b] = x[:, a]
    for i, v in enumerate(vecs):  # modified Gram–Schmidt
        for w in vecs[:i]:
            v.axpy(-v.dot(w), w)
        v.normalize()
    return PETSc.NullSpace().create(vectors=vecs, comm=mat.getComm())


class StokesPreconditioner:
    """Wires the velocity p-multigrid and the Schur matrix into a fieldsplit KSP.

    Args:
        ksp: The Newton KSP (``fieldsplit`` preset, operators set before the first solve).
        velocity: Pk velocity space V; ``v_map[i]`` is the mixed-space index of V's dof i.
        pressure: Pressure space Q; ``p_map`` likewise.
        schur_form: Bilinear form on Q approximating the Schur complement.
        pressure_pin: Q dofs pinned by a Dirichlet condition (empty if none).
        coarse_form: Bilinear form on the P1 velocity space ``coarse`` (the coarse operator).
        coarse: P1 velocity space.
        constrained: Local (unrolled) Dirichlet dofs of a velocity space.
        length: Length scale of the geometry (for the rigid-body modes).
        prefix: Options prefix of ``ksp``; ``options`` are its options.
    """

    def __init__(self, ksp: PETSc.KSP, velocity, v_map: np.ndarray, pressure, p_map: np.ndarray,
                 schur_form, pressure_pin: np.ndarray, coarse_form, coarse,
                 constrained: ConstrainedDofs, length: float, prefix: str,
                 options: Mapping[str, object]):
        self.ksp, self.prefix, self.options = ksp, prefix, options
        comm = velocity.mesh.comm
        start = ksp.getOperators()[0].getOwnershipRange()[0]
        n_u = velocity.dofmap.index_map.size_local * 3
        n_p = pressure.dofmap.index_map.size_local
        owned_w = ksp.getOperators()[0].getLocalSize()[0]
        if (v_map[:n_u] >= owned_w).any() or (p_map[:n_p] >= owned_w).any():
            raise RuntimeError("velocity/pressure dofs and the mixed space are owned differently")
        # Splits in V's and Q's own order: the blocks then share the layouts of V and Q.
        is_u = PETSc.IS().createGeneral((v_map[:n_u] + start).astype(np.int32), comm=comm)
        is_u.setBlockSize(3)
        is_p = PETSc.IS().createGeneral((p_map[:n_p] + start).astype(np.int32), comm=comm)
        pc = ksp.getPC()
        pc.setFieldSplitIS(("u", is_u), ("p", is_p))

        self.schur_form = compile_form(schur_form)
        self.schur = fem_petsc.create_matrix(self.schur_form)
        self.pin = [dolfinx.fem.dirichletbc(dolfinx.fem.Function(pressure), pressure_pin)]
        pc.setFieldSplitSchurPreType(PETSc.PC.FieldSplitSchurPreType.USER, self.schur)

        self.coarse_form = compile_form(coarse_form)
        self.coarse = fem_petsc.create_matrix(self.coarse_form)
        n_c = coarse.dofmap.index_map.size_local * 3
        fixed_c = constrained(coarse)
        self.coarse_rows = (fixed_c[fixed_c < n_c]
                            + coarse.dofmap.index_map.local_range[0] * 3).astype(np.int32)
        self.coarse.setNearNullSpace(rigid_body_modes(coarse, self.coarse, length))
        self.prolongation = fem_petsc.interpolation_matrix(coarse, velocity)
        self.prolongation.assemble()
        masks = []
        for space, fixed in ((velocity, constrained(velocity)), (coarse, fixed_c)):
            mask = dolfinx.fem.Function(space)
            mask.x.array[:] = 1.0
            mask.x.array[fixed] = 0.0
            masks.append(mask.x.petsc_vec)
        self.prolongation.diagonalScale(L=masks[0], R=masks[1])
        self._wired = False

    def update(self) -> None:
        """Reassemble the Schur and coarse matrices at the current iterate (after the Jacobian)."""
        self.schur.zeroEntries()
        fem_petsc.assemble_matrix(self.schur, self.schur_form, bcs=self.pin)
        self.schur.assemble()
        self.coarse.zeroEntries()
        fem_petsc.assemble_matrix(self.coarse, self.coarse_form)
        self.coarse.assemble()
        self.coarse.zeroRowsColumns(self.coarse_rows, diag=1.0)
        if not self._wired:  # the velocity KSP exists once the fieldsplit is set up
            with PrefixedOptions(self.prefix, self.options):
                self.ksp.setUp()
            mg = self.ksp.getPC().getFieldSplitSubKSP()[0].getPC()
            if mg.getType() != PETSc.PC.Type.MG:
                raise RuntimeError(f"velocity block needs pc_type mg, got {mg.getType()}")
            mg.setMGInterpolation(1, self.prolongation)
            mg.getMGCoarseSolve().setOperators(self.coarse)
            self._wired = True

    def destroy(self) -> None:
        """Free the auxiliary matrices."""
        for obj in (self.schur, self.coarse, self.prolongation):
            obj.destroy()


def creep_preconditioner(problem, prefix: str, options) -> StokesPreconditioner:
    """The preconditioner of a :class:`~contour_fem.physics.creep.CreepProblem`.

    Schur matrix −(1/η̂)·M_p on Q and the viscous tangent rediscretised on P1 velocity (with
    the free-slip Nitsche penalty, which carries u·n on the interface).
    """
    u, _ = ufl.split(problem.w)
    p, q = ufl.TrialFunction(problem.Q), ufl.TestFunction(problem.Q)
    schur = -p * q / problem.viscosity(u) * problem.dx
    V1 = dolfinx.fem.functionspace(problem.sub.mesh, ("Lagrange", 1, (3,)))
    du, v = ufl.TrialFunction(V1), ufl.TestFunction(V1)
    coarse = problem.viscous_tangent(du, v)
    if problem.creep.slip == "free-slip":  # the Nitsche penalty carries u·n on the interface
        n, h = problem.normal, boundary.cell_size(problem.sub.mesh)
        ds_q = problem.ds_if(metadata={"quadrature_degree": problem.quad_degree})
        coarse += (boundary.NITSCHE_PENALTY * problem.viscosity(u) / h * ufl.dot(du, n)
                   * ufl.dot(v, n) * ds_q)

    def constrained(space):
        return boundary.constrained_dofs(space, problem.sub, slip=problem.creep.slip,
                                         bottom=problem.creep.bottom)

    return StokesPreconditioner(problem.newton.ksp, problem.V, problem.v_map, problem.Q,
                                problem.p_map, schur, problem.pin_q, coarse, V1, constrained,
                                problem.length, prefix, options)
