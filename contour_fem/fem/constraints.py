"""Multi-point constraints by prolongation: every dof is u = P·û.

A constraint makes a dof (a *slave*) a linear combination of other dofs (its *masters*),
u_s = Σ_m c_sm·u_m. The independent dofs û are all dofs that are not slaves, and the
prolongation P (a distributed PETSc AIJ matrix) maps them to all dofs: rows in the space's usual
PETSc layout (``dolfinx.fem.petsc.create_vector``/``create_matrix``), columns in a new layout in
which each rank owns its owned independent dofs, in their original order. A problem A·u = b in
the constrained space becomes

    Â·û = b̂,   Â = PᵀAP,   b̂ = Pᵀb,   u = P·û.

Constraints are collected as :class:`LinearConstraints` (from :func:`periodic_constraints`,
:func:`plane_constraint`, :func:`linear_constraints`, added with ``+``) and turned into P by
:class:`MultiPointConstraint`, which resolves chains (a master that is itself a slave is replaced
by its own masters) so that no slave is a master.

In a Newton solver: impose the Dirichlet values and then the constraints on the initial
iterate (``fem.petsc.set_bc``, :meth:`MultiPointConstraint.enforce`); each step reduces the
Jacobian assembled with ``bcs`` (:meth:`~MultiPointConstraint.reduce_matrix`, reusing Â) and the
residual with its Dirichlet rows zeroed (:meth:`~MultiPointConstraint.reduce_vector`), solves
Ĵ·δ̂ = −F̂ and updates with δ = P·δ̂ (:meth:`~MultiPointConstraint.expand`), so every iterate
satisfies the constraints. Convergence and line searches must measure ‖F̂‖ = ‖PᵀF‖: F itself is
not small on slaves and masters, only the sums PᵀF are.

Dirichlet rule (pass the ``bcs`` the operators are assembled with): after chains are resolved,
a constraint whose slave and masters are all Dirichlet dofs is dropped, so each such dof keeps
its own Dirichlet value and Â keeps DOLFINx's form (1 on the diagonal, b̂ = g, Newton residual 0
on Dirichlet rows). The values must then satisfy the constraint themselves (periodic data, for
periodic constraints). A constraint that mixes Dirichlet and free dofs (a Dirichlet slave with a
free master, e.g. a pressure pin on a slave, or a free slave with a Dirichlet master) is an
``InputError``: its test function would couple a Dirichlet row to free rows. Pin or prescribe
dofs that are neither slaves nor masters (:attr:`MultiPointConstraint.slave_mask`,
:attr:`~MultiPointConstraint.master_mask`), or the whole set of a slave and its masters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from mpi4py import MPI

import dolfinx
import numpy as np
from petsc4py import PETSc
from scipy.spatial import cKDTree

from contour_fem.core.errors import InputError
from contour_fem.core.parallel import raise_if_any
from contour_fem.fem._prolongation import build_prolongation
from contour_fem.fem.petsc import solve_linear


def _to_global(space: dolfinx.fem.FunctionSpace, local: np.ndarray) -> np.ndarray:
    """Global PETSc indices (int64) of local unrolled dofs of ``space``'s root space."""
    imap, bs = space.dofmap.index_map, space.dofmap.index_map_bs
    local = np.asarray(local, dtype=np.int64)
    blocks = imap.local_to_global((local.ravel() // bs).astype(np.int32)).astype(np.int64)
    return (blocks * bs + local.ravel() % bs).reshape(local.shape)


def _num_local(space: dolfinx.fem.FunctionSpace) -> tuple[int, int]:
    """(owned, owned + ghost) unrolled dofs of ``space``'s root space on this rank."""
    imap, bs = space.dofmap.index_map, space.dofmap.index_map_bs
    return imap.size_local * bs, (imap.size_local + imap.num_ghosts) * bs


def _nodes(space: dolfinx.fem.FunctionSpace) -> tuple[np.ndarray, np.ndarray]:
    """Root dofs (nodes × components, local unrolled) of a space or sub-space, and node points.

    A sub-space's dofs are those of its collapsed copy mapped to the root; only the collapse's
    dof map and dof coordinates are used (interpolation into collapsed P3 spaces is unreliable
    in DOLFINx 0.11).
    """
    if not space.component():
        imap, bs = space.dofmap.index_map, space.dofmap.index_map_bs
        n = imap.size_local + imap.num_ghosts
        return np.arange(n * bs, dtype=np.int64).reshape(n, bs), space.tabulate_dof_coordinates()
    collapsed, maps = space.collapse()
    if len(maps) != 1:
        raise InputError("constraints support meshes of a single cell type only")
    bs = collapsed.dofmap.index_map_bs
    return np.asarray(maps[0], dtype=np.int64).reshape(-1, bs), collapsed.tabulate_dof_coordinates()


@dataclass
class LinearConstraints:
    """Constraints u_s = Σ_m c_sm·u_m held by this rank, in global dof indices.

    Indices are global unrolled PETSc indices of the whole (root) space, block·bs + component,
    as in ``create_vector``. Any rank may hold any constraint, also one held by other ranks
    (identical copies are merged; different ones for the same slave are an error).

    Attributes:
        global_size: Global number of unrolled dofs of the space (guards against mixing spaces).
        slaves: Slave dofs, shape (n,).
        offsets: Shape (n + 1,); slave i has masters ``masters[offsets[i]:offsets[i + 1]]``.
        masters: Master dofs (int64).
        coefficients: c_sm, aligned with ``masters``. A slave with no masters is fixed to 0.
    """

    global_size: int
    slaves: np.ndarray
    offsets: np.ndarray
    masters: np.ndarray
    coefficients: np.ndarray

    @classmethod
    def empty(cls, space: dolfinx.fem.FunctionSpace) -> LinearConstraints:
        """No constraints on ``space`` (or on its root, for a sub-space)."""
        i = np.zeros(0, dtype=np.int64)
        n = space.dofmap.index_map.size_global * space.dofmap.index_map_bs
        return cls(n, i, np.zeros(1, dtype=np.int64), i, np.zeros(0))

    def __add__(self, other: LinearConstraints) -> LinearConstraints:
        """Both sets of constraints (of the same space)."""
        if self.global_size != other.global_size:
            raise InputError("cannot combine constraints of different function spaces")
        return LinearConstraints(
            self.global_size,
            np.concatenate([self.slaves, other.slaves]),
            np.concatenate([self.offsets, other.offsets[1:] + self.offsets[-1]]),
            np.concatenate([self.masters, other.masters]),
            np.concatenate([self.coefficients, other.coefficients]),
        )


def linear_constraints(
    space: dolfinx.fem.FunctionSpace,
    constraints: Iterable[tuple[int, Sequence[tuple[int, float]]]],
) -> LinearConstraints:
    """General constraints from this rank's local dofs (collective).

    Args:
        space: The space, or a sub-space of it: dof numbers refer to the root space either way.
        constraints: ``(slave, [(master, coefficient), ...])`` with local unrolled dof indices
            (block·bs + component, owned or ghost), as in ``u.x.array``. Ranks pass their own
            (possibly empty) lists.

    Returns:
        The constraints in global indices.

    Raises:
        InputError: On every rank, if a rank passed a dof index out of range.
    """
    slaves, counts, masters, coeffs = [], [], [], []
    n_local = _num_local(space)[1]
    message = None
    try:  # malformed input on one rank must not leave the others waiting
        for slave, terms in constraints:
            slaves.append(int(slave))
            counts.append(len(terms))
            for master, coeff in terms:
                masters.append(int(master))
                coeffs.append(float(coeff))
        dofs = np.array(slaves + masters, dtype=np.int64)
        bad = dofs[(dofs < 0) | (dofs >= n_local)]
        if bad.size:
            message = (f"linear_constraints: local dof {bad[0]} out of range [0, {n_local}) on "
                       f"rank {space.mesh.comm.rank}")
    except (TypeError, ValueError) as err:
        message = f"linear_constraints: expected (slave, [(master, coefficient), ...]): {err}"
    raise_if_any(space.mesh.comm, message)
    n = space.dofmap.index_map.size_global * space.dofmap.index_map_bs
    return LinearConstraints(n, _to_global(space, np.array(slaves, dtype=np.int64)),
                             np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]),
                             _to_global(space, np.array(masters, dtype=np.int64)),
                             np.array(coeffs, dtype=np.float64))


def plane_constraint(
    space: dolfinx.fem.FunctionSpace, dofs: np.ndarray | Sequence[np.ndarray], normal: np.ndarray
) -> LinearConstraints:
    """u·n = 0 at the given nodes of a vector space (a mirror plane, or a roller in any direction).

    The component i with the largest |n_i| (the lowest such index on ties) is eliminated:
    u_i = −Σ_{j≠i} (n_j/n_i)·u_j (collective).

    Args:
        space: A blocked vector space (bs = len(normal)), or the vector sub-space ``W.sub(k)`` of
            a mixed space.
        dofs: For a blocked space, its nodes (block indices, as from
            ``locate_dofs_topological(space, ...)``). For a sub-space, the pair
            ``locate_dofs_topological((W.sub(k), V), ...)`` with V a blocked copy of the sub-space
            (its collapse, or a space with the same element): root dofs and V's unrolled dofs.
        normal: The normal, shape (gdim,), or one per node, shape (nodes, gdim), in the order of
            the nodes (for a sub-space: ascending V block).

    Returns:
        The constraints in global indices.

    Raises:
        InputError: On every rank, if a rank passed a bad node list or a zero normal.
    """
    items, message = [], None
    try:  # a bad node list or normal on one rank must not leave the others waiting
        if space.component():
            root, copy = (np.asarray(d, dtype=np.int64) for d in dofs)
            gdim = np.asarray(normal).shape[-1]
            node, comp = copy // gdim, copy % gdim
            nodes, inverse = np.unique(node, return_inverse=True)
            table = np.full((nodes.size, gdim), -1, dtype=np.int64)
            table[inverse, comp] = root
        else:
            gdim = space.dofmap.index_map_bs
            table = np.asarray(dofs, dtype=np.int64)[:, None] * gdim + np.arange(gdim)
        n = np.broadcast_to(np.asarray(normal, dtype=np.float64), (len(table), gdim))
        length = np.linalg.norm(n, axis=1)
        if gdim < 2 or (table < 0).any() or (length == 0).any():
            raise ValueError("needs a vector space, every component of each node, nonzero normals")
        n = n / length[:, None]
        slave = np.argmax(np.abs(n), axis=1)
        for k in range(len(table)):
            i = slave[k]
            terms = [(table[k, j], -n[k, j] / n[k, i]) for j in range(gdim)
                     if j != i and n[k, j] != 0]
            items.append((table[k, i], terms))
    except (ValueError, IndexError) as err:
        message = f"plane_constraint: {err}"
    raise_if_any(space.mesh.comm, message)
    return linear_constraints(space, items)


@dataclass(frozen=True)
class Periodic:
    """Periodicity along a coordinate axis: the face x[axis] = upper is a copy of x[axis] = lower.

    Every dof on the upper face becomes a slave (coefficient 1) of the dof at x − (upper − lower)
    e_axis, after all translations that apply (an edge or corner dof on several upper faces goes
    to the dof on the lower faces of all of them).
    """

    axis: int
    lower: float
    upper: float


def periodic_constraints(
    space: dolfinx.fem.FunctionSpace, periodicity: Sequence[Periodic], *, rel_tol: float = 1e-6
) -> LinearConstraints:
    """Periodic constraints on a space or sub-space (collective).

    Dofs are matched by position with tolerance ``rel_tol`` times the smallest cell diameter;
    a master may live on any rank. Only the candidate masters (lower-face dofs not on an upper
    face) are gathered on every rank, so the cost grows with the face, not with the mesh.

    Args:
        space: A scalar or blocked space, or a sub-space (``W.sub(0)``, ``V.sub(2)``).
        periodicity: One entry per periodic direction (distinct axes).
        rel_tol: Matching tolerance relative to the cell size.

    Returns:
        The constraints in global indices of the root space, each held by the slave's owner.

    Raises:
        InputError: On every rank, if an upper-face dof has no partner (the mesh is not
            periodic node to node) or a face holds no dof.
    """
    axes = [p.axis for p in periodicity]
    if len(set(axes)) != len(axes) or any(p.upper <= p.lower for p in periodicity):
        raise InputError("periodic_constraints: needs distinct axes and upper > lower")
    msh = space.mesh
    comm, tdim = msh.comm, msh.topology.dim
    cells = np.arange(msh.topology.index_map(tdim).size_local, dtype=np.int32)
    h = comm.allreduce(float(msh.h(tdim, cells).min()) if cells.size else np.inf, op=MPI.MIN)
    tol = rel_tol * h
    dofs, x = _nodes(space)
    n_owned = _num_local(space)[0]
    upper = np.array([np.abs(x[:, p.axis] - p.upper) < tol for p in periodicity]).T
    lower = np.array([np.abs(x[:, p.axis] - p.lower) < tol for p in periodicity]).T
    upper, lower = upper.reshape(len(x), -1), lower.reshape(len(x), -1)
    owned = dofs[:, 0] < n_owned  # each node is sent by one rank: the owner of its first dof
    counts = comm.allreduce(np.array([(upper & owned[:, None]).sum(0),
                                      (lower & owned[:, None]).sum(0)]), op=MPI.SUM)
    if (counts == 0).any():
        raise InputError(f"periodic_constraints: a periodic face holds no dof ({periodicity})")
    cand = owned & lower.any(1) & ~upper.any(1)
    cand_x = np.concatenate(comm.allgather(x[cand]))
    cand_g = np.concatenate(comm.allgather(_to_global(space, dofs[cand])))
    nodes = np.flatnonzero(upper.any(1))
    image = x[nodes].copy()
    for k, p in enumerate(periodicity):
        image[upper[nodes, k], p.axis] = p.lower
    if nodes.size and cand_x.size:
        dist, idx = cKDTree(cand_x).query(image)
    else:  # no candidates at all: every upper-face dof is reported as unmatched
        dist, idx = np.full(nodes.size, np.inf), np.zeros(nodes.size, dtype=np.int64)
    miss = np.flatnonzero(dist > tol)
    raise_if_any(comm, f"periodic_constraints: no dof at {image[miss[0]]} matches the dof at "
                  f"{x[nodes[miss[0]]]} (tolerance {tol:.2e}); the mesh must be periodic node "
                  "to node" if miss.size else None)
    slave_local, master = dofs[nodes], cand_g[idx]
    mine = slave_local < n_owned
    n = space.dofmap.index_map.size_global * space.dofmap.index_map_bs
    count = int(mine.sum())
    return LinearConstraints(n, _to_global(space, slave_local[mine]),
                             np.arange(count + 1, dtype=np.int64), master[mine], np.ones(count))


def side_periodicity(cell) -> list[Periodic]:
    """The periodic side conditions of a cell mesh: both axes for a full cell, none otherwise.

    Full cells are periodic cells (any periodic surface); quarter and eighth cells use mirror
    planes instead (docs/model.md §1.4).
    """
    if cell.spec.domain != "full":
        return []
    return [Periodic(0, *cell.x_range), Periodic(1, *cell.y_range)]


class MultiPointConstraint:
    """The prolongation u = P·û of a set of constraints on a function space (collective).

    Args:
        space: The (root) space whose PETSc layout the operators use, e.g. the mixed W.
        constraints: Constraints on it or on its sub-spaces (summed if several).
        bcs: The Dirichlet conditions the operators are assembled with (see the module notes:
            constraints among Dirichlet dofs only are dropped, mixed ones are an error).

    Attributes:
        P: The prolongation (rows: dofs of ``space``; columns: the independent dofs).
        size: Global number of independent dofs (the reduced problem's size).
        num_slaves: Global number of slaves.
        slave_mask: Local dofs (owned and ghost, unrolled) that are slaves.
        master_mask: Local dofs that are masters of some slave.
        reduced_index: Reduced global index of every local dof (−1 for a slave).

    Raises:
        InputError: On every rank, for inconsistent, cyclic or Dirichlet-mixing constraints.
    """

    def __init__(
        self,
        space: dolfinx.fem.FunctionSpace,
        constraints: LinearConstraints | Sequence[LinearConstraints],
        *,
        bcs: Sequence[dolfinx.fem.DirichletBC] = (),
    ):
        if isinstance(constraints, LinearConstraints):
            constraints = [constraints]
        total = LinearConstraints.empty(space)
        raise_if_any(space.mesh.comm, "constraints belong to a space of a different size"
                     if any(c.global_size != total.global_size for c in constraints) else None)
        for c in constraints:
            total = total + c
        self.space = space
        self.comm = space.mesh.comm
        n_owned = _num_local(space)[0]
        dirichlet = np.zeros(n_owned, dtype=bool)
        for bc in bcs:
            dofs, num_owned = bc.dof_indices()
            dirichlet[dofs[:num_owned]] = True
        self.P, self.size, self.num_slaves, flags = build_prolongation(
            space, (total.slaves, total.offsets, total.masters, total.coefficients), dirichlet)
        self.slave_mask = flags[0] > 0.5
        self.master_mask = flags[1] > 0.5
        self.reduced_index = np.rint(flags[2]).astype(np.int64)
        self._independent = np.flatnonzero(~self.slave_mask[:n_owned]).astype(np.int32)

    def create_vector(self) -> PETSc.Vec:
        """A reduced vector (the column layout of P)."""
        return self.P.createVecRight()

    def reduce_matrix(self, A: PETSc.Mat, result: PETSc.Mat | None = None) -> PETSc.Mat:
        """Â = PᵀAP; pass the previous Â as ``result`` to reuse its sparsity (same A pattern)."""
        return A.PtAP(self.P, result=result)

    def reduce_vector(self, b: PETSc.Vec, result: PETSc.Vec | None = None) -> PETSc.Vec:
        """b̂ = Pᵀb; ``b`` must be assembled (ghost contributions added to their owners)."""
        if result is None:
            result = self.create_vector()
        self.P.multTranspose(b, result)
        return result

    def expand(self, xhat: PETSc.Vec, x: PETSc.Vec) -> None:
        """Set x = P·x̂, ghosts updated (``x`` in the space's layout, e.g. ``u.x.petsc_vec``)."""
        self.P.mult(xhat, x)
        x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)

    def restrict(self, x: PETSc.Vec, result: PETSc.Vec | None = None) -> PETSc.Vec:
        """The independent entries x̂ of ``x`` (P·x̂ = x whenever x satisfies the constraints)."""
        if result is None:
            result = self.create_vector()
        result.array[:] = x.array_r[self._independent]
        return result

    def enforce(self, x: PETSc.Vec) -> None:
        """Set the slaves of ``x`` from its masters in place (x ← P·x̂), ghosts updated."""
        xhat = self.restrict(x)
        self.expand(xhat, x)
        xhat.destroy()

    def destroy(self) -> None:
        """Free P."""
        self.P.destroy()


def solve_constrained(
    mpc: MultiPointConstraint,
    A: PETSc.Mat,
    b: PETSc.Vec,
    x: PETSc.Vec,
    *,
    prefix: str,
    options: Mapping[str, object],
    what: str = "constrained linear solve",
) -> int:
    """Solve PᵀAP·x̂ = Pᵀb and set x = P·x̂ (ghosts updated); ``x`` is the initial guess.

    Args:
        mpc: The constraints.
        A: Operator assembled in the full space (with ``bcs``, if any).
        b: Right-hand side in the full space (assembled, lifted, with Dirichlet values set).
        x: Solution in the full space, e.g. ``u.x.petsc_vec``.
        prefix: PETSc options prefix, unique per problem (ends with ``_``).
        options: KSP/PC options, set under ``prefix`` for the setup and removed afterwards.
        what: Problem name for the error message.

    Returns:
        Krylov iterations.

    Raises:
        ConvergenceError: On every rank, if the KSP diverged.
    """
    Ahat = mpc.reduce_matrix(A)
    bhat = mpc.reduce_vector(b)
    xhat = mpc.restrict(x)
    try:
        its = solve_linear(Ahat, bhat, xhat, prefix=prefix, options=options, what=what)
        mpc.expand(xhat, x)
        return its
    finally:
        for obj in (Ahat, bhat, xhat):
            obj.destroy()


__all__ = [
    "LinearConstraints",
    "MultiPointConstraint",
    "Periodic",
    "linear_constraints",
    "periodic_constraints",
    "plane_constraint",
    "solve_constrained",
]
