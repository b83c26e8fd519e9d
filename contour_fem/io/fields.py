"""Fields and meshes for ParaView and meshio, with units in every name.

A solved case writes

- ``current.bp`` (VTX/ADIOS2, electrolyte): ``potential_mV``;
- ``creep.bp`` (lithium): ``velocity_um_h`` and the hydrostatic ``pressure_MPa`` (relative to
  the stack pressure);
- ``interface.bp`` (the interface as a surface mesh of its own): ``current_ratio`` (i_loc/i_geo),
  ``current_density_mA_cm2``, ``excess_pressure_MPa`` and ``critical_current_ratio_to_flat``
  (0 where no crack can grow), all at the reference current;
- ``mesh.vtu`` (cells, with the cell data ``region``: 1 electrolyte, 2 lithium) and
  ``boundaries.vtu`` (boundary faces, with ``boundary``: the tags of
  :data:`~contour_fem.geometry.cell.PHYSICAL_GROUPS`, named in ``info.json``/``run.json``),
  readable by meshio and ParaView.

Coordinates are in metres, or in µm with ``[output] coordinates = "um"`` (ParaView's rulers
then read µm).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from mpi4py import MPI  # noqa: F401  (must load before PETSc/DOLFINx)

import dolfinx
import meshio
import numpy as np
from scipy.spatial import cKDTree

from contour_fem.core.parallel import on_root
from contour_fem.core.units import MA_CM2, MPA, UM, Unit
from contour_fem.geometry.cell import PHYSICAL_GROUPS

MV = Unit("mV", "mV", 1e-3, 1e3)
UM_PER_H = Unit("µm/h", "um_h", 1e-6 / 3600.0, 3600.0e6)


@contextlib.contextmanager
def coordinates_in(msh: dolfinx.mesh.Mesh, unit: str) -> Iterator[None]:
    """Within the block the mesh's coordinates are in ``unit`` (``m`` or ``um``), then restored."""
    if unit == "m":
        yield
        return
    saved = msh.geometry.x.copy()
    msh.geometry.x[:] *= UM.inverse
    try:
        yield
    finally:
        msh.geometry.x[:] = saved  # exact: the copy, not a division


def write_vtx(path: Path, functions: list[dolfinx.fem.Function], coordinates: str = "m") -> None:
    """Write functions that share one mesh and element to a VTX folder (collective)."""
    msh = functions[0].function_space.mesh
    with coordinates_in(msh, coordinates), dolfinx.io.VTXWriter(
            msh.comm, str(path), functions, engine="BP4") as vtx:
        vtx.write(0.0)


def _scaled(source: dolfinx.fem.Function, space, unit: Unit, name: str):
    """``source`` interpolated into ``space`` and converted to ``unit``."""
    out = dolfinx.fem.Function(space, name=name)
    out.interpolate(source)
    out.x.array[:] = unit.from_si(out.x.array)
    return out


def interface_functions(cell_mesh, table: dict[str, np.ndarray], degree: int):
    """The interface table as functions on a surface mesh of the interface (collective).

    The surface mesh is the interface facets of the electrolyte submesh; its dofs sit at the
    interface nodes of the table, whose values are copied by position.
    """
    sub = cell_mesh.submesh("electrolyte")
    surface = dolfinx.mesh.create_submesh(sub.mesh, 2, sub.facets("interface"))[0]
    space = dolfinx.fem.functionspace(surface, ("Lagrange", degree))
    xyz = UM.from_si(space.tabulate_dof_coordinates())
    tree = cKDTree(np.column_stack([table["x_um"], table["y_um"], table["z_um"]]))
    dist, idx = tree.query(xyz) if len(xyz) else (np.zeros(0), np.zeros(0, dtype=int))
    tol = 1e-6 * UM.from_si(cell_mesh.topography.period)
    if len(dist) and dist.max() > tol:
        raise RuntimeError("interface field nodes do not match the interface table")
    out = []
    for name, values in (
            ("current_ratio", table["current_ratio"]),
            ("current_density_mA_cm2", None),
            ("excess_pressure_MPa", table["excess_pressure_MPa"]),
            ("critical_current_ratio_to_flat", table["critical_current_ratio_to_flat"])):
        f = dolfinx.fem.Function(space, name=name)
        if values is not None:
            v = values[idx]
            f.x.array[:] = np.where(np.isfinite(v), v, 0.0)
        out.append(f)
    return out


def write_case_fields(result, folder: Path, coordinates: str = "m") -> None:
    """``current.bp``, ``creep.bp``, ``interface.bp``, ``mesh.vtu``, ``boundaries.vtu``."""
    folder = Path(folder)
    cur, crp = result.current, result.creep
    phi = dolfinx.fem.Function(cur.potential.function_space, name="potential_mV")
    phi.x.array[:] = MV.from_si(cur.potential.x.array)
    write_vtx(folder / "current.bp", [phi], coordinates)

    V = crp.velocity.function_space
    scalar = dolfinx.fem.functionspace(V.mesh, ("Lagrange", V.element.basix_element.degree))
    velocity = dolfinx.fem.Function(V, name="velocity_um_h")
    velocity.x.array[:] = UM_PER_H.from_si(crp.velocity.x.array)
    pressure = _scaled(crp.pressure, scalar, MPA, "pressure_MPa")
    write_vtx(folder / "creep.bp", [velocity, pressure], coordinates)

    degree = cur.interface_current.function_space.element.basix_element.degree
    fields = interface_functions(result.cell, result.interface, degree)
    fields[1].x.array[:] = MA_CM2.from_si(fields[0].x.array * cur.geometric_current)
    write_vtx(folder / "interface.bp", fields, coordinates)
    write_mesh_vtu(result.cell, folder, coordinates)


def _gather_cells(msh: dolfinx.mesh.Mesh, dim: int, entities: np.ndarray,
                  values: np.ndarray) -> tuple | None:
    """Rank 0: (global node ids, coordinates, entity node ids, values) of the given entities."""
    msh.topology.create_connectivity(dim, msh.topology.dim)
    nodes = dolfinx.cpp.mesh.entities_to_geometry(msh._cpp_object, dim, entities, False)
    ids = msh.geometry.input_global_indices
    local = (ids[nodes], msh.geometry.x[nodes.ravel()], values)
    parts = msh.comm.gather(local, root=0)
    if parts is None:
        return None
    conn = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, 0), int)
    xyz = np.concatenate([p[1] for p in parts])
    vals = np.concatenate([p[2] for p in parts])
    unique, first, inverse = np.unique(conn.ravel(), return_index=True, return_inverse=True)
    return xyz[first], inverse.reshape(conn.shape), vals, unique


def write_mesh_vtu(cm, folder: Path, coordinates: str = "m") -> None:
    """``mesh.vtu`` (region tags) and ``boundaries.vtu`` (boundary tags), via meshio (collective).

    The meshes are gathered on rank 0, so this suits cells of up to a few million nodes.
    """
    msh = cm.mesh
    tdim = msh.topology.dim
    ncells = msh.topology.index_map(tdim).size_local
    cells = np.arange(ncells, dtype=np.int32)
    region = np.zeros(ncells, dtype=np.int32)
    owned = cm.cell_tags.indices < ncells
    region[cm.cell_tags.indices[owned]] = cm.cell_tags.values[owned]
    nfacets = msh.topology.index_map(tdim - 1).size_local
    keep = cm.facet_tags.indices < nfacets
    facets, tags = cm.facet_tags.indices[keep], cm.facet_tags.values[keep]
    volume = _gather_cells(msh, tdim, cells, region)
    surface = _gather_cells(msh, tdim - 1, facets, tags)
    scale = UM.inverse if coordinates == "um" else 1.0
    order = msh.geometry.cmaps[0].degree

    def write() -> None:
        for name, data, kind, label in (("mesh.vtu", volume, "tetra", "region"),
                                        ("boundaries.vtu", surface, "triangle", "boundary")):
            xyz, conn, vals, _ = data
            vtk_kind = kind if order == 1 else f"{kind}{10 if kind == 'tetra' else 6}"
            ctype = dolfinx.mesh.CellType.tetrahedron if kind == "tetra" else \
                dolfinx.mesh.CellType.triangle
            # perm_vtk maps VTK's node order to DOLFINx's: its inverse reorders for VTK.
            order_vtk = np.argsort(dolfinx.cpp.io.perm_vtk(ctype, conn.shape[1]))
            meshio.write(folder / name, meshio.Mesh(
                xyz * scale, [(vtk_kind, conn[:, order_vtk])], cell_data={label: [vals]}))

    on_root(msh.comm, write)


def tag_names() -> dict[str, int]:
    """Tag number of every named region and boundary (cell and facet data of the meshes)."""
    return {name: tag for name, (_, tag) in PHYSICAL_GROUPS.items()}


__all__ = ["MV", "UM_PER_H", "interface_functions", "tag_names",
           "write_case_fields", "write_mesh_vtu", "write_vtx"]
