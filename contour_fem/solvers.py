"""Named PETSc solver presets and the one place that runs a KSP and checks it converged.

Every solve gets its own options prefix; options are set under that prefix just before the solver
reads them and removed afterwards, so no setting leaks into another problem (no global state).
"""

from __future__ import annotations

from collections.abc import Mapping

from mpi4py import MPI  # noqa: F401  (must load before PETSc/DOLFINx)

import dolfinx
import dolfinx.fem.petsc as fem_petsc
import ufl
from petsc4py import PETSc

from contour_fem.errors import ConvergenceError, InputError

# FFCx lets one process compile a form while others wait for it: 10 s by default, too short for
# the creep Jacobian when sweep groups or job-array tasks start together on an empty cache.
JIT_OPTIONS: dict[str, object] = {"timeout": 900}


def compile_form(form):
    """``dolfinx.fem.form`` with the project's JIT options."""
    return dolfinx.fem.form(form, jit_options=JIT_OPTIONS)


# Linear presets for the symmetric positive definite problems (potential, boundary mass matrix).
LINEAR_PRESETS: dict[str, dict[str, object]] = {
    # CG + smoothed-aggregation AMG: the default (the wheel has no hypre).
    "cg_gamg": {
        "ksp_type": "cg",
        "pc_type": "gamg",
        "pc_gamg_type": "agg",
        "pc_gamg_threshold": 0.02,
        "mg_levels_ksp_type": "chebyshev",
        "mg_levels_pc_type": "jacobi",
        "ksp_rtol": 1e-12,
        "ksp_atol": 0.0,
        "ksp_max_it": 1000,
        "ksp_norm_type": "unpreconditioned",
    },
    "mumps": {
        "ksp_type": "preonly",
        "pc_type": "lu",
        "pc_factor_mat_solver_type": "mumps",
    },
    # Boundary mass matrices are well conditioned: Jacobi-preconditioned CG suffices.
    "cg_jacobi": {
        "ksp_type": "cg",
        "pc_type": "jacobi",
        "ksp_rtol": 1e-13,
        "ksp_atol": 0.0,
        "ksp_max_it": 2000,
        "ksp_norm_type": "unpreconditioned",
    },
}

# Linear solvers inside the creep Newton iteration (saddle-point Taylor–Hood systems).
CREEP_PRESETS: dict[str, dict[str, object]] = {
    "mumps": {
        "ksp_type": "preonly",
        "pc_type": "lu",
        "pc_factor_mat_solver_type": "mumps",
        "mat_mumps_icntl_14": 200,
        "mat_mumps_icntl_24": 1,
    },
    # Block-triangular Schur preconditioner: GAMG on velocity (rigid-body near-null-space),
    # Jacobi on the viscosity-weighted pressure mass matrix.
    "fieldsplit": {
        "ksp_type": "fgmres",
        "ksp_rtol": 1e-6,
        "ksp_atol": 0.0,
        "ksp_max_it": 1000,
        "ksp_gmres_restart": 200,
        "pc_type": "fieldsplit",
        "pc_fieldsplit_type": "schur",
        "pc_fieldsplit_schur_fact_type": "upper",
        "pc_fieldsplit_schur_precondition": "a11",
        "fieldsplit_u_ksp_type": "preonly",
        "fieldsplit_u_pc_type": "gamg",
        "fieldsplit_u_pc_gamg_threshold": 0.02,
        "fieldsplit_u_pc_gamg_square_graph": 0,
        "fieldsplit_u_mg_levels_ksp_type": "chebyshev",
        "fieldsplit_u_mg_levels_pc_type": "jacobi",
        "fieldsplit_p_ksp_type": "preonly",
        "fieldsplit_p_pc_type": "jacobi",
    },
}


def preset(table: Mapping[str, Mapping[str, object]], name: str, **overrides) -> dict:
    """Return a copy of preset ``name`` from ``table`` with ``overrides`` applied."""
    if name not in table:
        raise InputError(f"solver must be one of {', '.join(table)}, got {name!r}")
    return {**table[name], **overrides}


class PrefixedOptions:
    """Context manager: set PETSc options under a prefix, remove them on exit."""

    def __init__(self, prefix: str, options: Mapping[str, object]):
        self.prefix = prefix
        self.options = dict(options)
        self._db = PETSc.Options()

    def __enter__(self) -> PrefixedOptions:
        for key, value in self.options.items():
            self._db[self.prefix + key] = value
        return self

    def __exit__(self, *exc) -> None:
        for key in self.options:
            self._db.delValue(self.prefix + key)


def solve_linear(
    A: PETSc.Mat,
    b: PETSc.Vec,
    x: PETSc.Vec,
    *,
    prefix: str,
    options: Mapping[str, object],
    what: str,
) -> int:
    """Solve A x = b with a KSP configured by ``options`` under ``prefix``.

    Args:
        A: Assembled operator.
        b: Right-hand side.
        x: Solution vector (initial guess on entry).
        prefix: PETSc options prefix, unique per problem (ends with ``_``).
        options: Solver options (one of the presets here, possibly modified).
        what: Problem name used in the error message.

    Returns:
        Number of Krylov iterations.

    Raises:
        ConvergenceError: On every rank, if the KSP diverged.

    """
    ksp = PETSc.KSP().create(A.getComm())
    try:
        ksp.setOptionsPrefix(prefix)
        ksp.setOperators(A)
        with PrefixedOptions(prefix, options):
            ksp.setFromOptions()
            ksp.setUp()
        ksp.solve(b, x)
        reason = ksp.getConvergedReason()
        its = ksp.getIterationNumber()
        if reason < 0:
            rnorm = ksp.getResidualNorm()
            raise ConvergenceError(
                f"{what}: linear solver failed ({_reason_name(reason)}) after {its} iterations, "
                f"residual {rnorm:.3e}",
                history=[{"iterations": its, "residual": rnorm, "reason": reason}],
            )
        return its
    finally:
        ksp.destroy()


def _reason_name(reason: int) -> str:
    names = {v: k for k, v in vars(PETSc.KSP.ConvergedReason).items() if isinstance(v, int)}
    return names.get(reason, str(reason))


class NewtonSolver:
    """PETSc SNES on a DOLFINx residual form, with its own options prefix.

    Unlike ``dolfinx.fem.petsc.NonlinearProblem`` it imposes the Dirichlet values on the
    iterate before solving, so every Newton update vanishes on Dirichlet dofs and the residual
    needs no lifting (which costs a Jacobian-sized assembly at every residual evaluation).

    Args:
        residual: UFL residual form F(u; v).
        u: The unknown (updated in place by :meth:`solve`).
        bcs: Dirichlet conditions.
        prefix: PETSc options prefix (unique per problem).
        options: SNES/KSP/PC options set under the prefix.
        preconditioner: Optional bilinear form assembled as the preconditioning matrix.
    """

    def __init__(self, residual, u, bcs, *, prefix: str, options: Mapping[str, object],
                 preconditioner=None):
        self.u, self.bcs = u, bcs
        self.F = compile_form(residual)
        self.J = compile_form(ufl.derivative(residual, u))
        self.A = fem_petsc.create_matrix(self.J)
        self.P = None if preconditioner is None else compile_form(preconditioner)
        self.Pmat = None if self.P is None else fem_petsc.create_matrix(self.P)
        self.b = fem_petsc.create_vector(u.function_space)
        self.x = fem_petsc.create_vector(u.function_space)
        self.snes = PETSc.SNES().create(self.A.getComm())
        self.snes.setOptionsPrefix(prefix)
        self.prefix, self.options = prefix, dict(options)
        self.snes.setFunction(self._residual, self.b)
        self.snes.setJacobian(self._jacobian, self.A, self.Pmat)
        with PrefixedOptions(prefix, options):
            self.snes.setFromOptions()

    def _sync(self, x: PETSc.Vec) -> None:
        x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        x.copy(self.u.x.petsc_vec)
        self.u.x.scatter_forward()

    def _residual(self, _snes, x: PETSc.Vec, b: PETSc.Vec) -> None:
        self._sync(x)
        with b.localForm() as loc:
            loc.set(0.0)
        fem_petsc.assemble_vector(b, self.F)
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        fem_petsc.set_bc(b, self.bcs, x, -1.0)  # x − g on Dirichlet dofs (zero here)

    def _jacobian(self, _snes, x: PETSc.Vec, A: PETSc.Mat, P: PETSc.Mat) -> None:
        self._sync(x)
        A.zeroEntries()
        fem_petsc.assemble_matrix(A, self.J, bcs=self.bcs)
        A.assemble()
        if self.P is not None:
            P.zeroEntries()
            fem_petsc.assemble_matrix(P, self.P, bcs=self.bcs)
            P.assemble()

    def solve(self) -> None:
        """Newton from the current ``u`` with its Dirichlet values imposed first."""
        self.u.x.petsc_vec.copy(self.x)
        fem_petsc.set_bc(self.x, self.bcs)
        self.x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        # Sub-solvers (field splits, multigrid levels) read their options at the first setup.
        with PrefixedOptions(self.prefix, self.options):
            self.snes.solve(None, self.x)
        self._sync(self.x)

    def destroy(self) -> None:
        """Free the PETSc objects."""
        for obj in (self.snes, self.A, self.Pmat, self.b, self.x):
            if obj is not None:
                obj.destroy()
