"""Named PETSc solver presets and the one place that runs a KSP and checks it converged.

Every solve gets its own options prefix; options are set under that prefix just before the solver
reads them and removed afterwards, so no setting leaks into another problem (no global state).
The preset names are the choices of the ``[solver]`` keys of a case file.
"""

from __future__ import annotations

from collections.abc import Mapping

from mpi4py import MPI  # noqa: F401  (must load before PETSc/DOLFINx)

from petsc4py import PETSc

from contour_fem.core.errors import ConvergenceError, InputError

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

# Linear solvers inside a Newton iteration on saddle-point (Taylor–Hood Stokes) systems.
SADDLE_POINT_PRESETS: dict[str, dict[str, object]] = {
    # LU inside GMRES: one iteration with fresh factors, a few with lagged ones (NewtonSolver).
    "mumps": {
        "ksp_type": "gmres",
        "ksp_rtol": 1e-8,
        "ksp_atol": 0.0,
        "ksp_max_it": 40,
        "ksp_gmres_restart": 40,
        "pc_type": "lu",
        "pc_factor_mat_solver_type": "mumps",
        "mat_mumps_icntl_14": 200,
        "mat_mumps_icntl_24": 1,
    },
    # Block-triangular Schur preconditioner, wired by contour_fem.physics.creep.preconditioner.
    # It is a fixed linear operator, so plain GMRES will do; restarts stall it (GMRES(50): 1000
    # iterations, no result).
    "fieldsplit": {
        "ksp_type": "gmres",
        "ksp_pc_side": "right",
        "ksp_rtol": 1e-6,
        "ksp_atol": 0.0,
        "ksp_max_it": 1000,
        "ksp_gmres_restart": 200,
        "pc_type": "fieldsplit",
        "pc_fieldsplit_type": "schur",
        "pc_fieldsplit_schur_fact_type": "upper",
        "fieldsplit_u_ksp_type": "preonly",
        "fieldsplit_u_pc_type": "mg",
        "fieldsplit_u_pc_mg_levels": 2,
        "fieldsplit_u_pc_mg_galerkin": "none",
        "fieldsplit_u_mg_levels_ksp_type": "richardson",
        "fieldsplit_u_mg_levels_ksp_max_it": 1,
        "fieldsplit_u_mg_levels_pc_type": "sor",
        "fieldsplit_u_mg_coarse_ksp_type": "preonly",
        "fieldsplit_u_mg_coarse_pc_type": "gamg",
        "fieldsplit_u_mg_coarse_pc_gamg_threshold": 0.02,
        "fieldsplit_u_mg_coarse_mg_levels_ksp_type": "richardson",
        "fieldsplit_u_mg_coarse_mg_levels_pc_type": "sor",
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


#: MUMPS INFOG(1) values that mean the factorisation did not fit its memory
#: (MUMPS users' guide, "Error diagnostics").
MUMPS_MEMORY_ERRORS = {-8: "integer workspace too small", -9: "real workspace too small",
                       -13: "an allocation failed", -19: "ICNTL(23) memory limit too small"}


def failure_reason(ksp: PETSc.KSP) -> str:
    """Why ``ksp`` stopped: the PETSc reason and, for a MUMPS factorisation, its INFOG(1, 2).

    MUMPS reports running out of workspace (INFOG(1) = −9) or memory (−13) only there; the
    KSP says no more than that its preconditioner failed. For a memory failure the text adds
    what the analysis estimated the factorisation needs in core (INFOG(16), INFOG(17)), so the
    user sees how far the case is beyond the machine.
    """
    text = _reason_name(ksp.getConvergedReason())
    pc = ksp.getPC()
    if pc.getType() in ("lu", "cholesky") and pc.getFactorSolverType() == "mumps":
        try:
            factor = pc.getFactorMatrix()
            info1, info2 = factor.getMumpsInfog(1), factor.getMumpsInfog(2)
            text += f", MUMPS INFOG(1) = {info1}, INFOG(2) = {info2}"
            if info1 in MUMPS_MEMORY_ERRORS:
                text += (f": {MUMPS_MEMORY_ERRORS[info1]}; the analysis estimates "
                         f"{factor.getMumpsInfog(17)} MB in core in total, "
                         f"{factor.getMumpsInfog(16)} MB on the largest process")
        except PETSc.Error:  # no factor yet (the failure came before the factorisation)
            pass
    return text
