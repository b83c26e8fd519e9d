"""Multi-point constraints by prolongation (contour_fem.fem.constraints), serial verification.

Periodic Poisson (rates, exact periodicity, shifted cell, vector copy), a mirror plane that is not
a coordinate plane (prism against the symmetric full cube), periodic Taylor–Hood Stokes (against
a cell twice as wide, with a pressure pin), the Dirichlet rule, Newton, chains and errors.
"""

from mpi4py import MPI

import basix.ufl
import dolfinx
import dolfinx.fem.petsc as fem_petsc
import numpy as np
import pytest
import ufl
from dolfinx import fem, mesh
from petsc4py import PETSc
from scipy.spatial import cKDTree

from contour_fem.core.errors import InputError
from contour_fem.fem.constraints import (
    LinearConstraints,
    MultiPointConstraint,
    Periodic,
    linear_constraints,
    periodic_constraints,
    plane_constraint,
    solve_constrained,
)

COMM = MPI.COMM_SELF
MUMPS = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
CG_GAMG = {
    "ksp_type": "cg",
    "pc_type": "gamg",
    "mg_levels_ksp_type": "chebyshev",
    "mg_levels_pc_type": "jacobi",
    "ksp_rtol": 1e-12,
    "ksp_atol": 0.0,
    "ksp_max_it": 500,
    "ksp_norm_type": "unpreconditioned",
}


def _box(lower, upper, n):
    return mesh.create_box(COMM, [np.array(lower, float), np.array(upper, float)], n,
                           mesh.CellType.tetrahedron)


def _xy(lower, upper):
    return [Periodic(0, lower[0], upper[0]), Periodic(1, lower[1], upper[1])]


def _facets(msh, marker):
    msh.topology.create_connectivity(msh.topology.dim - 1, msh.topology.dim)
    return mesh.locate_entities_boundary(msh, msh.topology.dim - 1, marker)


def _rhs(L, a, bcs):
    b = fem_petsc.assemble_vector(L)
    fem_petsc.apply_lifting(b, [a], [bcs])
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    fem_petsc.set_bc(b, bcs)
    return b


def _solve(mpc, a, L, bcs, space, prefix, options=MUMPS):
    A = fem_petsc.assemble_matrix(a, bcs=bcs)
    A.assemble()
    b = _rhs(L, a, bcs)
    uh = fem.Function(space)
    solve_constrained(mpc, A, b, uh.x.petsc_vec, prefix=prefix, options=options)
    A.destroy()
    b.destroy()
    return uh


def _norm(expr, degree):
    return np.sqrt(fem.assemble_scalar(fem.form(ufl.inner(expr, expr) * ufl.dx(degree=degree))))


def _eval(u, points):
    msh = u.function_space.mesh
    tree = dolfinx.geometry.bb_tree(msh, msh.topology.dim)
    cells = dolfinx.geometry.compute_colliding_cells(
        msh, dolfinx.geometry.compute_collisions_points(tree, points), points)
    return u.eval(points, np.array([cells.links(i)[0] for i in range(len(points))], np.int32))


def _poisson(n, degree, lower=(0.0, 0.0), shape=(), bcs_in_mpc=True, options=CG_GAMG):
    """−Δu = 9π²·u* with u* = sin 2πx·cos 2πy·sin πz (times (1, 2, −1) if vector)."""
    upper = (lower[0] + 1.0, lower[1] + 1.0)
    msh = _box([*lower, 0.0], [*upper, 1.0], [n, n, n])
    V = fem.functionspace(msh, ("Lagrange", degree, shape))
    x = ufl.SpatialCoordinate(msh)
    exact = ufl.sin(2 * ufl.pi * x[0]) * ufl.cos(2 * ufl.pi * x[1]) * ufl.sin(ufl.pi * x[2])
    if shape:
        exact = ufl.as_vector([exact, 2 * exact, -exact])
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
    L = fem.form(ufl.inner(9 * ufl.pi**2 * exact, v) * ufl.dx)
    facets = _facets(msh, lambda p: np.isclose(p[2], 0.0) | np.isclose(p[2], 1.0))
    bc = fem.dirichletbc(np.zeros(shape), fem.locate_dofs_topological(V, 2, facets), V)
    mpc = MultiPointConstraint(V, periodic_constraints(V, _xy(lower, upper)),
                               bcs=[bc] if bcs_in_mpc else [])
    uh = _solve(mpc, a, L, [bc], V, "test_mpc_poisson_", options)
    q = degree + 3
    return uh, mpc, _norm(uh - exact, q), _norm(ufl.grad(uh - exact), q)


@pytest.mark.parametrize("degree, n", [(1, (12, 24)), (2, (6, 12))])
def test_periodic_poisson_converges_at_the_optimal_rate(degree, n):
    (_, _, l2a, h1a), (uh, mpc, l2b, h1b) = (_poisson(k, degree) for k in n)
    rate_l2, rate_h1 = np.log2(l2a / l2b), np.log2(h1a / h1b)
    # Measured: P1 1.93 / 0.97, P2 3.01 / 1.87 (pre-asymptotic H1 for P2 at these sizes).
    assert abs(rate_l2 - (degree + 1)) < 0.1
    assert rate_h1 > degree - 0.15
    # Exactly periodic: every dof on x = 1 (y = 1) holds the value of its partner on x = 0.
    xd = uh.function_space.tabulate_dof_coordinates()
    tree = cKDTree(xd)
    for axis in (0, 1):
        upper = np.flatnonzero(np.isclose(xd[:, axis], 1.0))
        image = xd[upper].copy()
        image[:, axis] = 0.0
        dist, partner = tree.query(image)
        assert dist.max() < 1e-12
        # Copies; Dirichlet dofs (z = 0, 1) keep their own values, 0 to the solver tolerance.
        free = ~np.isclose(xd[upper, 2], 0.0) & ~np.isclose(xd[upper, 2], 1.0)
        np.testing.assert_array_equal(uh.x.array[upper][free], uh.x.array[partner][free])
        np.testing.assert_allclose(uh.x.array[upper], uh.x.array[partner], rtol=0, atol=1e-13)
    # ... and so is the function: point values on opposite faces agree.
    rng = np.random.default_rng(1)
    yz = rng.uniform(0.05, 0.95, size=(20, 2))
    left = np.column_stack([np.zeros(20), yz])
    right = np.column_stack([np.ones(20), yz])
    np.testing.assert_allclose(_eval(uh, left), _eval(uh, right), rtol=0, atol=1e-12)
    assert np.abs(uh.x.array).max() > 0.5
    mpc.destroy()


def test_shifted_cell_gives_the_same_error():
    """The periodic faces need not be at 0 and 1.

    A shift by whole cells is the same discrete problem. Any other shift only changes the phase
    of u*; with 8 cells (a quarter period is 2 cells) and the centrally symmetric Kuhn mesh, its
    sine and cosine parts have errors of equal size and orthogonal, so the error is unchanged.
    """
    ref = _poisson(8, 2, options=MUMPS)[2]
    for lower in ((-0.25, 0.5), (-0.3, 0.35)):
        _, mpc, l2, _ = _poisson(8, 2, lower=lower, options=MUMPS)
        assert l2 == pytest.approx(ref, rel=1e-8)
        assert mpc.num_slaves == 2 * 17**2 - 17 - 2 * (2 * 17 - 1)  # faces minus Dirichlet
        mpc.destroy()


def test_blocked_vector_space_copies_every_component():
    """Vector Poisson with u* (1, 2, −1): components decouple, so the error is √6 × scalar."""
    scalar = _poisson(6, 2, options=MUMPS)
    vector = _poisson(6, 2, shape=(3,), options=MUMPS)
    assert vector[1].num_slaves == 3 * scalar[1].num_slaves
    assert vector[2] == pytest.approx(np.sqrt(6.0) * scalar[2], rel=1e-9)
    assert vector[3] == pytest.approx(np.sqrt(6.0) * scalar[3], rel=1e-9)


def test_dirichlet_slaves_dropped_or_kept_give_the_same_solution():
    """The rule: with ``bcs`` all-Dirichlet constraints are dropped (Â = 1 on Dirichlet rows).

    Kept (``bcs`` not passed; the Dirichlet set is closed under the constraints here), a master
    with k Dirichlet slaves gets 1 + k on the diagonal and b̂ = (1 + k)·g: also consistent.
    """
    dropped, mpc_d, l2_d, _ = _poisson(6, 1, options=MUMPS)
    kept, mpc_k, l2_k, _ = _poisson(6, 1, bcs_in_mpc=False, options=MUMPS)
    assert mpc_d.size == mpc_k.size + 2 * (2 * 7 - 1)  # z faces: 13 side nodes each
    assert l2_d == pytest.approx(l2_k, rel=1e-12)
    np.testing.assert_allclose(dropped.x.array, kept.x.array, atol=1e-13)
    V = dropped.function_space
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    bc = fem.dirichletbc(0.0, fem.locate_dofs_geometrical(V, lambda p: np.isclose(p[2], 0.0)), V)
    A = fem_petsc.assemble_matrix(fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx), [bc])
    A.assemble()
    x = V.tabulate_dof_coordinates()
    corner = np.flatnonzero(np.linalg.norm(x, axis=1) < 1e-12)[0]
    edge = np.flatnonzero(np.linalg.norm(x - [0.5, 0.0, 0.0], axis=1) < 1e-12)[0]
    for mpc, expected in ((mpc_d, (1.0, 1.0)), (mpc_k, (4.0, 2.0))):
        Ahat = mpc.reduce_matrix(A)
        diag = Ahat.getDiagonal().array
        np.testing.assert_allclose(diag[mpc.reduced_index[[corner, edge]]], expected)
        Ahat.destroy()
        mpc.destroy()
    A.destroy()


@pytest.mark.parametrize("rule", ["drop", "keep"])
def test_newton_with_periodic_constraints_and_nonzero_dirichlet_values(rule):
    """−∇·((1 + u²)∇u) = 10, u = cos 2πx·sin 2πy on z = 0, u = 0 on z = 1, periodic in x, y.

    The recipe for a Newton solver: impose the Dirichlet values and the constraints on the
    iterate, then J → PᵀJP, F → PᵀF (its norm is the convergence and line-search measure),
    δ = P·δ̂. ``keep``: ``bcs`` not given to the constraints, so Dirichlet slaves stay slaves;
    PᵀJP has 1 + k on their masters' diagonals and PᵀF is 0 there: the same iterates.
    """
    msh = _box([0, 0, 0], [1, 1, 1], [6, 6, 6])
    V = fem.functionspace(msh, ("Lagrange", 2))
    uh, v, du = fem.Function(V), ufl.TestFunction(V), ufl.TrialFunction(V)
    F = fem.form(((1 + uh**2) * ufl.inner(ufl.grad(uh), ufl.grad(v)) - 10.0 * v) * ufl.dx)
    J = fem.form(ufl.derivative((1 + uh**2) * ufl.inner(ufl.grad(uh), ufl.grad(v)) * ufl.dx,
                                uh, du))
    g = fem.Function(V)
    g.interpolate(lambda p: np.cos(2 * np.pi * p[0]) * np.sin(2 * np.pi * p[1]))
    bcs = [fem.dirichletbc(g, fem.locate_dofs_geometrical(V, lambda p: np.isclose(p[2], 0.0))),
           fem.dirichletbc(0.0, fem.locate_dofs_geometrical(V, lambda p: np.isclose(p[2], 1.0)),
                           V)]
    mpc = MultiPointConstraint(V, periodic_constraints(V, _xy((0, 0), (1, 1))),
                               bcs=bcs if rule == "drop" else ())
    x = uh.x.petsc_vec
    fem_petsc.set_bc(x, bcs)
    mpc.enforce(x)
    A = fem_petsc.create_matrix(J)
    b = fem_petsc.create_vector(V)
    Ahat, bhat, dhat = None, mpc.create_vector(), mpc.create_vector()
    delta = fem_petsc.create_vector(V)
    ksp = PETSc.KSP().create(COMM)
    ksp.setOptionsPrefix("test_mpc_newton_")
    opts = PETSc.Options()
    for key, value in MUMPS.items():
        opts["test_mpc_newton_" + key] = value
    norms = []
    for _ in range(12):
        with b.localForm() as loc:
            loc.set(0.0)
        fem_petsc.assemble_vector(b, F)
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        fem_petsc.set_bc(b, bcs, x, -1.0)
        mpc.reduce_vector(b, bhat)
        norms.append(bhat.norm())
        if norms[-1] < 1e-11:
            break
        A.zeroEntries()
        fem_petsc.assemble_matrix(A, J, bcs=bcs)
        A.assemble()
        Ahat = mpc.reduce_matrix(A, Ahat)  # same sparsity: the product's pattern is reused
        ksp.setOperators(Ahat)
        ksp.setFromOptions()
        bhat.scale(-1.0)
        ksp.solve(bhat, dhat)
        mpc.expand(dhat, delta)
        x.axpy(1.0, delta)
        x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
    for key in MUMPS:
        opts.delValue("test_mpc_newton_" + key)
    assert norms[-1] < 1e-11 and len(norms) <= 7, norms
    assert norms[-2] < 1e-2 * norms[-3]  # quadratic convergence
    xd = V.tabulate_dof_coordinates()
    bottom = np.flatnonzero(np.isclose(xd[:, 2], 0.0))
    np.testing.assert_allclose(uh.x.array[bottom], g.x.array[bottom], atol=1e-14)
    right = np.flatnonzero(np.isclose(xd[:, 0], 1.0))
    image = xd[right] - [1.0, 0.0, 0.0]
    np.testing.assert_allclose(uh.x.array[right], uh.x.array[cKDTree(xd).query(image)[1]],
                               atol=1e-14)
    for obj in (ksp, A, b, Ahat, bhat, dhat, delta):
        obj.destroy()
    mpc.destroy()


def _elasticity(msh, plane):
    """Linear elasticity with data symmetric under (x, y) ↔ (y, x); Dirichlet off the plane."""
    V = fem.functionspace(msh, ("Lagrange", 2, (3,)))
    x = ufl.SpatialCoordinate(msh)
    f = ufl.as_vector([ufl.sin(ufl.pi * x[0]) * (1 + x[1]) * x[2],
                       ufl.sin(ufl.pi * x[1]) * (1 + x[0]) * x[2], x[0] * x[1] + x[2]])
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    eps = ufl.sym(ufl.grad(u))
    a = fem.form((2 * ufl.inner(eps, ufl.grad(v)) + 1.5 * ufl.div(u) * ufl.div(v)) * ufl.dx)
    L = fem.form(ufl.inner(f, v) * ufl.dx)
    g = fem.Function(V)
    g.interpolate(lambda p: np.array([0.1 * p[0] + 0.2 * p[1] ** 2 + p[2] * p[0],
                                      0.1 * p[1] + 0.2 * p[0] ** 2 + p[2] * p[1],
                                      p[0] * p[1] - p[2]]))
    msh.topology.create_connectivity(2, 3)
    facets = mesh.exterior_facet_indices(msh.topology)
    mid = mesh.compute_midpoints(msh, 2, facets)
    if plane:  # the mirror plane is free (constrained)
        facets = facets[~np.isclose(mid[:, 0], mid[:, 1])]
    bc = fem.dirichletbc(g, fem.locate_dofs_topological(V, 2, facets))
    return V, a, L, bc


def _full_and_half(n):
    cube = _box([0, 0, 0], [1, 1, 1], [n, n, n])  # Kuhn cells: symmetric under x ↔ y
    tdim = cube.topology.dim
    cells = np.arange(cube.topology.index_map(tdim).size_local, dtype=np.int32)
    mid = mesh.compute_midpoints(cube, tdim, cells)
    prism = mesh.create_submesh(cube, tdim, cells[mid[:, 1] < mid[:, 0]])[0]
    return cube, prism


@pytest.mark.parametrize("slave", ["x", "y"])
def test_mirror_plane_x_equals_y_matches_the_symmetric_full_solution(slave):
    cube, prism = _full_and_half(4)
    V, a, L, bc = _elasticity(cube, plane=False)
    full = _solve(MultiPointConstraint(V, LinearConstraints.empty(V)), a, L, [bc], V,
                  "test_mpc_full_")
    Vp, ap, Lp, bcp = _elasticity(prism, plane=True)
    nodes = fem.locate_dofs_geometrical(Vp, lambda p: np.isclose(p[0], p[1]))
    if slave == "x":  # largest |n_i|, lowest index on ties: u_x = u_y
        cons = plane_constraint(Vp, nodes, np.array([1.0, -1.0, 0.0]) / np.sqrt(2))
    else:
        cons = linear_constraints(Vp, [(3 * k + 1, [(3 * k, 1.0)]) for k in nodes])
    mpc = MultiPointConstraint(Vp, cons, bcs=[bcp])
    # Plane nodes on z = 0, 1 and on the lines (0, 0, z), (1, 1, z) are Dirichlet: dropped.
    assert mpc.num_slaves == 9 * 9 - (2 * 9 + 2 * 7)
    half = _solve(mpc, ap, Lp, [bcp], Vp, "test_mpc_half_")
    xf, xh = V.tabulate_dof_coordinates(), Vp.tabulate_dof_coordinates()
    dist, idx = cKDTree(xf).query(xh)
    assert dist.max() < 1e-12
    uf, uh = full.x.array.reshape(-1, 3)[idx], half.x.array.reshape(-1, 3)
    scale = np.abs(uf).max()
    assert scale > 0.1
    np.testing.assert_allclose(uh, uf, rtol=0, atol=1e-10 * scale)
    on_plane = np.isclose(xh[:, 0], xh[:, 1])
    np.testing.assert_allclose(uh[on_plane, 0], uh[on_plane, 1], atol=1e-14)
    mpc.destroy()


def _taylor_hood(msh):
    el_u = basix.ufl.element("Lagrange", msh.basix_cell(), 2, shape=(3,))
    el_p = basix.ufl.element("Lagrange", msh.basix_cell(), 1)
    W = fem.functionspace(msh, basix.ufl.mixed_element([el_u, el_p]))
    return W, fem.functionspace(msh, el_u), fem.functionspace(msh, el_p)


def _stokes(width, n, pin=(0.5, 0.5, 0.5)):
    """Shear flow with a periodic bottom perturbation and body force, periodic in x and y."""
    msh = _box([0, 0, 0], [width, 1, 1], [width * n, n, n])
    W, V, Q = _taylor_hood(msh)
    (u, p), (v, q) = ufl.TrialFunctions(W), ufl.TestFunctions(W)
    x = ufl.SpatialCoordinate(msh)
    f = ufl.as_vector([0.0, ufl.sin(2 * ufl.pi * x[0]), ufl.cos(2 * ufl.pi * x[1]) * x[2]])
    a = fem.form((ufl.inner(ufl.grad(u), ufl.grad(v)) - p * ufl.div(v) - q * ufl.div(u)) * ufl.dx)
    L = fem.form(ufl.inner(f, v) * ufl.dx)
    bottom, top = fem.Function(V), fem.Function(V)
    bottom.interpolate(lambda p: np.array([
        0.2 * np.sin(2 * np.pi * p[0]) * np.cos(2 * np.pi * p[1]), 0.1 * np.cos(2 * np.pi * p[0]),
        0.0 * p[0]]))
    top.interpolate(lambda p: np.array([1.0 + 0.0 * p[0], 0.0 * p[0], 0.0 * p[0]]))
    bcs = [fem.dirichletbc(g, fem.locate_dofs_topological((W.sub(0), V), 2,
                                                          _facets(msh, lambda p, z=z: np.isclose(
                                                              p[2], z))), W.sub(0))
           for g, z in ((bottom, 0.0), (top, 1.0))]
    # All normal velocities are fixed (Dirichlet or periodic): p is known up to a constant. Pin
    # a pressure dof that is neither a slave nor a master (here an interior vertex).
    pinned = fem.locate_dofs_geometrical((W.sub(1), Q), lambda p: np.isclose(p[0], pin[0])
                                         & np.isclose(p[1], pin[1]) & np.isclose(p[2], pin[2]))
    bcs.append(fem.dirichletbc(fem.Function(Q), pinned, W.sub(1)))
    cell = _xy((0, 0), (width, 1))
    cons = periodic_constraints(W.sub(0), cell) + periodic_constraints(W.sub(1), cell)
    mpc = MultiPointConstraint(W, cons, bcs=bcs)
    w = _solve(mpc, a, L, bcs, W, "test_mpc_stokes_")
    mpc.destroy()
    return w


def _fields(w):
    """Dof coordinates and values of velocity and (mean-free) pressure."""
    u, p = w.sub(0).collapse(), w.sub(1).collapse()
    msh = w.function_space.mesh
    volume = fem.assemble_scalar(fem.form(1.0 * ufl.dx(domain=msh)))
    mean = fem.assemble_scalar(fem.form(p * ufl.dx)) / volume
    return (u.function_space.tabulate_dof_coordinates(), u.x.array.reshape(-1, 3),
            p.function_space.tabulate_dof_coordinates(), p.x.array - mean)


def test_periodic_taylor_hood_stokes_matches_a_cell_twice_as_wide():
    (xu, u, xp, p), (xu2, u2, xp2, p2) = (_fields(_stokes(width, 4)) for width in (1, 2))
    for xa, a in ((xu, u), (xp, p)):  # periodic: opposite faces carry the same values
        for axis in (0, 1):
            upper = np.flatnonzero(np.isclose(xa[:, axis], 1.0))
            image = xa[upper].copy()
            image[:, axis] = 0.0
            partner = cKDTree(xa).query(image)[1]
            free = ~np.isclose(xa[upper, 2], 0.0) & ~np.isclose(xa[upper, 2], 1.0)
            np.testing.assert_array_equal(a[upper][free], a[partner][free])
            # Dirichlet dofs keep their own values: sin 2π·1 = −2.4e-16, sin 0 = 0.
            np.testing.assert_allclose(a[upper], a[partner], rtol=0, atol=1e-14)
    assert np.abs(u[:, 1]).max() > 0.05 and np.abs(u[:, 2]).max() > 1e-3
    # The period-1 solution is the period-2 one: compare on the common half.
    for x1, a1, x2, a2 in ((xu, u, xu2, u2), (xp, p, xp2, p2)):
        dist, idx = cKDTree(x2).query(x1)
        assert dist.max() < 1e-12
        np.testing.assert_allclose(a1, a2[idx], rtol=0, atol=1e-9 * np.abs(a1).max())


@pytest.mark.parametrize("pin", [(1.0, 0.5, 0.5), (0.0, 0.5, 0.5)], ids=["slave", "master"])
def test_pressure_pin_on_a_periodic_dof_is_rejected(pin):
    with pytest.raises(InputError, match="all Dirichlet or all free"):
        _stokes(1, 2, pin=pin)


def test_velocity_only_constraints_on_a_mixed_space():
    msh = _box([0, 0, 0], [1, 1, 1], [3, 3, 3])
    msh.topology.create_connectivity(3, 3)
    W, _, Q = _taylor_hood(msh)
    mpc = MultiPointConstraint(W, periodic_constraints(W.sub(0), _xy((0, 0), (1, 1))))
    nodes_upper = 7 * 7 * 2 - 7  # P2 nodes on x = 1 or y = 1
    assert mpc.num_slaves == 3 * nodes_upper
    assert mpc.size == W.dofmap.index_map.size_global - 3 * nodes_upper
    p_dofs = fem.locate_dofs_topological((W.sub(1), Q), 3, np.arange(
        msh.topology.index_map(3).size_local, dtype=np.int32))[0]
    assert not mpc.slave_mask[p_dofs].any() and not mpc.master_mask[p_dofs].any()
    w = fem.Function(W)
    w.x.array[:] = np.random.default_rng(0).uniform(size=w.x.array.size)
    before = w.x.array.copy()
    mpc.enforce(w.x.petsc_vec)
    np.testing.assert_array_equal(w.x.array[p_dofs], before[p_dofs])
    np.testing.assert_array_equal(w.x.array[~mpc.slave_mask], before[~mpc.slave_mask])
    wu = w.sub(0).collapse()
    xu, wu = wu.function_space.tabulate_dof_coordinates(), wu.x.array.reshape(-1, 3)
    corner = np.flatnonzero(np.linalg.norm(xu - [1, 1, 0.5], axis=1) < 1e-12)
    origin = np.flatnonzero(np.linalg.norm(xu - [0, 0, 0.5], axis=1) < 1e-12)
    np.testing.assert_array_equal(wu[corner], wu[origin])  # the chain x1,y1 → x0,y0 resolved
    mpc.destroy()


def test_plane_constraint_on_the_velocity_of_a_mixed_space():
    """A roller in a general direction: u·n = 0 with n = (1, 2, −3) eliminates u_z."""
    msh = _box([0, 0, 0], [1, 1, 1], [3, 3, 3])
    W, V, _ = _taylor_hood(msh)
    pairs = fem.locate_dofs_geometrical((W.sub(0), V), lambda p: np.isclose(p[2], 0.0))
    normal = np.array([1.0, 2.0, -3.0])
    mpc = MultiPointConstraint(W, plane_constraint(W.sub(0), pairs, normal))
    assert mpc.num_slaves == 7 * 7
    w = fem.Function(W)
    w.x.array[:] = np.random.default_rng(2).uniform(size=w.x.array.size)
    mpc.enforce(w.x.petsc_vec)
    u = w.x.array[pairs[0]].reshape(-1, 3)  # root dofs in the order of V's unrolled dofs
    assert np.all(pairs[1].reshape(-1, 3) % 3 == [0, 1, 2])
    np.testing.assert_allclose(u @ normal, 0.0, atol=1e-14)
    assert mpc.slave_mask[pairs[0].reshape(-1, 3)[:, 2]].all()
    mpc.destroy()


def test_chains_resolve_and_options_are_removed():
    msh = _box([0, 0, 0], [1, 1, 1], [2, 2, 2])
    V = fem.functionspace(msh, ("Lagrange", 1))
    # u0 = 0.5 u1 + 0.5 u2, u2 = 2 u3 + u4, u4 = −u5  →  u0 = 0.5 u1 + u3 − 0.5 u5
    cons = linear_constraints(V, [(0, [(1, 0.5), (2, 0.5)]), (2, [(3, 2.0), (4, 1.0)]),
                                  (4, [(5, -1.0)])])
    mpc = MultiPointConstraint(V, cons)
    assert mpc.num_slaves == 3 and mpc.size == 27 - 3
    cols, vals = mpc.P.getRow(0)
    np.testing.assert_array_equal(cols, mpc.reduced_index[[1, 3, 5]])
    np.testing.assert_allclose(vals, [0.5, 1.0, -0.5])
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = fem.form((ufl.inner(ufl.grad(u), ufl.grad(v)) + u * v) * ufl.dx)
    L = fem.form(v * ufl.dx)
    uh = _solve(mpc, a, L, [], V, "test_mpc_chain_", CG_GAMG)
    assert uh.x.array[0] == pytest.approx(0.5 * uh.x.array[1] + uh.x.array[3] - 0.5 * uh.x.array[5])
    assert not [k for k in PETSc.Options().getAll() if k.startswith("test_mpc_")]
    mpc.destroy()


def test_errors():
    msh = _box([0, 0, 0], [1, 1, 1], [3, 3, 3])
    V = fem.functionspace(msh, ("Lagrange", 1))
    with pytest.raises(InputError, match="cyclic"):
        MultiPointConstraint(V, linear_constraints(V, [(0, [(1, 1.0)]), (1, [(0, 1.0)])]))
    with pytest.raises(InputError, match="conflicting"):
        MultiPointConstraint(V, linear_constraints(V, [(0, [(1, 1.0)]), (0, [(2, 1.0)])]))
    with pytest.raises(InputError, match="out of range"):
        linear_constraints(V, [(0, [(10**6, 1.0)])])
    with pytest.raises(InputError, match="no dof"):
        periodic_constraints(V, [Periodic(0, 0.0, 0.9)])
    other = fem.functionspace(msh, ("Lagrange", 2))
    with pytest.raises(InputError, match="different size"):
        MultiPointConstraint(other, linear_constraints(V, [(0, [(1, 1.0)])]))
    # Not periodic node to node: move the nodes of x = 1 with y > 0.5 a third of a cell in y.
    x = msh.geometry.x
    moved = np.isclose(x[:, 0], 1.0) & (x[:, 1] > 0.5) & (x[:, 1] < 0.9)
    x[moved, 1] += 0.1
    with pytest.raises(InputError, match="periodic node to node"):
        periodic_constraints(V, [Periodic(0, 0.0, 1.0)])
