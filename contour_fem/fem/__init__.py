"""FEniCSx plumbing: JIT options, PETSc presets, the Newton solver, constraints, parallel helpers.

Nothing here knows the physics; the physics layer builds its problems from these parts.
"""
