"""Multi-point constraints in parallel: serial (COMM_SELF) equals parallel (COMM_WORLD).

Run with ``mpirun -n 2`` (and ``-n 3``) ``python -m mpi4py -m pytest``. Masters on other ranks,
ghost copies of a constraint, mixed Taylor–Hood spaces, and errors raised on every rank.
"""

from mpi4py import MPI

import basix.ufl
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

WORLD = MPI.COMM_WORLD
MUMPS = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
CG_GAMG = {"ksp_type": "cg", "pc_type": "gamg", "ksp_rtol": 1e-12, "ksp_atol": 0.0,
           "ksp_max_it": 500, "ksp_norm_type": "unpreconditioned"}
XY = [Periodic(0, 0.0, 1.0), Periodic(1, 0.0, 1.0)]

needs_ranks = pytest.mark.skipif(WORLD.size < 2, reason="compares 1 rank with ≥ 2 ranks: run "
                                 "under mpirun -n 2 or more")


def _box(comm, n):
    return mesh.create_box(comm, [np.zeros(3), np.ones(3)], n, mesh.CellType.tetrahedron)


def _facets(msh, marker):
    msh.topology.create_connectivity(2, 3)
    return mesh.locate_entities_boundary(msh, 2, marker)


def _solve(mpc, a, L, bcs, space, prefix, options=MUMPS):
    A = fem_petsc.assemble_matrix(a, bcs=bcs)
    A.assemble()
    b = fem_petsc.assemble_vector(L)
    fem_petsc.apply_lifting(b, [a], [bcs])
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    fem_petsc.set_bc(b, bcs)
    uh = fem.Function(space)
    solve_constrained(mpc, A, b, uh.x.petsc_vec, prefix=prefix, options=options)
    A.destroy()
    b.destroy()
    return uh


def _integral(form, comm):
    return comm.allreduce(fem.assemble_scalar(fem.form(form)), op=MPI.SUM)


def _owned(u):
    """Coordinates and values of the owned dofs of ``u``, from every rank."""
    V = u.function_space
    n, bs = V.dofmap.index_map.size_local, V.dofmap.index_map_bs
    comm = V.mesh.comm
    x = np.concatenate(comm.allgather(V.tabulate_dof_coordinates()[:n]))
    return x, np.concatenate(comm.allgather(u.x.array[: n * bs].reshape(n, bs)))


def _same(serial, parallel, tol=1e-10):
    (xs, us), (xp, up) = serial, parallel
    dist, idx = cKDTree(xs).query(xp)
    assert dist.max() < 1e-12 and len(xs) == len(xp)
    scale = np.abs(us).max()
    assert scale > 1e-3
    np.testing.assert_allclose(up, us[idx], rtol=0, atol=tol * scale)


def _poisson(comm, n, degree, options=MUMPS):
    msh = _box(comm, [n, n, n])
    V = fem.functionspace(msh, ("Lagrange", degree))
    x = ufl.SpatialCoordinate(msh)
    exact = ufl.sin(2 * ufl.pi * x[0]) * ufl.cos(2 * ufl.pi * x[1]) * ufl.sin(ufl.pi * x[2])
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
    L = fem.form(9 * ufl.pi**2 * exact * v * ufl.dx)
    facets = _facets(msh, lambda p: np.isclose(p[2], 0.0) | np.isclose(p[2], 1.0))
    bc = fem.dirichletbc(0.0, fem.locate_dofs_topological(V, 2, facets), V)
    mpc = MultiPointConstraint(V, periodic_constraints(V, XY), bcs=[bc])
    uh = _solve(mpc, a, L, [bc], V, "test_mpcp_poisson_", options)
    err = np.sqrt(_integral((uh - exact) ** 2 * ufl.dx(degree=degree + 3), comm))
    norm = np.sqrt(_integral(uh**2 * ufl.dx, comm))
    sizes = (mpc.size, mpc.num_slaves, int(mpc.P.getSize()[1]))
    # Rows of P that reference another rank's column: masters that live elsewhere.
    lo, hi = mpc.P.getOwnershipRangeColumn()
    start = mpc.P.getOwnershipRange()[0]
    n_owned = V.dofmap.index_map.size_local
    remote = sum(int(((c < lo) | (c >= hi)).any()) for c in (
        mpc.P.getRow(start + i)[0] for i in np.flatnonzero(mpc.slave_mask[:n_owned])))
    mpc.destroy()
    return uh, err, norm, (*sizes, comm.allreduce(remote, op=MPI.SUM) > 0)


@pytest.mark.mpi
@pytest.mark.ranks3
@needs_ranks
@pytest.mark.parametrize("degree, n", [(1, 10), (2, 6)])
def test_periodic_poisson_serial_equals_parallel(degree, n):
    us, err_s, norm_s, sizes_s = _poisson(MPI.COMM_SELF, n, degree)
    up, err_p, norm_p, sizes_p = _poisson(WORLD, n, degree)
    assert sizes_p[:3] == sizes_s[:3]
    assert sizes_p[3] and not sizes_s[3]  # some masters are on other ranks
    assert err_p == pytest.approx(err_s, rel=1e-10, abs=0)
    assert norm_p == pytest.approx(norm_s, rel=1e-10, abs=0)
    _same(_owned(us), _owned(up))
    # CG + GAMG (partition-dependent coarse spaces) reaches the same solution to its tolerance.
    ug = _poisson(WORLD, n, degree, CG_GAMG)[0]
    _same(_owned(us), _owned(ug), tol=1e-9)
    assert not [k for k in PETSc.Options().getAll() if k.startswith("test_mpcp_")]


def _prism(comm, n):
    """Elasticity on 0 ≤ y ≤ x ≤ 1 with u·n = 0 on x = y (plane nodes are ghosts on some ranks)."""
    cube = _box(comm, [n, n, n])
    cells = np.arange(cube.topology.index_map(3).size_local, dtype=np.int32)
    mid = mesh.compute_midpoints(cube, 3, cells)
    msh = mesh.create_submesh(cube, 3, cells[mid[:, 1] < mid[:, 0]])[0]
    V = fem.functionspace(msh, ("Lagrange", 2, (3,)))
    x = ufl.SpatialCoordinate(msh)
    f = ufl.as_vector([ufl.sin(ufl.pi * x[0]) * (1 + x[1]) * x[2],
                       ufl.sin(ufl.pi * x[1]) * (1 + x[0]) * x[2], x[0] * x[1] + x[2]])
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    eps = ufl.sym(ufl.grad(u))
    a = fem.form((2 * ufl.inner(eps, ufl.grad(v)) + 1.5 * ufl.div(u) * ufl.div(v)) * ufl.dx)
    L = fem.form(ufl.inner(f, v) * ufl.dx)
    msh.topology.create_connectivity(2, 3)
    facets = mesh.exterior_facet_indices(msh.topology)
    mid = mesh.compute_midpoints(msh, 2, facets)
    facets = facets[~np.isclose(mid[:, 0], mid[:, 1])]
    bc = fem.dirichletbc(np.array([0.0, 0.0, 0.1]), fem.locate_dofs_topological(V, 2, facets), V)
    nodes = fem.locate_dofs_geometrical(V, lambda p: np.isclose(p[0], p[1]))
    mpc = MultiPointConstraint(V, plane_constraint(V, nodes, np.array([1.0, -1.0, 0.0])),
                               bcs=[bc])
    uh = _solve(mpc, a, L, [bc], V, "test_mpcp_prism_")
    sizes = (mpc.size, mpc.num_slaves)
    mpc.destroy()
    return uh, sizes


@pytest.mark.mpi
@pytest.mark.ranks3
@needs_ranks
def test_mirror_plane_serial_equals_parallel():
    (us, sizes_s), (up, sizes_p) = _prism(MPI.COMM_SELF, 4), _prism(WORLD, 4)
    assert sizes_p == sizes_s
    _same(_owned(us), _owned(up))


def _stokes(comm, n, pin=(0.5, 0.5, 0.5)):
    msh = _box(comm, [n, n, n])
    cell = msh.basix_cell()
    el_u = basix.ufl.element("Lagrange", cell, 2, shape=(3,))
    el_p = basix.ufl.element("Lagrange", cell, 1)
    W = fem.functionspace(msh, basix.ufl.mixed_element([el_u, el_p]))
    V, Q = fem.functionspace(msh, el_u), fem.functionspace(msh, el_p)
    (u, p), (v, q) = ufl.TrialFunctions(W), ufl.TestFunctions(W)
    x = ufl.SpatialCoordinate(msh)
    f = ufl.as_vector([0.0, ufl.sin(2 * ufl.pi * x[0]), ufl.cos(2 * ufl.pi * x[1]) * x[2]])
    a = fem.form((ufl.inner(ufl.grad(u), ufl.grad(v)) - p * ufl.div(v) - q * ufl.div(u)) * ufl.dx)
    L = fem.form(ufl.inner(f, v) * ufl.dx)
    top = fem.Function(V)
    top.interpolate(lambda p: np.array([1.0 + 0 * p[0], 0 * p[0], 0 * p[0]]))
    bcs = [fem.dirichletbc(g, fem.locate_dofs_topological(
        (W.sub(0), V), 2, _facets(msh, lambda p, z=z: np.isclose(p[2], z))), W.sub(0))
        for g, z in ((fem.Function(V), 0.0), (top, 1.0))]
    pinned = fem.locate_dofs_geometrical((W.sub(1), Q), lambda p: np.isclose(p[0], pin[0])
                                         & np.isclose(p[1], pin[1]) & np.isclose(p[2], pin[2]))
    bcs.append(fem.dirichletbc(fem.Function(Q), pinned, W.sub(1)))
    cons = periodic_constraints(W.sub(0), XY) + periodic_constraints(W.sub(1), XY)
    mpc = MultiPointConstraint(W, cons, bcs=bcs)
    w = _solve(mpc, a, L, bcs, W, "test_mpcp_stokes_")
    sizes = (mpc.size, mpc.num_slaves)
    mpc.destroy()
    uh, ph = w.sub(0).collapse(), w.sub(1).collapse()
    return uh, ph, sizes


@pytest.mark.mpi
@pytest.mark.ranks3
@needs_ranks
def test_periodic_taylor_hood_serial_equals_parallel():
    us, ps, sizes_s = _stokes(MPI.COMM_SELF, 4)
    up, pp, sizes_p = _stokes(WORLD, 4)
    assert sizes_p == sizes_s
    _same(_owned(us), _owned(up))
    _same(_owned(ps), _owned(pp))  # pinned at the same point: no constant to remove


@pytest.mark.mpi
@pytest.mark.ranks3
def test_errors_are_raised_on_every_rank():
    with pytest.raises(InputError, match="all Dirichlet or all free"):
        _stokes(WORLD, 2, pin=(1.0, 0.5, 0.5))  # a pin on a slave (owned by one rank)
    msh = _box(WORLD, [4, 4, 4])
    V = fem.functionspace(msh, ("Lagrange", 1))
    last = WORLD.rank == WORLD.size - 1
    with pytest.raises(InputError, match="out of range"):
        linear_constraints(V, [(0, [(10**7, 1.0)])] if last else [])
    W = fem.functionspace(msh, ("Lagrange", 1, (3,)))
    nodes = fem.locate_dofs_geometrical(W, lambda p: np.isclose(p[0], p[1]))
    with pytest.raises(InputError, match="nonzero normals"):
        plane_constraint(W, nodes, np.zeros(3) if last else np.array([1.0, -1.0, 0.0]))
    x = msh.geometry.x  # not periodic node to node: only nodes with y ≈ 0.75 on x = 1 move
    x[np.isclose(x[:, 0], 1.0) & np.isclose(x[:, 1], 0.75), 1] += 0.05
    with pytest.raises(InputError, match="periodic node to node"):
        periodic_constraints(V, [Periodic(0, 0.0, 1.0)])


def _shared_pair(V):
    """Two global dofs that are ghosts on the last rank with one owner; local indices or −1."""
    imap = V.dofmap.index_map
    pair = None
    if WORLD.rank == WORLD.size - 1:
        ghosts, owners = imap.ghosts, imap.owners
        same = ghosts[owners == owners[0]]
        pair = [int(same[0]), int(same[1])]
    pair = WORLD.bcast(pair, root=WORLD.size - 1)
    return pair, imap.global_to_local(np.array(pair, dtype=np.int64))


@pytest.mark.mpi
@pytest.mark.ranks3
def test_copies_of_a_constraint_on_several_ranks_are_merged_not_summed():
    if WORLD.size < 2:
        pytest.skip("needs dofs shared by two ranks: run under mpirun -n 2 or more")
    msh = _box(WORLD, [4, 4, 4])
    V = fem.functionspace(msh, ("Lagrange", 1))
    (g, _), (slave, master) = _shared_pair(V)
    here = slave >= 0 and master >= 0  # the last rank and the owner, at least

    def cons(coeff):
        return linear_constraints(V, [(slave, [(master, coeff)])] if here else [])

    assert WORLD.allreduce(int(here), op=MPI.SUM) >= 2
    mpc = MultiPointConstraint(V, cons(0.5))
    assert mpc.num_slaves == 1 and mpc.size == V.dofmap.index_map.size_global - 1
    start, end = mpc.P.getOwnershipRange()
    if start <= g < end:
        _, vals = mpc.P.getRow(g)
        np.testing.assert_allclose(vals, [0.5])  # one copy, however many ranks sent it
    if here:
        assert mpc.slave_mask[slave] and mpc.master_mask[master]  # ghosts know it too
    mpc.destroy()
    with pytest.raises(InputError, match="conflicting"):
        MultiPointConstraint(V, cons(0.5 + 0.25 * WORLD.rank))
    empty = MultiPointConstraint(V, LinearConstraints.empty(V))
    assert empty.size == V.dofmap.index_map.size_global and empty.num_slaves == 0
    empty.destroy()
