"""What produced a result: versions, platform, and atomic JSON/CSV writing."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import numpy as np


@cache
def versions() -> dict[str, str]:
    """Versions of contour_fem and the libraries that shape its numbers."""
    from mpi4py import MPI

    import gmsh
    import scipy

    from contour_fem import __version__

    out = {
        "contour_fem": __version__,
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
    root = Path(__file__).resolve().parent.parent
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


def _clean(obj):
    """JSON-safe copy: NaN/inf become null, numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: dict) -> None:
    """Atomically write ``data`` as indented JSON (NaN and inf as null)."""
    atomic_write_text(path, json.dumps(_clean(data), indent=2, sort_keys=False) + "\n")
