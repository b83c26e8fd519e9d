"""contour_fem: lithium dendrite onset at contoured Li-metal / solid-electrolyte interfaces.

The package is layered with one-way imports: ``contour_fem.geometry`` (gmsh and numpy only) →
``contour_fem.mesh`` (the single bridge to DOLFINx) → the physics (``current``, ``creep``,
``criterion``) → the drivers (``case``, ``sweep``, ``benchmark``, ``cli``). Importing the package
itself loads neither DOLFINx nor PETSc.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("contour_fem")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.1.0+src"

__all__ = ["__version__"]
