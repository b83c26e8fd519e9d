"""A case's result files, and reading them back.

A solved case folder holds

- ``result.json``: the :meth:`CaseResult.to_json` record (the contract of sweeps and users);
- ``run.json``: what produced it: the resolved configuration, the case in user units, the mesh,
  solver histories, platform, versions, rank count and timings;
- ``interface.csv``: the interface nodes at the reference current, units in the headers (an
  empty cell in ``critical_current_ratio_to_flat`` means no crack can grow there at any current);
- ``current.bp``, ``creep.bp``: fields for ParaView (unless ``[output] fields = false``).
"""

from __future__ import annotations

from pathlib import Path

from mpi4py import MPI

from contour_fem.case import INTERFACE_COLUMNS, Case, CaseResult
from contour_fem.core.parallel import on_root, raise_if_any
from contour_fem.core.params import user_values
from contour_fem.core.provenance import platform_info, versions
from contour_fem.core.units import UM, UM2
from contour_fem.io.fields import tag_names, write_case_fields
from contour_fem.io.files import write_csv, write_json


def case_record(case: Case) -> dict:
    """The case's parameters in user units, section by section."""
    out = {name: user_values(getattr(case, attr)) for name, attr in (
        ("mesh", "cell"), ("electrolyte", "electrolyte"), ("kinetics", "kinetics"),
        ("creep", "creep"), ("operating", "operating"), ("criterion", "criterion"),
        ("solver", "solver"))}
    return {"name": case.name, "geometry": case.topography.describe(), **out}


def write_case_result(result: CaseResult, folder: Path, *, config: dict | None = None,
                      fields: bool = True, coordinates: str = "m") -> None:
    """Write a case's result files into ``folder`` (collective).

    Fields are written by every rank, the JSON and CSV files by rank 0; an error on any rank is
    raised on every rank.
    """
    folder = Path(folder)
    comm: MPI.Comm = result.cell.comm
    error = None
    if fields:
        try:
            write_case_fields(result, folder, coordinates)
        except Exception as exc:  # raised below, on every rank
            error = exc
    raise_if_any(comm, error)
    on_root(comm, _write_records, result, folder, config)


def _write_records(result: CaseResult, folder: Path, config: dict | None) -> None:
    write_json(folder / "run.json", {
        "config": config,
        "case": case_record(result.case),
        "mesh": {**result.cell.cell, **result.cell.counts(), "tags": tag_names()},
        "current": result.current.summary(),
        "creep": result.creep.summary(),
        "platform": platform_info(result.ranks),
        "versions": versions(),
        "timings_s": result.timings,
    })
    table = result.interface
    write_csv(folder / "interface.csv", list(INTERFACE_COLUMNS),
              zip(*(table[c] for c in INTERFACE_COLUMNS), strict=True), float_format=".10g")
    write_json(folder / "result.json", result.to_json())


def mesh_info(cm, case: Case, cfg: dict, elapsed: float) -> dict:
    """``info.json`` of a meshed cell (collective: areas and Jacobians are global)."""
    area = cm.interface_area()
    return {
        "inputs": {"geometry": cfg["geometry"], "mesh": cfg["mesh"], "name": cfg["name"]},
        "cell": cm.cell,
        **cm.counts(),
        "interface_area_um2": UM2.from_si(area),
        "projected_area_um2": UM2.from_si(cm.projected_area),
        "area_ratio": area / cm.projected_area,
        "area_ratio_exact": case.topography.area_ratio(),
        "min_jacobian_um3": UM.from_si(UM2.from_si(cm.min_jacobian())),
        "wall_time_s": elapsed,
        "platform": platform_info(cm.comm.size),
        "versions": versions(),
    }
