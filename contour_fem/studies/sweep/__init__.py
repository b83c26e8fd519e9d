"""Parameter sweeps: many cases from one TOML file, restartable, MPI-parallel over case groups.

- :mod:`~.grammar`: the sweep-file format and its expansion into cases;
- :mod:`~.store`: the on-disk case store (case folders, claims, staging, lock, results.csv);
- :mod:`~.runner`: MPI case groups over the store (:func:`run_sweep`).

The file format and the command are documented in ``docs/sweeps.md``.
"""

from contour_fem.studies.sweep.grammar import Sweep, SweepCase, load_sweep, task_slice
from contour_fem.studies.sweep.runner import MESH_CACHE_SIZE, run_sweep
from contour_fem.studies.sweep.store import RESULT_COLUMNS, CaseStore, InvocationLock

__all__ = [
    "MESH_CACHE_SIZE",
    "RESULT_COLUMNS",
    "CaseStore",
    "InvocationLock",
    "Sweep",
    "SweepCase",
    "load_sweep",
    "run_sweep",
    "task_slice",
]
