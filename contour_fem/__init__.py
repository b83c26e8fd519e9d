"""contour_fem: lithium dendrite onset at contoured Li-metal / solid-electrolyte interfaces.

The package is layered with one-way imports, shown by its folders, bottom to top:

- ``core``: errors, units, parameter metadata, MPI and provenance helpers;
- ``geometry``: topographies and gmsh unit cells (gmsh and numpy only);
- ``mesh``: the single bridge to DOLFINx meshes;
- ``fem``: FEniCSx plumbing (JIT, PETSc presets, Newton, constraints), no physics;
- ``physics``: parameters, current distribution, creep, coupling, criterion;
- ``case``: one case end to end;
- ``config``: case files and their schema;
- ``io``: result files, their readers, output folders;
- ``studies``: sweeps, the experiment benchmark, convergence studies, reports;
- ``cli``: the command line.

Importing the package itself loads neither DOLFINx nor PETSc: :func:`load_result` and
:func:`load_sweep` are loaded on first use.
"""

from contour_fem.core.provenance import package_version

__version__ = package_version()

_LAZY = {"load_result": "contour_fem.io.readers", "load_sweep": "contour_fem.io.readers"}

__all__ = ["__version__", "load_result", "load_sweep"]


def __getattr__(name: str):
    """``contour_fem.load_result`` and ``load_sweep`` without importing them up front."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'contour_fem' has no attribute {name!r}")
