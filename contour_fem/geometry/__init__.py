"""Geometry layer: interface topographies and gmsh unit cells (gmsh and numpy only).

``topography`` holds the surfaces z = h(x, y), ``spec`` how a cell is built (domains, mesh
presets, :class:`CellSpec`; no gmsh), ``cell`` the gmsh meshers.
"""

from contour_fem.geometry.cell import PHYSICAL_GROUPS, CellModel, build_cell_model
from contour_fem.geometry.function import HeightFunction
from contour_fem.geometry.spec import DOMAINS, RESOLUTIONS, CellSpec, Resolution, cell_extent
from contour_fem.geometry.topography import (
    TOPOGRAPHIES,
    EggBox,
    Flat,
    Frustum,
    Pyramid,
    Topography,
    make_topography,
)

__all__ = [
    "DOMAINS",
    "PHYSICAL_GROUPS",
    "RESOLUTIONS",
    "TOPOGRAPHIES",
    "CellModel",
    "CellSpec",
    "EggBox",
    "Flat",
    "Frustum",
    "HeightFunction",
    "Pyramid",
    "Resolution",
    "Topography",
    "build_cell_model",
    "cell_extent",
    "make_topography",
]
