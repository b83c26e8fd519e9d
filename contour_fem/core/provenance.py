"""What produced a result: the versions of the code and libraries, the platform, the ranks."""

from __future__ import annotations

import platform
import subprocess
import sys
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np


def package_version() -> str:
    """The installed version of contour_fem (``0.1.0+src`` in an uninstalled source tree)."""
    try:
        return version("contour_fem")
    except PackageNotFoundError:
        return "0.1.0+src"


@cache
def versions() -> dict[str, str]:
    """Versions of contour_fem and the libraries that shape its numbers.

    Imports MPI, gmsh and (when installed) DOLFINx and PETSc when first called, not before.
    """
    from mpi4py import MPI

    import gmsh
    import scipy

    out = {
        "contour_fem": package_version(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "gmsh": gmsh.__version__,
        "mpi": MPI.Get_library_version().splitlines()[0].strip(),
    }
    try:
        import dolfinx
        from petsc4py import PETSc

        out["dolfinx"] = dolfinx.__version__
        out["petsc"] = ".".join(str(v) for v in PETSc.Sys.getVersion())
    except ImportError:  # geometry-only installs
        pass
    commit = _git_commit()
    if commit:
        out["git_commit"] = commit
    return out


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        res = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=False)
        return res.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def platform_info(ranks: int) -> dict:
    """Host, Python executable and MPI rank count."""
    return {"host": platform.node(), "platform": platform.platform(),
            "python_executable": sys.executable, "ranks": ranks}
