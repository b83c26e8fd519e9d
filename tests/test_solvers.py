"""The damped Newton solver on a small nonlinear problem: convergence, lagged factors, failure."""

from mpi4py import MPI

import dolfinx
import numpy as np
import ufl

from contour_fem.solvers import CREEP_PRESETS, NewtonSolver


def _problem(prefix: str, **kw):
    """−∇·((1 + u²)∇u) = 10 on the unit square, u = 0 on the boundary."""
    msh = dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 16, 16)
    V = dolfinx.fem.functionspace(msh, ("Lagrange", 2))
    u, v = dolfinx.fem.Function(V), ufl.TestFunction(V)
    F = ((1 + u**2) * ufl.inner(ufl.grad(u), ufl.grad(v)) - 10.0 * v) * ufl.dx
    msh.topology.create_connectivity(1, 2)
    facets = dolfinx.mesh.exterior_facet_indices(msh.topology)
    bc = dolfinx.fem.dirichletbc(0.0, dolfinx.fem.locate_dofs_topological(V, 1, facets), V)
    return u, NewtonSolver(F, u, [bc], prefix=prefix, options=CREEP_PRESETS["mumps"], **kw)


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
