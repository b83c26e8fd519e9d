"""Test tiers, shown by the folders (and selectable as markers):

- ``unit/``: closed forms and logic without finite elements (geometry, configuration, criterion,
  fact logic, sweep files, the package's import graph);
- ``verification/``: the finite-element solvers against closed forms and manufactured
  solutions, with observed convergence rates;
- ``parallel/``: serial equals parallel, run under ``mpirun -n 2`` (marker ``mpi``; those with
  rank-count-dependent paths also under ``mpirun -n 3``, marker ``ranks3``);
- ``benchmark/``: the experiment benchmark with numeric pass/fail per fact (runs under MPI);
- ``workflow/``: the command line, sweeps, outputs and data safety.

``make test`` runs the serial tiers (``-m "not mpi"``), then the MPI ones under ``timeout``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TIERS = ("unit", "verification", "parallel", "benchmark", "workflow")
MPI_TIERS = ("parallel", "benchmark")
ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config, items):
    """Mark every test with its tier; the parallel and benchmark tiers also with ``mpi``."""
    here = Path(__file__).resolve().parent
    for item in items:
        try:
            tier = Path(item.fspath).resolve().relative_to(here).parts[0]
        except ValueError:
            continue
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))
        if tier in MPI_TIERS:
            item.add_marker(pytest.mark.mpi)


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture(scope="session")
def shifted_eggbox():
    """Factory: the product egg-box H25S150 moved by ``shift`` (m) in x.

    Periodic but not mirror-symmetric about the cell's faces, so it needs the periodic full cell;
    its results must equal the unshifted egg-box's.
    """
    import math

    import numpy as np

    from contour_fem.geometry.function import HeightFunction

    s, h0 = 150e-6, 25e-6
    k = 2 * math.pi / s

    def make(shift: float) -> HeightFunction:
        def h(x, y):
            return 0.5 * h0 * np.cos(k * (x - shift)) * np.cos(k * y)

        def grad(x, y):
            return (-0.5 * h0 * k * np.sin(k * (x - shift)) * np.cos(k * y),
                    -0.5 * h0 * k * np.cos(k * (x - shift)) * np.sin(k * y))

        return HeightFunction(func=h, grad=grad, period=s, name=f"eggbox shifted by {shift:g} m")

    return make
