"""The single bridge from the gmsh geometry layer to distributed DOLFINx meshes.

gmsh runs on rank 0 of the given communicator (:func:`contour_fem.core.parallel.on_root`): its
result or its error reaches every rank before any rank goes on, so every rank fails the same way
and no rank waits on a collective that will never come.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from mpi4py import MPI

import dolfinx
import gmsh
import numpy as np
import ufl
from dolfinx.io import gmsh as dolfinx_gmsh

from contour_fem.core.errors import ContourFemError, MeshError
from contour_fem.core.parallel import on_root
from contour_fem.geometry.cell import PHYSICAL_GROUPS, build_cell_model
from contour_fem.geometry.spec import CellSpec, cell_extent, check_cell_count, concrete
from contour_fem.geometry.topography import Topography

log = logging.getLogger(__name__)


@dataclass
class SubMesh:
    """One material region as a mesh of its own, with its facet tags and parent maps."""

    mesh: dolfinx.mesh.Mesh
    facet_tags: dolfinx.mesh.MeshTags
    cell_map: dolfinx.mesh.EntityMap

    def ds(self, name: str) -> ufl.Measure:
        """Exterior-facet measure restricted to the named physical group."""
        tag = PHYSICAL_GROUPS[name][1]
        return ufl.Measure("ds", domain=self.mesh, subdomain_data=self.facet_tags,
                           subdomain_id=tag)

    def facets(self, name: str) -> np.ndarray:
        """Local indices of the facets of the named group."""
        return self.facet_tags.find(PHYSICAL_GROUPS[name][1])


@dataclass
class CellMesh:
    """A distributed unit-cell mesh with its tags, geometry description and submeshes."""

    mesh: dolfinx.mesh.Mesh
    cell_tags: dolfinx.mesh.MeshTags
    facet_tags: dolfinx.mesh.MeshTags
    topography: Topography
    spec: CellSpec
    cell: dict  # CellModel.info() from rank 0, identical on every rank
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    z_bottom: float
    z_top: float
    _subs: dict[str, SubMesh] = field(default_factory=dict, repr=False)

    @property
    def comm(self) -> MPI.Comm:
        """The mesh communicator."""
        return self.mesh.comm

    @property
    def projected_area(self) -> float:
        """Projected area of the cell, m² (the eighth cell is half of its square)."""
        square = (self.x_range[1] - self.x_range[0]) * (self.y_range[1] - self.y_range[0])
        return 0.5 * square if self.spec.domain == "eighth" else square

    def submesh(self, name: str) -> SubMesh:
        """The ``electrolyte`` or ``lithium`` region as its own mesh (built once, then cached)."""
        if name not in self._subs:
            msh = self.mesh
            cells = self.cell_tags.find(PHYSICAL_GROUPS[name][1])
            sub, cell_map, vertex_map, _ = dolfinx.mesh.create_submesh(msh, 3, cells)
            msh.topology.create_connectivity(2, 3)
            sub.topology.create_connectivity(2, 3)
            tags = dolfinx.mesh.transfer_meshtags_to_submesh(
                self.facet_tags, sub, vertex_map, cell_map
            )
            self._subs[name] = SubMesh(sub, tags, cell_map)
        return self._subs[name]

    def transfer(self, source: dolfinx.fem.Function,
                 target: dolfinx.fem.FunctionSpace) -> dolfinx.fem.Function:
        """Move a field between the electrolyte and lithium submeshes through the parent mesh.

        Exact at the shared interface nodes (both submeshes inherit the parent's geometry), and
        parallel-safe: values reach the owner of each parent dof even when the source cell
        lives on another rank. (Point-search interpolation missed nodes on the mirror planes
        in parallel.)

        Args:
            source: Function on one submesh (Lagrange, same element family as ``target``).
            target: Space on the other submesh.
        """
        subs = {id(s.mesh): s for s in self._subs.values()}
        src = subs[id(source.function_space.mesh)]
        dst = subs[id(target.mesh)]
        parent_space = dolfinx.fem.functionspace(self.mesh, source.function_space.ufl_element())
        up = dolfinx.fem.Function(parent_space)
        count = dolfinx.fem.Function(parent_space)
        src_cells = _all_cells(src.mesh)
        src_parent = src.cell_map.sub_topology_to_topology(src_cells, False)
        up.interpolate(source, cells0=src_cells, cells1=src_parent)
        bs = parent_space.dofmap.index_map_bs
        dofs = parent_space.dofmap.list[src_parent].ravel()
        for c in range(bs):
            count.x.array[dofs * bs + c] = 1.0
        # Sum the values (identical wherever set) and the marks at the owners, then average.
        up.x.scatter_reverse(dolfinx.la.InsertMode.add)
        count.x.array[:] = np.where(count.x.array > 0, count.x.array, 0.0)
        count.x.scatter_reverse(dolfinx.la.InsertMode.add)
        nown = parent_space.dofmap.index_map.size_local * bs
        hits = count.x.array[:nown]
        up.x.array[:nown] = np.where(hits > 0, up.x.array[:nown] / np.maximum(hits, 1.0), 0.0)
        up.x.scatter_forward()
        out = dolfinx.fem.Function(target)
        dst_cells = _all_cells(dst.mesh)
        out.interpolate(up, cells0=dst.cell_map.sub_topology_to_topology(dst_cells, False),
                        cells1=dst_cells)
        out.x.scatter_forward()
        return out

    def interface_area(self) -> float:
        """True interface area of this cell (global), m²."""
        sub = self.submesh("electrolyte")
        form = dolfinx.fem.form(1.0 * sub.ds("interface"))
        return self.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)

    def volume(self, name: str) -> float:
        """Volume of the ``electrolyte`` or ``lithium`` region (global), m³."""
        dx = ufl.Measure("dx", domain=self.mesh, subdomain_data=self.cell_tags)
        form = dolfinx.fem.form(1.0 * dx(PHYSICAL_GROUPS[name][1]))
        return self.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)

    def min_jacobian(self) -> float:
        """Smallest Jacobian determinant over vertices and quadrature points (global), m³."""
        rule = dolfinx.fem.Expression(
            ufl.JacobianDeterminant(self.mesh),
            np.vstack([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0.25, 0.25, 0.25]]),
        )
        ncells = self.mesh.topology.index_map(3).size_local
        vals = rule.eval(self.mesh, np.arange(ncells, dtype=np.int32))
        local = float(vals.min()) if vals.size else np.inf
        return self.comm.allreduce(local, op=MPI.MIN)

    def counts(self) -> dict[str, int]:
        """Global numbers of cells and geometry nodes."""
        imap = self.mesh.topology.index_map(3)
        return {"cells": imap.size_global, "nodes": self.mesh.geometry.index_map().size_global}

    def write_xdmf(self, path: Path) -> None:
        """Write the mesh with its cell and facet tags to XDMF (collective)."""
        with dolfinx.io.XDMFFile(self.comm, str(path), "w") as xdmf:
            xdmf.write_mesh(self.mesh)
            self.mesh.topology.create_connectivity(2, 3)
            xdmf.write_meshtags(self.cell_tags, self.mesh.geometry)
            xdmf.write_meshtags(self.facet_tags, self.mesh.geometry)


def _all_cells(msh: dolfinx.mesh.Mesh) -> np.ndarray:
    imap = msh.topology.index_map(msh.topology.dim)
    return np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)


def _bisect(points: np.ndarray, nparts: int) -> np.ndarray:
    """Recursive coordinate bisection: part of each point, parts equal in size (±1)."""
    dest = np.zeros(len(points), dtype=np.int32)
    stack = [(np.arange(len(points)), 0, nparts)]
    while stack:
        idx, first, k = stack.pop()
        if k == 1 or len(idx) == 0:
            dest[idx] = first
            continue
        p = points[idx]
        axis = int(np.argmax(p.max(axis=0) - p.min(axis=0)))
        order = idx[np.argsort(p[:, axis], kind="stable")]
        cut = len(idx) * (k // 2) // k
        stack += [(order[:cut], first, k // 2), (order[cut:], first + k // 2, k - k // 2)]
    return dest


def region_partitioner(topography: Topography, x: np.ndarray | None):
    """Cell partitioner that spreads each region (lithium, electrolyte) evenly over the ranks.

    A graph partitioner cuts the tall cell across its narrow section, near the interface, so one
    rank got nearly all of one region (93 % of the lithium cells at ``medium`` on 2 ranks) and
    each physics stage ran on one rank. Here each region is split by coordinate bisection.

    Args:
        topography: Interface topography: a cell is lithium if its centroid lies below it.
        x: Node coordinates (m), indexed like the input cells; only needed where cells are.

    Returns:
        A partitioner for :func:`dolfinx.io.gmsh.model_to_mesh` (no ghost cells).
    """

    def partition(comm, nparts, cell_types, cells):
        (vertices,) = cells  # one cell type: tetrahedra
        vertices = np.asarray(vertices).reshape(-1, 4)
        dest = np.zeros(len(vertices), dtype=np.int32)
        if len(vertices):
            centroid = x[vertices].mean(axis=1)
            lithium = centroid[:, 2] < topography.h(centroid[:, 0], centroid[:, 1])
            for region in (lithium, ~lithium):
                dest[region] = _bisect(centroid[region], nparts)
        return dolfinx.graph.adjacencylist(dest.reshape(-1, 1))._cpp_object

    return partition


def create_cell_mesh(
    comm: MPI.Comm,
    topography: Topography,
    spec: CellSpec,
    *,
    msh_path: Path | None = None,
    verbose: bool = False,
) -> CellMesh:
    """Mesh the unit cell with gmsh on rank 0 and distribute it over ``comm``.

    Args:
        comm: Communicator that will own the mesh.
        topography: Interface topography.
        spec: Cell and mesh settings.
        msh_path: If given, rank 0 also writes the gmsh mesh there.
        verbose: Let gmsh print its progress.

    Returns:
        The distributed mesh with cell tags (``electrolyte``, ``lithium``) and facet tags.

    Raises:
        InputError: On every rank, for inconsistent settings.
        MeshError: On every rank, if gmsh failed on rank 0.

    """
    t0 = time.perf_counter()
    spec = concrete(topography, spec)
    (x0, x1), (y0, y1), zb, zt = cell_extent(topography, spec)  # validates on every rank
    check_cell_count(topography, spec)
    try:
        info = on_root(comm, _build_on_root, topography, spec, msh_path, verbose)
    except ContourFemError:
        _gmsh_stop(comm)
        raise
    partitioner = None
    if comm.size > 1:
        x = dolfinx_gmsh.extract_geometry(gmsh.model) if comm.rank == 0 else None
        partitioner = region_partitioner(topography, x)
    try:
        data = dolfinx_gmsh.model_to_mesh(gmsh.model if comm.rank == 0 else None, comm, 0, gdim=3,
                                          partitioner=partitioner)
    finally:
        _gmsh_stop(comm)
    cm = CellMesh(
        mesh=data.mesh,
        cell_tags=data.cell_tags,
        facet_tags=data.facet_tags,
        topography=topography,
        spec=spec,
        cell=info,
        x_range=(x0, x1),
        y_range=(y0, y1),
        z_bottom=zb,
        z_top=zt,
    )
    cm.mesh.name = "cell"
    log.debug("meshed %s in %.2f s: %s", topography.kind, time.perf_counter() - t0, cm.counts())
    return cm


def _build_on_root(topography: Topography, spec: CellSpec, msh_path: Path | None,
                   verbose: bool) -> dict:
    """Rank 0: mesh the cell with gmsh (left in the gmsh model); returns the cell description."""
    _gmsh_start(verbose)
    try:
        model = build_cell_model(topography, spec)
        if msh_path is not None:
            gmsh.write(str(msh_path))
    except ContourFemError:
        raise
    except Exception as exc:  # gmsh raises bare Exceptions
        raise MeshError(f"gmsh failed: {exc}") from exc
    return model.info()


def _gmsh_start(verbose: bool) -> None:
    if gmsh.isInitialized():
        gmsh.clear()
    else:
        gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 1 if verbose else 0)
    gmsh.option.setNumber("General.NumThreads", 1)


def _gmsh_stop(comm: MPI.Comm) -> None:
    if comm.rank == 0 and gmsh.isInitialized():
        gmsh.finalize()
