"""Fields for ParaView: VTX (ADIOS2 BP) folders, one per physics stage."""

from __future__ import annotations

from pathlib import Path

from mpi4py import MPI  # noqa: F401  (must load before PETSc/DOLFINx)

import dolfinx


def write_vtx(path: Path, functions: list[dolfinx.fem.Function]) -> None:
    """Write functions that share one mesh to a VTX folder (collective)."""
    comm = functions[0].function_space.mesh.comm
    with dolfinx.io.VTXWriter(comm, str(path), functions, engine="BP4") as vtx:
        vtx.write(0.0)


def write_case_fields(result, folder: Path) -> None:
    """``current.bp`` (φ, i_loc) and ``creep.bp`` (u, Δp) of a case result (collective)."""
    write_vtx(Path(folder) / "current.bp",
              [result.current.potential, result.current.interface_current])
    write_vtx(Path(folder) / "creep.bp", [result.creep.velocity, result.creep.excess_pressure])
