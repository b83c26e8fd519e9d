"""gmsh unit cells: solid electrolyte above, lithium below, one conforming interface mesh.

The cell is meshed flat, with the interface at z = 0 and the kink lines of the topography on mesh
edges (no cell straddles one), and every node, high-order nodes included, is then mapped
vertically onto the true geometry:

    z' = z + h(x, y)·(1 − z/Z)   with Z = z_top above the interface and z_bottom below,

so the interface nodes lie exactly on z = h(x, y), the top and bottom stay flat, and the side faces
stay planar mirror (or periodic) planes. Mesh sizes are graded from the interface outward.

Two meshers: *structured* (default) — a tensor grid with lines at every kink, each box split into
six tetrahedra (Kuhn), loaded into gmsh as discrete entities; it gives markedly smoother creep
stresses — and *unstructured* — gmsh's Delaunay mesher with a size field graded from z = 0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import gmsh
import numpy as np

from contour_fem.core.errors import MeshError
from contour_fem.core.params import user_values
from contour_fem.core.units import UM
from contour_fem.geometry.spec import CellSpec, cell_extent, structured_axes
from contour_fem.geometry.topography import Topography

# (dimension, tag) of every physical group; names are the public contract.
PHYSICAL_GROUPS: dict[str, tuple[int, int]] = {
    "electrolyte": (3, 1),
    "lithium": (3, 2),
    "interface": (2, 10),
    "electrolyte_top": (2, 11),
    "lithium_bottom": (2, 12),
    "side_x0": (2, 13),
    "side_x1": (2, 14),
    "side_y0": (2, 15),
    "side_y1": (2, 16),
}
SIDE_NAMES = ("side_x0", "side_x1", "side_y0", "side_y1")
_GMSH_UNIT = UM.inverse  # gmsh model length unit per m: build in µm


@dataclass
class CellModel:
    """What :func:`build_cell_model` built (lengths in m)."""

    topography: Topography
    spec: CellSpec
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    z_bottom: float
    z_top: float
    interface_size: float
    far_size: float
    num_nodes: int = 0
    num_cells: int = 0
    mesh_time_s: float = 0.0
    groups: dict[str, tuple[int, int]] = field(default_factory=lambda: dict(PHYSICAL_GROUPS))

    @property
    def projected_area(self) -> float:
        """Projected (x–y) area of the cell, m²."""
        return (self.x_range[1] - self.x_range[0]) * (self.y_range[1] - self.y_range[0])

    def info(self) -> dict:
        """JSON-friendly summary in µm."""
        um = UM.from_si
        return {
            **self.topography.describe(),
            "domain": self.spec.domain,
            "spec": user_values(self.spec),
            "x_range_um": [um(v) for v in self.x_range],
            "y_range_um": [um(v) for v in self.y_range],
            "z_bottom_um": um(self.z_bottom),
            "z_top_um": um(self.z_top),
            "interface_size_um": um(self.interface_size),
            "far_size_um": um(self.far_size),
            "gmsh_nodes": self.num_nodes,
            "gmsh_cells": self.num_cells,
            "gmsh_time_s": self.mesh_time_s,
        }


def build_cell_model(topo: Topography, spec: CellSpec, name: str = "contour_cell") -> CellModel:
    """Build and mesh the unit cell in the current gmsh session (gmsh must be initialised).

    Args:
        topo: Interface topography.
        spec: Cell and mesh settings.
        name: gmsh model name.

    Returns:
        The cell description; the mesh stays in the gmsh model (physical groups as in
        :data:`PHYSICAL_GROUPS`).

    Raises:
        InputError: Inconsistent settings (e.g. a quarter cell of an asymmetric surface).
        MeshError: gmsh failed or the result is incomplete.

    """
    t0 = time.perf_counter()
    (x0, x1), (y0, y1), zb, zt = cell_extent(topo, spec)
    near, far, growth = spec.sizes(topo.period)
    # OCC's tolerances are absolute (~1e-7): build in µm, scale the nodes to m after meshing.
    u = _GMSH_UNIT
    quarter = spec.domain == "quarter"
    gmsh.model.add(name)
    tol = 1e-6 * topo.period * u
    if spec.structured:
        # The tensor grid matches node for node across opposite side faces by construction.
        layer = spec.first_layer if spec.first_layer is not None else near
        groups = _structured_geometry(topo, quarter, (x0, x1), zb, zt, near, layer, growth)
    else:
        _unstructured_geometry(topo, quarter, (x0, x1), zb, zt, near, far, growth)
        groups = _classify(*(v * u for v in (x0, x1, y0, y1, zb, zt)), tol)
        if spec.domain == "full":
            _set_periodic(groups, (x1 - x0) * u, (y1 - y0) * u, tol)
    for gname, (dim, tag) in PHYSICAL_GROUPS.items():
        gmsh.model.addPhysicalGroup(dim, groups[gname], tag, name=gname)
    for opt, val in (
        ("Mesh.MeshSizeExtendFromBoundary", 0),
        ("Mesh.MeshSizeFromPoints", 0),
        ("Mesh.MeshSizeFromCurvature", 0),
        ("Mesh.Algorithm", 6),
        ("Mesh.Algorithm3D", 1),
        ("Mesh.Optimize", 0 if spec.structured else 1),
    ):
        gmsh.option.setNumber(opt, val)
    gmsh.model.mesh.generate(3)
    if spec.order == 2:
        gmsh.model.mesh.setOrder(2)
    num_nodes = _map_nodes(topo, zb, zt)

    _, cell_tags, _ = gmsh.model.mesh.getElements(3)
    num_cells = sum(len(t) for t in cell_tags)
    if num_cells == 0:
        raise MeshError("gmsh produced no volume cells")
    return CellModel(
        topography=topo,
        spec=spec,
        x_range=(x0, x1),
        y_range=(y0, y1),
        z_bottom=zb,
        z_top=zt,
        interface_size=near,
        far_size=far,
        num_nodes=num_nodes,
        num_cells=num_cells,
        mesh_time_s=time.perf_counter() - t0,
    )


def _unstructured_geometry(topo, quarter, xr, zb, zt, near, far, growth) -> None:
    """Two boxes cut by vertical walls through the kink lines; size graded from z = 0."""
    u = _GMSH_UNIT
    occ = gmsh.model.occ
    (x0, x1) = xr
    lx = (x1 - x0) * u
    se = occ.addBox(x0 * u, x0 * u, 0.0, lx, lx, zt * u)
    li = occ.addBox(x0 * u, x0 * u, zb * u, lx, lx, -zb * u)
    # Vertical walls through the kink lines: no cell straddles a kink of the height map, so the
    # mapping is smooth inside every cell (curved cells would invert otherwise).
    walls = []
    for (ax, ay), (bx, by) in topo.kink_lines(quarter=quarter):
        p_a, p_b = occ.addPoint(ax * u, ay * u, zb * u), occ.addPoint(bx * u, by * u, zb * u)
        swept = occ.extrude([(1, occ.addLine(p_a, p_b))], 0.0, 0.0, (zt - zb) * u)
        walls += [dt for dt in swept if dt[0] == 2]
    occ.fragment([(3, se), (3, li)], walls)
    occ.synchronize()
    field_id = gmsh.model.mesh.field.add("MathEval")
    expr = f"Min({far * u!r}, {near * u!r} + {growth!r}*Sqrt(z*z))"
    gmsh.model.mesh.field.setString(field_id, "F", expr)
    gmsh.model.mesh.field.setAsBackgroundMesh(field_id)


# Kuhn subdivision of the unit cube into 6 tetrahedra (paths 000 → 111 along each permutation);
# every cube uses the same split, so neighbouring cubes share face diagonals.
_KUHN = [
    [(0, 0, 0), (1, 0, 0), (1, 1, 0), (1, 1, 1)],
    [(0, 0, 0), (1, 0, 0), (1, 0, 1), (1, 1, 1)],
    [(0, 0, 0), (0, 1, 0), (1, 1, 0), (1, 1, 1)],
    [(0, 0, 0), (0, 1, 0), (0, 1, 1), (1, 1, 1)],
    [(0, 0, 0), (0, 0, 1), (1, 0, 1), (1, 1, 1)],
    [(0, 0, 0), (0, 0, 1), (0, 1, 1), (1, 1, 1)],
]


def _structured_geometry(topo, quarter, xr, zb, zt, near, layer,
                         growth) -> dict[str, list[int]]:
    """Structured tetrahedra (Kuhn-split tensor grid) as a discrete gmsh model.

    Grid lines at every kink; the split is mirrored in x < 0 and y < 0 so that triangle
    diagonals lie on the kink diagonals x = y and x = −y.
    """
    xs, zs = structured_axes(topo, quarter, xr, zb, zt, near, layer, growth)
    nx, nz = len(xs), len(zs)
    ii, jj, kk = np.meshgrid(np.arange(nx), np.arange(nx), np.arange(nz), indexing="ij")
    index = ii * nx * nz + jj * nz + kk
    xyz = np.stack([xs[ii], xs[jj], zs[kk]], axis=-1).reshape(-1, 3)
    cells = []
    ci, cj, ck = np.meshgrid(np.arange(nx - 1), np.arange(nx - 1), np.arange(nz - 1),
                             indexing="ij")
    ci, cj, ck = ci.ravel(), cj.ravel(), ck.ravel()
    # Mirror the split in x < 0 (y < 0): the lattice direction flips there.
    fx = (0.5 * (xs[ci] + xs[ci + 1]) < 0).astype(int)
    fy = (0.5 * (xs[cj] + xs[cj + 1]) < 0).astype(int)
    for tet in _KUHN:
        verts = [index[ci + (bx ^ fx), cj + (by ^ fy), ck + bz] for bx, by, bz in tet]
        cells.append(np.stack(verts, axis=1))
    tets = np.concatenate(cells)
    p = xyz[tets]
    vol = np.einsum("ij,ij->i", np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), p[:, 3] - p[:, 0])
    tets[vol < 0, 2], tets[vol < 0, 3] = tets[vol < 0, 3], tets[vol < 0, 2].copy()
    centre_z = xyz[tets, 2].mean(axis=1)
    return _discrete_model(xyz, tets, centre_z > 0, xs, zs)


def _discrete_model(xyz, tets, is_se, xs, zs) -> dict[str, list[int]]:
    """Load nodes, tetrahedra and the named boundary triangles into discrete gmsh entities."""
    u = _GMSH_UNIT
    faces = np.concatenate([tets[:, [0, 1, 2]], tets[:, [0, 1, 3]], tets[:, [0, 2, 3]],
                            tets[:, [1, 2, 3]]])
    key = np.sort(faces, axis=1)
    _, first = np.unique(key, axis=0, return_index=True)
    faces = faces[first]
    fz, fx, fy = xyz[faces, 2], xyz[faces, 0], xyz[faces, 1]
    planes = {
        "interface": np.all(np.abs(fz) < 1e-9 * (zs[-1] - zs[0]), axis=1),
        "electrolyte_top": np.all(fz == zs[-1], axis=1),
        "lithium_bottom": np.all(fz == zs[0], axis=1),
        "side_x0": np.all(fx == xs[0], axis=1),
        "side_x1": np.all(fx == xs[-1], axis=1),
        "side_y0": np.all(fy == xs[0], axis=1),
        "side_y1": np.all(fy == xs[-1], axis=1),
    }
    node_tags = np.arange(1, len(xyz) + 1)
    gmsh.model.addDiscreteEntity(3, 1)
    gmsh.model.addDiscreteEntity(3, 2)
    gmsh.model.mesh.addNodes(3, 1, node_tags, (xyz * u).ravel())
    tet_type = gmsh.model.mesh.getElementType("Tetrahedron", 1)
    tri_type = gmsh.model.mesh.getElementType("Triangle", 1)
    ntet = 0
    for tag, mask in ((1, is_se), (2, ~is_se)):
        gmsh.model.mesh.addElementsByType(tag, tet_type, np.arange(ntet + 1, ntet + mask.sum() + 1),
                                          (tets[mask] + 1).ravel())
        ntet += int(mask.sum())
    nel = ntet
    for k, mask in enumerate(planes.values(), start=1):
        gmsh.model.addDiscreteEntity(2, k)
        gmsh.model.mesh.addElementsByType(k, tri_type, np.arange(nel + 1, nel + mask.sum() + 1),
                                          (faces[mask] + 1).ravel())
        nel += int(mask.sum())
    groups = {name: [k] for k, name in enumerate(planes, start=1)}
    return {"electrolyte": [1], "lithium": [2], **groups}


def _classify(x0, x1, y0, y1, zb, zt, tol) -> dict[str, list[int]]:
    """Sort the fragmented volumes and faces into the named groups by their bounding boxes."""
    groups: dict[str, list[int]] = {name: [] for name in PHYSICAL_GROUPS}
    for _, tag in gmsh.model.getEntities(3):
        zmin = gmsh.model.getBoundingBox(3, tag)[2]
        groups["electrolyte" if zmin > -tol else "lithium"].append(tag)
    planes = {
        "electrolyte_top": (2, zt),
        "lithium_bottom": (2, zb),
        "interface": (2, 0.0),
        "side_x0": (0, x0),
        "side_x1": (0, x1),
        "side_y0": (1, y0),
        "side_y1": (1, y1),
    }
    for _, tag in gmsh.model.getEntities(2):
        box = gmsh.model.getBoundingBox(2, tag)
        for gname, (axis, value) in planes.items():
            if abs(box[axis] - value) < tol and abs(box[axis + 3] - value) < tol:
                groups[gname].append(tag)
                break
    missing = [g for g, tags in groups.items() if not tags]
    if missing:
        raise MeshError(f"unit cell is missing physical groups: {', '.join(missing)}")
    return groups


def _set_periodic(groups: dict[str, list[int]], lx: float, ly: float, tol: float) -> None:
    """Match the x1 faces to the x0 faces (and y1 to y0) so the side meshes are periodic."""
    pairs = (("side_x0", "side_x1", (lx, 0)), ("side_y0", "side_y1", (0, ly)))
    for lo_name, hi_name, shift in pairs:
        affine = [1, 0, 0, shift[0], 0, 1, 0, shift[1], 0, 0, 1, 0, 0, 0, 0, 1]
        for hi in groups[hi_name]:
            bh = gmsh.model.getBoundingBox(2, hi)
            match = [
                lo for lo in groups[lo_name]
                if abs(gmsh.model.getBoundingBox(2, lo)[2] - bh[2]) < tol
                and abs(gmsh.model.getBoundingBox(2, lo)[5] - bh[5]) < tol
            ]
            if len(match) != 1:
                raise MeshError(f"no unique periodic partner for face {hi} of {hi_name}")
            gmsh.model.mesh.setPeriodic(2, [hi], match, affine)


def map_height(topo: Topography, xyz: np.ndarray, z_bottom: float, z_top: float) -> np.ndarray:
    """Map flat-cell coordinates (interface at z = 0) onto the true geometry; returns new z."""
    x, y, z = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    h = topo.h(x, y)
    blend = np.where(z >= 0.0, 1.0 - z / z_top, 1.0 - z / z_bottom)
    return z + h * blend


def _map_nodes(topo: Topography, zb: float, zt: float) -> int:
    """Scale every node to m and move it vertically onto the true geometry; returns the count."""
    tags, coords, _ = gmsh.model.mesh.getNodes()
    xyz = coords.reshape(-1, 3) / _GMSH_UNIT
    xyz[:, 2] = map_height(topo, xyz, zb, zt)
    for tag, p in zip(tags, xyz, strict=True):
        gmsh.model.mesh.setNode(int(tag), p, [])
    return len(tags)
