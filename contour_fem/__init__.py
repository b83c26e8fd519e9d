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

Importing the package itself loads neither DOLFINx nor PETSc.
"""

from contour_fem.core.provenance import package_version

__version__ = package_version()

__all__ = ["__version__"]
