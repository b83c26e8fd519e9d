"""Geometry layer: interface topographies and gmsh unit cells (gmsh and numpy only)."""

from contour_fem.geometry.cell import (
    PHYSICAL_GROUPS,
    RESOLUTIONS,
    CellModel,
    CellSpec,
    build_cell_model,
)
from contour_fem.geometry.topography import (
    TOPOGRAPHIES,
    EggBox,
    Flat,
    Frustum,
    HeightFunction,
    Pyramid,
    Topography,
    make_topography,
)

__all__ = [
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
    "Topography",
    "build_cell_model",
    "make_topography",
]
