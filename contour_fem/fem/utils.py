"""Small DOLFINx helpers shared by the physics problems: global reductions, boundary fields."""

from __future__ import annotations

from mpi4py import MPI

import dolfinx
import dolfinx.fem.petsc
import numpy as np
import ufl
from petsc4py import PETSc

from contour_fem.fem.constraints import MultiPointConstraint, solve_constrained
from contour_fem.fem.jit import compile_form
from contour_fem.fem.petsc import LINEAR_PRESETS, solve_linear


def global_argmax(comm: MPI.Comm, values: np.ndarray, points: np.ndarray) -> tuple[float, list]:
    """Global maximum of ``values`` and the point where it is reached (lowest rank wins ties).

    Args:
        comm: Communicator of the distributed data.
        values: Local values (1-D, may be empty).
        points: Local points, shape (len(values), 3).

    """
    if len(values):
        k = int(np.argmax(values))
        local = (float(values[k]), [float(c) for c in points[k]])
    else:
        local = (-np.inf, [np.nan] * 3)
    best = max(comm.allgather(local), key=lambda item: item[0])
    return best


def assemble_global(form: ufl.Form, comm: MPI.Comm) -> float:
    """Assemble a scalar form and sum it over ``comm``."""
    return comm.allreduce(dolfinx.fem.assemble_scalar(compile_form(form)), op=MPI.SUM)


def owned(V: dolfinx.fem.FunctionSpace, dofs: np.ndarray) -> np.ndarray:
    """The (unblocked) dofs in ``dofs`` that this rank owns."""
    return dofs[dofs < V.dofmap.index_map.size_local]


def boundary_projection(
    V: dolfinx.fem.FunctionSpace,
    residual: PETSc.Vec,
    dofs: np.ndarray,
    ds: ufl.Measure,
    *,
    prefix: str,
    constraints=None,
) -> tuple[dolfinx.fem.Function, int]:
    """Turn nodal reactions ∫ t·ψ_j ds into the boundary field t (L2 projection on the trace).

    The reactions of a Dirichlet boundary (residual entries at its dofs) are the variationally
    consistent flux; solving with the boundary mass matrix gives its nodal values.

    Args:
        V: Space of the field (scalar or vector Lagrange).
        residual: Reaction vector; only the entries at ``dofs`` are used.
        dofs: Local (unblocked) dofs on the boundary, ghosts included.
        ds: Measure of that boundary.
        prefix: PETSc options prefix of the mass-matrix solve.
        constraints: :class:`~contour_fem.fem.constraints.LinearConstraints` of ``V`` (periodic
            sides): the reactions of a dof and its periodic images are summed, and the
            projection is solved in the constrained space.

    Returns:
        The field (zero away from the boundary) and the CG iteration count.

    """
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    nlocal = V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts
    others = np.setdiff1d(np.arange(nlocal, dtype=np.int32), dofs).astype(np.int32)
    zero = dolfinx.fem.Function(V)
    bc = dolfinx.fem.dirichletbc(zero, others)
    mass = compile_form(ufl.inner(u, v) * ds)
    M = dolfinx.fem.petsc.assemble_matrix(mass, bcs=[bc], diag=1.0)
    M.assemble()
    rhs = residual.copy()
    bs = V.dofmap.index_map_bs
    with rhs.localForm() as loc:
        arr = loc.array_w
        for c in range(bs):
            arr[others * bs + c] = 0.0
    rhs.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
    field = dolfinx.fem.Function(V)
    if constraints is None:
        its = solve_linear(M, rhs, field.x.petsc_vec, prefix=prefix,
                           options=LINEAR_PRESETS["cg_jacobi"], what="boundary flux projection")
    else:
        mpc = MultiPointConstraint(V, constraints, bcs=[bc])
        try:
            its = solve_constrained(mpc, M, rhs, field.x.petsc_vec, prefix=prefix,
                                    options=LINEAR_PRESETS["cg_jacobi"],
                                    what="boundary flux projection")
        finally:
            mpc.destroy()
    field.x.scatter_forward()
    M.destroy()
    rhs.destroy()
    return field, its


def dof_pairs(sub: dolfinx.fem.FunctionSpace, space: dolfinx.fem.FunctionSpace) -> np.ndarray:
    """Index in ``sub``'s parent of every local dof (unrolled) of ``space``, a copy of ``sub``.

    For a component of a mixed space built as a space of its own (not by ``collapse()``:
    interpolation into a collapsed P3 space gives wrong values in DOLFINx 0.11).
    """
    msh = space.mesh
    tdim = msh.topology.dim
    imap = msh.topology.index_map(tdim)
    cells = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
    bs = space.dofmap.index_map_bs
    nlocal = space.dofmap.index_map.size_local + space.dofmap.index_map.num_ghosts
    out = np.full(nlocal * bs, -1, dtype=np.int32)
    for c in range(bs):
        pair = (sub.sub(c), space.sub(c)) if bs > 1 else (sub, space)
        parent, mine = dolfinx.fem.locate_dofs_topological(pair, tdim, cells)
        out[mine] = parent
    if (out < 0).any():
        raise RuntimeError("dof pairing between the mixed space and its component failed")
    return out


def all_cells(msh: dolfinx.mesh.Mesh) -> np.ndarray:
    """Local cells of ``msh``, ghosts included."""
    imap = msh.topology.index_map(msh.topology.dim)
    return np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
