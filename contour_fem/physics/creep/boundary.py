"""Boundary conditions of the creep flow in the lithium (docs/model.md §3).

- interface: u = −v_n·n (no slip, strong), or u·n = −v_n with zero tangential traction (free
  slip, non-symmetric Nitsche; :func:`free_slip_terms`);
- mirror planes: u·n = 0 and zero shear (the normal component is fixed); the eighth cell's
  diagonal plane x = y, which is no coordinate plane, by the multi-point constraint u_x = u_y
  (:func:`diagonal_constraint`);
- periodic sides (full cells): velocity and pressure on x = x1 (y = y1) equal those on x = x0
  (y = y0), by multi-point constraints (:func:`periodic_constraint`);
- bottom: a rigid plate moving at the mean plating speed (strong), or zero traction;
- with the normal velocity prescribed everywhere the pressure is fixed only up to a constant, so
  one pressure dof is pinned (the datum is set afterwards from the stack pressure). In a periodic
  cell the pin is the bottom pressure dof nearest to the centre, which is no periodic slave or
  master; the plate (all three components) also removes the horizontal rigid translations that
  periodic sides would otherwise leave free.
"""

from __future__ import annotations

from mpi4py import MPI

import dolfinx
import numpy as np
import ufl

from contour_fem.fem.constraints import (
    MultiPointConstraint,
    Periodic,
    periodic_constraints,
    plane_constraint,
)
from contour_fem.mesh import SubMesh
from contour_fem.physics.creep import law

#: Side faces and the velocity component that vanishes on each (mirror symmetry).
MIRROR_PLANES = (("side_x0", 0), ("side_x1", 0), ("side_y0", 1), ("side_y1", 1))

#: Penalty of the free-slip Nitsche term (the non-symmetric variant is stable for any value).
NITSCHE_PENALTY = 20.0


def boundary_conditions(W, V, Q, S, sub: SubMesh, *, slip: str, bottom: str,
                        interface_velocity, plate_velocity, pin_point, tolerance: float,
                        diagonal: bool = False, periodic: bool = False) -> tuple[list, np.ndarray]:
    """Dirichlet conditions on the mixed space ``W`` and the pinned pressure dofs.

    Args:
        W: Mixed velocity–pressure space.
        V: Velocity space (W's first component, built on its own).
        Q: Pressure space.
        S: Scalar space of V's degree (for the velocity components).
        sub: The lithium submesh with its facet tags.
        slip: ``no-slip`` or ``free-slip``.
        bottom: ``plate`` or ``traction``.
        interface_velocity: Function on V, the prescribed interface velocity.
        plate_velocity: Function on V, the bottom plate velocity.
        pin_point: (x, y, z) of the pressure pin (used with the plate).
        tolerance: Distance within which a dof is at ``pin_point`` (m).
        diagonal: The cell has the mirror plane x = y (the eighth cell): where it meets the
            planes y = 0 and x = S/2, both in-plane components vanish (u·n = 0 on two planes).
        periodic: The side faces are periodic (no mirror conditions; the caller adds the
            constraints, :func:`periodic_constraint`).

    Returns:
        The conditions and the local Q dofs of the pressure pin (empty without one).
    """
    bcs = []
    if slip == "no-slip":
        dofs = dolfinx.fem.locate_dofs_topological((W.sub(0), V), 2, sub.facets("interface"))
        bcs.append(dolfinx.fem.dirichletbc(interface_velocity, dofs, W.sub(0)))
    zero = dolfinx.fem.Function(S)
    for name, comp in () if periodic else MIRROR_PLANES:
        dofs = dolfinx.fem.locate_dofs_topological((W.sub(0).sub(comp), S), 2, sub.facets(name))
        bcs.append(dolfinx.fem.dirichletbc(zero, dofs, W.sub(0).sub(comp)))
    if diagonal:
        for name, comp in (("side_y0", 0), ("side_x1", 1)):
            space = (W.sub(0).sub(comp), S)
            on_diag = dolfinx.fem.locate_dofs_topological(space, 2, sub.facets("side_diag"))
            on_side = dolfinx.fem.locate_dofs_topological(space, 2, sub.facets(name))
            _, i, _ = np.intersect1d(on_diag[0], on_side[0], return_indices=True)
            dofs = [on_diag[0][i], on_diag[1][i]]
            bcs.append(dolfinx.fem.dirichletbc(zero, dofs, W.sub(0).sub(comp)))
    pin = np.empty(0, dtype=np.int32)
    if bottom == "plate":
        dofs = dolfinx.fem.locate_dofs_topological((W.sub(0), V), 2,
                                                   sub.facets("lithium_bottom"))
        bcs.append(dolfinx.fem.dirichletbc(plate_velocity, dofs, W.sub(0)))
        # The normal velocity is prescribed on the whole boundary (strongly, or weakly by
        # Nitsche for free slip): a constant pressure is a null mode, so pin one point.
        x0, y0, z0 = pin_point
        tol = tolerance

        def corner(x):
            return (np.abs(x[0] - x0) < tol) & (np.abs(x[1] - y0) < tol) & (
                np.abs(x[2] - z0) < tol)

        pdofs = dolfinx.fem.locate_dofs_geometrical((W.sub(1), Q), corner)
        pin = pdofs[1]
        bcs.append(dolfinx.fem.dirichletbc(dolfinx.fem.Function(Q), pdofs, W.sub(1)))
    return bcs, pin


def centre_pin(Q, sub: SubMesh, centre: tuple[float, float]) -> tuple[float, float, float]:
    """The bottom pressure node nearest to ``centre`` (x, y), the same point on every rank."""
    dofs = dolfinx.fem.locate_dofs_topological(Q, 2, sub.facets("lithium_bottom"))
    x = Q.tabulate_dof_coordinates()[dofs]
    d = np.hypot(x[:, 0] - centre[0], x[:, 1] - centre[1]) if len(x) else np.zeros(0)
    comm = Q.mesh.comm
    best = comm.allreduce((float(d.min()) if d.size else np.inf, comm.rank), op=MPI.MINLOC)
    point = x[int(np.argmin(d))] if comm.rank == best[1] else None
    return tuple(float(c) for c in comm.bcast(point, root=best[1]))


def periodic_constraint(W, cell, bcs: list) -> MultiPointConstraint:
    """Periodic velocity and pressure across the side faces of a full cell (collective)."""
    sides = [Periodic(0, *cell.x_range), Periodic(1, *cell.y_range)]
    velocity = periodic_constraints(W.sub(0), sides)
    pressure = periodic_constraints(W.sub(1), sides)
    return MultiPointConstraint(W, [velocity, pressure], bcs=bcs)


def constrained_dofs(space: dolfinx.fem.FunctionSpace, sub: SubMesh, *, slip: str,
                     bottom: str, periodic: bool = False) -> np.ndarray:
    """Local (unrolled) dofs of a 3-vector space that carry Dirichlet data."""
    comps = [] if periodic else [(name, (c,)) for name, c in MIRROR_PLANES]
    if slip == "no-slip":
        comps.append(("interface", (0, 1, 2)))
    if bottom == "plate":
        comps.append(("lithium_bottom", (0, 1, 2)))
    dofs = [dolfinx.fem.locate_dofs_topological(space.sub(c), 2, sub.facets(name))
            for name, cs in comps for c in cs]
    return np.unique(np.concatenate(dofs)).astype(np.int32)


def cell_size(msh: dolfinx.mesh.Mesh) -> dolfinx.fem.Function:
    """Cell diameters as a DG0 function (CellDiameter is unsupported on curved cells)."""
    tdim = msh.topology.dim
    DG0 = dolfinx.fem.functionspace(msh, ("DG", 0))
    h = dolfinx.fem.Function(DG0)
    ncells = msh.topology.index_map(tdim).size_local + msh.topology.index_map(tdim).num_ghosts
    h.x.array[:] = msh.h(tdim, np.arange(ncells, dtype=np.int32))
    return h


def free_slip_terms(u, p, v, q, *, normal, interface_velocity, h, n, eps0, length, ds):
    """Non-symmetric Nitsche terms for u·n = g·n with zero tangential traction.

    Stable for any penalty, and Newton converges where the symmetric variant stalls.
    """
    eta = law.norton_viscosity(u, n, eps0, length)
    gap = ufl.dot(u - interface_velocity, normal)
    t_u = ufl.dot(ufl.dot(law.stress(u, p, n, eps0, length), normal), normal)
    t_v = ufl.dot(ufl.dot(2.0 * eta * law.strain_rate(v) - q * ufl.Identity(3), normal), normal)
    return (-t_u * ufl.dot(v, normal) + t_v * gap
            + NITSCHE_PENALTY * eta / h * gap * ufl.dot(v, normal)) * ds


def diagonal_constraint(W, V, sub: SubMesh, bcs: list) -> MultiPointConstraint:
    """u·n = 0 on the plane x = y, n = (1, −1, 0)/√2: u_x = u_y there (collective).

    Dirichlet dofs on the plane (the no-slip interface, the bottom plate, the lines where the
    plane meets the other mirror planes) keep their values: their constraints are dropped.
    """
    dofs = dolfinx.fem.locate_dofs_topological((W.sub(0), V), 2, sub.facets("side_diag"))
    constraints = plane_constraint(W.sub(0), dofs, np.array([1.0, -1.0, 0.0]))
    return MultiPointConstraint(W, constraints, bcs=bcs)
