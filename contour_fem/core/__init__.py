"""The bottom layer: errors, units and constants, parameter metadata, MPI and provenance helpers.

Every other layer may import from here; nothing here imports from the rest of the package, and
nothing here loads gmsh, DOLFINx or PETSc.
"""
