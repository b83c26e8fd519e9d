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

from contour_fem.core.errors import InputError, MeshError
from contour_fem.core.params import user_values
from contour_fem.core.units import UM
from contour_fem.geometry.spec import (
    CellSpec,
    cell_extent,
    concrete,
    structured_grid,
)
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
    "side_diag": (2, 17),  # the plane x = y: a mirror plane of the eighth cell
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
        """Projected (x–y) area of the cell, m² (the eighth cell is half of its square)."""
        square = (self.x_range[1] - self.x_range[0]) * (self.y_range[1] - self.y_range[0])
        return 0.5 * square if self.spec.domain == "eighth" else square

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
    spec = concrete(topo, spec)
    (x0, x1), (y0, y1), zb, zt = cell_extent(topo, spec)
    near, far, growth = spec.sizes(topo)
    # OCC's tolerances are absolute (~1e-7): build in µm, scale the nodes to m after meshing.
    u = _GMSH_UNIT
    quarter = spec.domain == "quarter"  # the unstructured mesher: quarter or full cells
    gmsh.model.add(name)
    tol = 1e-6 * topo.period * u
    if spec.structured:
        # The tensor grid matches node for node across opposite side faces by construction.
        groups = _structured_geometry(topo, spec, (x0, x1))
    else:
        if spec.domain == "eighth":
            raise InputError("mesh: the eighth cell needs the structured mesher "
                             "(mesh.structured = true)")
        _unstructured_geometry(topo, quarter, (x0, x1), zb, zt, near, far, growth)
        groups = _classify(*(v * u for v in (x0, x1, y0, y1, zb, zt)), tol)
        if spec.domain == "full":
            _set_periodic(groups, (x1 - x0) * u, (y1 - y0) * u, tol)
    for gname, (dim, tag) in PHYSICAL_GROUPS.items():
        if groups.get(gname):
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


def _kuhn_grid(xs: np.ndarray, ys: np.ndarray, zs: np.ndarray,
               mirror: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes and Kuhn tetrahedra of the tensor grid xs × ys × zs, and the tets' box indices.

    With ``mirror`` the split is mirrored in x < 0 and y < 0 (full cells), so that triangle
    diagonals lie on the kink diagonals x = y and x = −y.
    """
    nx, ny, nz = len(xs), len(ys), len(zs)
    ii, jj, kk = np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij")
    index = ii * ny * nz + jj * nz + kk
    xyz = np.stack([xs[ii], ys[jj], zs[kk]], axis=-1).reshape(-1, 3)
    ci, cj, ck = (a.ravel() for a in np.meshgrid(np.arange(nx - 1), np.arange(ny - 1),
                                                  np.arange(nz - 1), indexing="ij"))
    fx = (0.5 * (xs[ci] + xs[ci + 1]) < 0).astype(int) if mirror else 0 * ci
    fy = (0.5 * (ys[cj] + ys[cj + 1]) < 0).astype(int) if mirror else 0 * cj
    cells = [np.stack([index[ci + (bx ^ fx), cj + (by ^ fy), ck + bz] for bx, by, bz in tet],
                      axis=1) for tet in _KUHN]
    boxes = np.tile(np.stack([ci, cj], axis=1), (len(_KUHN), 1))
    return xyz, np.concatenate(cells), boxes


def _compact(xyz: np.ndarray, tets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop the nodes no tetrahedron uses and renumber."""
    used, inverse = np.unique(tets, return_inverse=True)
    return xyz[used], inverse.reshape(tets.shape)


def _lower_half(xyz: np.ndarray, tets: np.ndarray, boxes: np.ndarray):
    """The tetrahedra of boxes below the grid diagonal (j < i), and the halves of those on it."""
    centre = xyz[tets].mean(axis=1)
    keep = (boxes[:, 1] < boxes[:, 0]) | ((boxes[:, 1] == boxes[:, 0])
                                         & (centre[:, 1] < centre[:, 0]))
    return _compact(xyz, tets[keep])


def _sheared_eighth(axis: np.ndarray, zs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The eighth cell 0 ≤ y ≤ x ≤ S/2 as a Kuhn grid in (ξ, η) = (x, x − y).

    The diagonal crease x = y is the grid line η = 0 and the ridge x = S/2 the line ξ = S/2, so
    one axis graded toward 0 and the kinks refines both; the map (ξ, η) ↦ (ξ, ξ − η) is affine,
    and the triangle η ≤ ξ is the lower half of the square grid.
    """
    xyz, tets, boxes = _kuhn_grid(axis, axis, zs, mirror=False)
    xyz, tets = _lower_half(xyz, tets, boxes)
    xyz = np.column_stack([xyz[:, 0], xyz[:, 0] - xyz[:, 1], xyz[:, 2]])
    return xyz, tets


def _mirror_diagonal(xyz: np.ndarray, tets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An eighth cell and its mirror image in x = y: the quarter cell (nodes on x = y shared)."""
    on = xyz[:, 0] == xyz[:, 1]
    image = np.flatnonzero(~on)
    index = np.arange(len(xyz))
    index[image] = len(xyz) + np.arange(len(image))
    mirrored = xyz[image][:, [1, 0, 2]]
    return np.concatenate([xyz, mirrored]), np.concatenate([tets, index[tets]])


def _structured_geometry(topo, spec, xr) -> dict[str, list[int]]:
    """Structured tetrahedra (Kuhn-split tensor grids) as a discrete gmsh model.

    - full cell, or a quarter cell without diagonal kinks: the tensor grid with lines at every
      kink (the full cell's split mirrored in x < 0 and y < 0);
    - eighth cell without diagonal kinks: the lower half of that quarter grid, so the eighth
      cell is exactly half of the quarter cell;
    - eighth cell with diagonal kinks (pyramids, frustums): the sheared grid of
      :func:`_sheared_eighth`, graded toward every crease; its quarter cell is it and its
      mirror image, so again the eighth cell is exactly half of the quarter cell.
    """
    spec = concrete(topo, spec)
    domain = spec.domain
    # The same grid the cost estimate counts (for the sheared eighth cell, its one axis).
    xs, zs = structured_grid(topo, spec)
    if topo.diagonal_kinks and domain in ("quarter", "eighth"):
        xyz, tets = _sheared_eighth(xs, zs)
        if domain == "quarter":
            xyz, tets = _mirror_diagonal(xyz, tets)
    else:
        xyz, tets, boxes = _kuhn_grid(xs, xs, zs, mirror=domain == "full")
        if domain == "eighth":
            xyz, tets = _lower_half(xyz, tets, boxes)
    p = xyz[tets]
    vol = np.einsum("ij,ij->i", np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), p[:, 3] - p[:, 0])
    tets[vol < 0, 2], tets[vol < 0, 3] = tets[vol < 0, 3], tets[vol < 0, 2].copy()
    centre_z = xyz[tets, 2].mean(axis=1)
    return _discrete_model(xyz, tets, centre_z > 0, xr, zs, eighth=domain == "eighth")


def _discrete_model(xyz, tets, is_se, xr, zs, eighth: bool) -> dict[str, list[int]]:
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
        "side_x0": np.all(fx == xr[0], axis=1),
        "side_x1": np.all(fx == xr[1], axis=1),
        "side_y0": np.all(fy == xr[0], axis=1),
        "side_y1": np.all(fy == xr[1], axis=1),
        # The diagonal is a boundary of the eighth cell only (inside the quarter cell it is not).
        "side_diag": np.all(fx == fy, axis=1) if eighth else np.zeros(len(faces), bool),
    }
    if eighth:  # the eighth cell has no faces at x = x0 or y = y1 (they shrink to lines)
        planes["side_x0"][:] = planes["side_y1"][:] = False
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
    groups = {}
    for k, (name, mask) in enumerate(planes.items(), start=1):
        if not mask.any():  # a face this domain does not have
            continue
        gmsh.model.addDiscreteEntity(2, k)
        gmsh.model.mesh.addElementsByType(k, tri_type, np.arange(nel + 1, nel + mask.sum() + 1),
                                          (faces[mask] + 1).ravel())
        nel += int(mask.sum())
        groups[name] = [k]
    return {"electrolyte": [1], "lithium": [2], **groups}


def _classify(x0, x1, y0, y1, zb, zt, tol) -> dict[str, list[int]]:
    """Sort the fragmented volumes and faces into the named groups by their bounding boxes."""
    groups: dict[str, list[int]] = {name: [] for name in PHYSICAL_GROUPS if name != "side_diag"}
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
