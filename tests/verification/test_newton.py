"""The damped Newton solver on a small nonlinear problem: convergence, lagged factors, failure."""

from mpi4py import MPI

import dolfinx
import numpy as np
import pytest
import ufl
from petsc4py import PETSc

from contour_fem.fem.newton import NewtonSolver
from contour_fem.fem.petsc import SADDLE_POINT_PRESETS, PrefixedOptions, failure_reason


def _problem(prefix: str, **kw):
    """−∇·((1 + u²)∇u) = 10 on the unit square, u = 0 on the boundary."""
    msh = dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 16, 16)
    V = dolfinx.fem.functionspace(msh, ("Lagrange", 2))
    u, v = dolfinx.fem.Function(V), ufl.TestFunction(V)
    F = ((1 + u**2) * ufl.inner(ufl.grad(u), ufl.grad(v)) - 10.0 * v) * ufl.dx
    msh.topology.create_connectivity(1, 2)
    facets = dolfinx.mesh.exterior_facet_indices(msh.topology)
    bc = dolfinx.fem.dirichletbc(0.0, dolfinx.fem.locate_dofs_topological(V, 1, facets), V)
    return u, NewtonSolver(F, u, [bc], prefix=prefix, options=SADDLE_POINT_PRESETS["mumps"], **kw)


def test_newton_converges_and_lagged_factors_give_the_same_solution():
    u_lag, lagged = _problem("nl_lag_", lag_factorization=True)
    u_new, fresh = _problem("nl_new_", lag_factorization=False)
    rep_lag, rep_new = lagged.solve(), fresh.solve()
    assert rep_lag.converged and rep_new.converged
    assert rep_lag.residuals[-1] <= 1e-10 * rep_lag.residuals[0]
    # Quadratic convergence ends in a full step; the lagged run skipped some factorisations.
    assert rep_new.steps[-1] == 1.0 and rep_new.factorizations == rep_new.iterations
    assert rep_lag.factorizations < rep_lag.iterations
    diff = np.abs(u_lag.x.array - u_new.x.array).max()
    assert MPI.COMM_WORLD.allreduce(diff, op=MPI.MAX) < 1e-9 * np.abs(u_new.x.array).max()
    lagged.destroy()
    fresh.destroy()


def test_newton_reports_failure_without_raising():
    _, solver = _problem("nl_fail_", max_it=1)
    rep = solver.solve()
    assert not rep.converged and rep.reason == "max_it" and rep.iterations == 1
    solver.destroy()



def test_a_residual_on_its_round_off_floor_is_converged_only_with_a_floor():
    # rtol = 1e-30 and stol = 0 cannot be met in double precision: the residual stalls on its
    # round-off floor. With the floor test the solve stops there; without it, it fails (out of
    # steps, or a line search that cannot cut round-off). The floor's level depends on the
    # machine's arithmetic, so no fixed rtol can do.
    _, floored = _problem("nl_floor_", rtol=1e-30, stol=0.0, floor_rtol=1e-8, max_it=20)
    rep = floored.solve()
    assert rep.converged and rep.reason == "floor" and rep.iterations < 20
    assert rep.residuals[-1] <= 1e-8 * rep.residuals[0]
    assert rep.residuals[-1] > 0.5 * rep.residuals[-2]
    floored.destroy()
    _, unfloored = _problem("nl_nofloor_", rtol=1e-30, stol=0.0, floor_rtol=0.0, max_it=20)
    rep = unfloored.solve()
    assert not rep.converged and rep.reason in ("max_it", "line_search")
    unfloored.destroy()

def _p_laplace(prefix: str, with_energy: bool):
    """Minimiser of E(u) = ∫ (|∇u|² + δ²)^(p/2)/p − 10·u on the unit square, p = 1.5."""
    msh = dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 16, 16)
    V = dolfinx.fem.functionspace(msh, ("Lagrange", 2))
    u, v = dolfinx.fem.Function(V), ufl.TestFunction(V)
    p = 1.5
    energy = ((ufl.inner(ufl.grad(u), ufl.grad(u)) + 1e-4) ** (p / 2) / p - 10.0 * u) * ufl.dx
    msh.topology.create_connectivity(1, 2)
    facets = dolfinx.mesh.exterior_facet_indices(msh.topology)
    bc = dolfinx.fem.dirichletbc(0.0, dolfinx.fem.locate_dofs_topological(V, 1, facets), V)
    solver = NewtonSolver(ufl.derivative(energy, u, v), u, [bc], prefix=prefix,
                          options=SADDLE_POINT_PRESETS["mumps"],
                          energy=energy if with_energy else None)
    return u, solver


def test_energy_line_search_finds_the_same_minimiser():
    u_e, with_e = _p_laplace("pl_e_", True)
    u_r, without = _p_laplace("pl_r_", False)
    e_start = with_e.energy()  # u = 0
    rep_e, rep_r = with_e.solve(), without.solve()
    assert rep_e.converged and rep_r.converged
    diff = np.abs(u_e.x.array - u_r.x.array).max()
    assert MPI.COMM_WORLD.allreduce(diff, op=MPI.MAX) < 1e-8 * np.abs(u_r.x.array).max()
    # The global energy, summed over ranks, fell from E(0) = |Ω|·δ^p/p.
    assert e_start == pytest.approx(1e-4 ** 0.75 / 1.5, rel=1e-12)
    assert with_e.energy() < e_start
    with_e.destroy()
    without.destroy()


def test_the_stopping_rule_is_free_of_scales():
    # The same problem with data 1e-15 times smaller: an absolute tolerance would accept the
    # zero initial guess; the relative rule iterates to the same relative accuracy.
    reports = {}
    for scale in (1.0, 1e-15):
        msh = dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 8, 8)
        V = dolfinx.fem.functionspace(msh, ("Lagrange", 2))
        u, v = dolfinx.fem.Function(V), ufl.TestFunction(V)
        F = ((1 + (u / scale) ** 2) * ufl.inner(ufl.grad(u), ufl.grad(v)) - 10.0 * scale * v) \
            * ufl.dx
        msh.topology.create_connectivity(1, 2)
        facets = dolfinx.mesh.exterior_facet_indices(msh.topology)
        bc = dolfinx.fem.dirichletbc(0.0, dolfinx.fem.locate_dofs_topological(V, 1, facets), V)
        solver = NewtonSolver(F, u, [bc], prefix=f"nl_scale{len(reports)}_",
                              options=SADDLE_POINT_PRESETS["mumps"])
        rep = solver.solve()
        reports[scale] = (rep, MPI.COMM_WORLD.allreduce(np.abs(u.x.array).max(), op=MPI.MAX))
        solver.destroy()
    (big, umax), (small, umin) = reports[1.0], reports[1e-15]
    assert small.converged and small.iterations == big.iterations >= 3
    assert umin == pytest.approx(1e-15 * umax, rel=1e-9)


def test_a_failed_factorisation_says_what_mumps_reported():
    # The KSP only says that its preconditioner failed; whether MUMPS ran out of memory
    # (INFOG(1) = −13) or met a singular matrix (−10) is in the factor's INFOG.
    A = PETSc.Mat().createAIJ([4, 4], comm=MPI.COMM_SELF)
    A.setUp()
    for i in range(3):
        A.setValue(i, i, 1.0)
    A.assemble()  # row 3 is zero: singular
    ksp = PETSc.KSP().create(MPI.COMM_SELF)
    try:
        ksp.setOperators(A)
        ksp.setType("preonly")
        ksp.getPC().setType("lu")
        ksp.getPC().setFactorSolverType("mumps")
        b = A.createVecLeft()
        b.set(1.0)
        ksp.solve(b, A.createVecRight())
        assert ksp.getConvergedReason() < 0
        assert "MUMPS INFOG(1) = -10" in failure_reason(ksp)
    finally:
        ksp.destroy()
        A.destroy()


def test_a_factorisation_out_of_memory_says_how_much_it_needs():
    # A memory limit (ICNTL(23)) of 1 MB below the analysis' estimate: MUMPS stops with −19,
    # and the message carries the in-core estimate the user must compare with the machine.
    n = 20_000
    A = PETSc.Mat().createAIJ([n, n], nnz=3, comm=MPI.COMM_SELF)
    for i in range(n):
        A.setValue(i, i, 2.0)
        if i > 0:
            A.setValue(i, i - 1, -1.0)
        if i < n - 1:
            A.setValue(i, i + 1, -1.0)
    A.assemble()
    ksp = PETSc.KSP().create(MPI.COMM_SELF)
    try:
        ksp.setOptionsPrefix("oom_test_")
        ksp.setOperators(A)
        with PrefixedOptions("oom_test_", {"ksp_type": "preonly", "pc_type": "lu",
                                           "pc_factor_mat_solver_type": "mumps",
                                           "mat_mumps_icntl_23": 1}):
            ksp.setFromOptions()
            b = A.createVecLeft()
            b.set(1.0)
            ksp.solve(b, A.createVecRight())
        estimate = ksp.getPC().getFactorMatrix().getMumpsInfog(17)
        assert estimate > 1
        reason = failure_reason(ksp)
        assert "MUMPS INFOG(1) = -19" in reason
        assert f"estimates {estimate} MB in core in total" in reason
    finally:
        ksp.destroy()
        A.destroy()
