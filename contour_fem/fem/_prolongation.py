"""Distributed assembly of the prolongation P of multi-point constraints (see ``constraints``).

All steps are collective and run the same sequence of MPI calls on every rank: send each
constraint to the owner of its slave and merge copies; replace masters that are slaves by their
own masters until none is; apply the Dirichlet rule; number the independent dofs; assemble P.
Owner-to-owner messages go through ``alltoall`` of NumPy arrays: they are as large as the
constraint sets (faces, planes), not the mesh.
"""

from __future__ import annotations

from collections.abc import Callable

from mpi4py import MPI

import dolfinx
import numpy as np
from petsc4py import PETSc

from contour_fem.core.errors import ContourFemError
from contour_fem.core.parallel import raise_if_any

# Substitution rounds for chains of constraints. Periodic edges and corners need none (they are
# resolved geometrically); only long user-made chains or cycles get near this.
MAX_ROUNDS = 32


class _Layout:
    """Ownership of a space's unrolled global dofs, and owner queries."""

    def __init__(self, space: dolfinx.fem.FunctionSpace):
        imap, bs = space.dofmap.index_map, space.dofmap.index_map_bs
        self.comm = space.mesh.comm
        self.imap, self.bs = imap, bs
        self.n_owned = imap.size_local * bs
        self.start = imap.local_range[0] * bs
        self.size_global = imap.size_global * bs
        self.starts = np.array([*self.comm.allgather(self.start), self.size_global], np.int64)

    def owner(self, g: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.starts, g, side="right") - 1

    def query(self, keys: np.ndarray, answer: Callable[[np.ndarray], tuple]) -> list[np.ndarray]:
        """Ask the owners about sorted unique global ``keys``.

        ``answer`` gets the owned local indices asked for and returns a tuple of arrays (one
        value per key, or flat data described by a per-key count); the fields come back
        concatenated in key order (owners are monotone in the global index).
        """
        bounds = np.searchsorted(keys, self.starts)
        recv = self.comm.alltoall([keys[bounds[r]:bounds[r + 1]] for r in range(self.comm.size)])
        back = self.comm.alltoall([answer(q - self.start) for q in recv])
        return [np.concatenate([b[k] for b in back]) for k in range(len(back[0]))]

    def scatter(self, owned: np.ndarray) -> np.ndarray:
        """Owned values (float64, exact for integers below 2⁵³) extended to ghosts."""
        vec = dolfinx.la.vector(self.imap, self.bs)
        vec.array[: self.n_owned] = owned
        vec.scatter_forward()
        return vec.array.copy()


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + n)`` over ``zip(starts, lengths)``."""
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.repeat(np.asarray(starts, dtype=np.int64) - np.cumsum(lengths) + lengths,
                     lengths) + np.arange(lengths.sum())


def _csr(n: int, row: np.ndarray, col: np.ndarray, val: np.ndarray):
    """Offsets, columns, values of rows ``row`` (duplicates summed, exact zeros dropped)."""
    order = np.lexsort((col, row))
    row, col, val = row[order], col[order], val[order]
    if row.size:
        new = np.r_[True, (row[1:] != row[:-1]) | (col[1:] != col[:-1])]
        val = np.add.reduceat(val, np.flatnonzero(new))
        row, col = row[new], col[new]
        keep = val != 0.0
        row, col, val = row[keep], col[keep], val[keep]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n))]).astype(np.int64)
    return offsets, col, val


def _route(lay: _Layout, slaves, offsets, masters, coeffs):
    """Send each constraint to its slave's owner; merge identical copies of one constraint."""
    counts = np.diff(offsets)
    width = np.maximum(counts, 1)  # a slave without masters travels with a placeholder (−1)
    s = np.repeat(slaves.astype(np.int64), width)
    # A copy is identified by (sending rank, record): ghost copies of one constraint come from
    # several ranks, but a rank may also hold two different constraints for one slave.
    record = np.repeat(np.arange(counts.size, dtype=np.int64), width) + (lay.comm.rank << 32)
    m, v = np.full(s.size, -1, np.int64), np.zeros(s.size)
    pos = _ranges(np.cumsum(width) - width, counts)
    m[pos], v[pos] = masters, coeffs
    order = np.argsort(lay.owner(s), kind="stable")
    s, m, v, record = s[order], m[order], v[order], record[order]
    bounds = np.searchsorted(lay.owner(s), np.arange(lay.comm.size + 1))
    parts = [slice(bounds[r], bounds[r + 1]) for r in range(lay.comm.size)]
    recv = lay.comm.alltoall([(s[p], m[p], v[p], record[p]) for p in parts])
    s, m, v, record = (np.concatenate([r[k] for r in recv]) for k in range(4))
    order = np.lexsort((m, record, s))
    s, m, v, record = s[order], m[order], v[order], record[order]
    new = np.r_[True, s[1:] != s[:-1]] if s.size else np.zeros(0, bool)
    starts = np.flatnonzero(new)
    win = record == record[starts][np.cumsum(new) - 1]  # the lowest (rank, record) copy is used
    message = None
    for g in np.unique(np.cumsum(new)[~win] - 1):  # only slaves with several copies
        block = slice(starts[g], starts[g + 1] if g + 1 < starts.size else s.size)
        br, bm, bv = record[block], m[block], v[block]
        ref = br == br[0]
        for k in np.unique(br[~ref]):
            other = br == k
            if not (np.array_equal(bm[ref], bm[other]) and np.allclose(bv[ref], bv[other])):
                message = (f"conflicting constraints for global dof {s[starts[g]]}: a slave "
                           "may have one constraint only")
    raise_if_any(lay.comm, message)
    s, m, v = s[win], m[win], v[win]
    slaves = np.unique(s)
    real = m >= 0
    offsets, masters, coeffs = _csr(slaves.size, np.searchsorted(slaves, s[real]), m[real], v[real])
    return slaves, offsets, masters, coeffs


def _resolve(lay: _Layout, slaves, offsets, masters, coeffs):
    """Substitute masters that are slaves by their masters until no master is a slave."""
    for _ in range(MAX_ROUNDS):
        keys = np.unique(masters)

        def expansion(q, slaves=slaves, offsets=offsets, masters=masters, coeffs=coeffs):
            # −1: not a slave; else the number of its masters, which follow in the flat arrays.
            i = np.searchsorted(slaves, q + lay.start)
            hit = i < slaves.size
            hit[hit] = slaves[i[hit]] == q[hit] + lay.start
            width = np.diff(offsets)
            count = np.full(q.size, -1, dtype=np.int64)
            count[hit] = width[i[hit]]
            take = _ranges(offsets[i[hit]], width[i[hit]])
            return count, masters[take], coeffs[take]

        count, fm, fc = lay.query(keys, expansion)
        if not lay.comm.allreduce(int((count >= 0).any()), op=MPI.MAX):
            return slaves, offsets, masters, coeffs
        row = np.repeat(np.arange(slaves.size), np.diff(offsets))
        k = np.searchsorted(keys, masters)
        cnt = count[k]
        keep = cnt < 0
        j = np.flatnonzero(~keep)
        reps = cnt[j]
        take = _ranges((np.cumsum(np.maximum(count, 0)) - np.maximum(count, 0))[k[j]], reps)
        jj = np.repeat(j, reps)
        offsets, masters, coeffs = _csr(
            slaves.size, np.concatenate([row[keep], row[jj]]),
            np.concatenate([masters[keep], fm[take]]),
            np.concatenate([coeffs[keep], coeffs[jj] * fc[take]]))
        row = np.repeat(np.arange(slaves.size), np.diff(offsets))
        cyclic = np.flatnonzero(masters == slaves[row])
        raise_if_any(lay.comm, f"cyclic constraints through global dof {masters[cyclic[0]]}"
                     if cyclic.size else None)
    raise_if_any(lay.comm, f"constraint chains longer than {MAX_ROUNDS} (cyclic constraints?)")
    raise ContourFemError("unreachable")  # pragma: no cover


def _dirichlet_rule(lay: _Layout, dirichlet, slaves, offsets, masters, coeffs):
    """Drop constraints among Dirichlet dofs only; reject those that mix them with free dofs."""
    keys = np.unique(masters)
    (flag,) = lay.query(keys, lambda q: (dirichlet[q],))
    row = np.repeat(np.arange(slaves.size), np.diff(offsets))
    n_dir = np.bincount(row, weights=flag[np.searchsorted(keys, masters)], minlength=slaves.size)
    slave_dir = dirichlet[slaves - lay.start]
    all_dir = n_dir == np.diff(offsets)
    bad = np.flatnonzero((slave_dir & ~all_dir) | (~slave_dir & (n_dir > 0)))
    message = None
    if bad.size:
        b = bad[0]
        message = (f"constraint of global dof {slaves[b]} (Dirichlet: {bool(slave_dir[b])}) has "
                   f"{int(n_dir[b])} of {int(np.diff(offsets)[b])} masters with Dirichlet "
                   "conditions: a slave and its masters must be all Dirichlet or all free (pin "
                   "or prescribe dofs that are neither slaves nor masters)")
    raise_if_any(lay.comm, message)
    keep = ~(slave_dir & all_dir)
    kept = np.repeat(keep, np.diff(offsets))
    offsets = np.concatenate([[0], np.cumsum(np.diff(offsets)[keep])]).astype(np.int64)
    return slaves[keep], offsets, masters[kept], coeffs[kept]


def build_prolongation(space: dolfinx.fem.FunctionSpace, constraints: tuple[np.ndarray, ...],
                       dirichlet: np.ndarray):
    """P and its bookkeeping for ``constraints`` on ``space`` (collective).

    Args:
        space: The root space (its PETSc layout gives P's rows).
        constraints: This rank's share of the constraints, (slaves, offsets, masters,
            coefficients) in global indices as in ``constraints.LinearConstraints``.
        dirichlet: Owned unrolled dofs with Dirichlet conditions (bool mask).

    Returns:
        ``(P, reduced size, number of slaves, flags)``: ``flags`` is (3, local dofs) with slave
        mask, master mask and reduced global index (−1 for slaves), ghosts included.
    """
    lay = _Layout(space)
    data = _route(lay, *constraints)
    data = _resolve(lay, *data)
    slaves, offsets, masters, coeffs = _dirichlet_rule(lay, dirichlet, *data)

    independent = np.ones(lay.n_owned, dtype=bool)
    independent[slaves - lay.start] = False
    n_ind = int(independent.sum())
    first = lay.comm.exscan(n_ind) or 0  # exscan gives None on rank 0
    reduced = np.full(lay.n_owned, -1, dtype=np.int64)
    reduced[independent] = first + np.arange(n_ind)
    size = lay.comm.allreduce(n_ind, op=MPI.SUM)
    is_master = np.zeros(lay.n_owned, dtype=bool)

    def column(q):
        is_master[q] = True  # the owners learn which of their dofs are masters here
        return (reduced[q],)

    keys = np.unique(masters)
    (col_of,) = lay.query(keys, column)
    cols = col_of[np.searchsorted(keys, masters)]
    raise_if_any(lay.comm, "internal error: a master is a slave" if (cols < 0).any() else None,
                 ContourFemError)

    # CSR of the owned rows: identity on independent dofs, the masters' columns on slaves.
    width = np.ones(lay.n_owned, dtype=np.int64)
    width[slaves - lay.start] = np.diff(offsets)
    indptr = np.concatenate([[0], np.cumsum(width)])
    indices = np.empty(indptr[-1], dtype=np.int64)
    values = np.ones(indptr[-1])
    indices[indptr[:-1][independent]] = reduced[independent]
    slave_rows = np.repeat(slaves - lay.start, np.diff(offsets))
    pos = _ranges(indptr[slaves - lay.start], np.diff(offsets))
    order = np.lexsort((cols, slave_rows))  # PETSc wants sorted columns in each row
    indices[pos] = cols[order]
    values[pos] = coeffs[order]
    P = PETSc.Mat().createAIJ(
        size=((lay.n_owned, lay.size_global), (n_ind, size)),
        csr=(indptr.astype(PETSc.IntType), indices.astype(PETSc.IntType), values),
        comm=lay.comm,
    )
    P.assemble()

    slave_mask = ~independent
    flags = np.array([lay.scatter(slave_mask.astype(float)), lay.scatter(is_master.astype(float)),
                      lay.scatter(reduced.astype(float))])
    num_slaves = lay.comm.allreduce(int(slaves.size), op=MPI.SUM)
    return P, size, num_slaves, flags
