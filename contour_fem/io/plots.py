"""``contour-fem plot FOLDER``: the figures of a case folder or a sweep folder.

- a case (``result.json``): ``interface_maps.png`` (f, Δp on a diverging scale, local critical
  current over flat) and ``profiles.png`` (the same along the diagonal and the cell edges);
- a sweep or benchmark (``results.csv``): ``sweep.png``, the result columns against each varied
  key, one line per combination of the other keys.
"""

from __future__ import annotations

from pathlib import Path

from contour_fem.core.errors import InputError
from contour_fem.io import figures
from contour_fem.io.output import MARKER, read_marker, write_marker
from contour_fem.io.readers import load_result, load_sweep


def plot_folder(folder: Path, out: Path) -> list[Path]:
    """Write the figures of ``folder`` into ``out``; returns their paths."""
    folder = Path(folder)
    if (folder / "result.json").is_file():
        case = load_result(folder)
        if not case.interface:
            raise InputError(f"{folder} has no interface.csv to plot")
        name = case.result.get("name", folder.name)
        tables = {name: case.interface}
        return [figures.interface_maps(tables, out / "interface_maps.png",
                                       title=f"{name} at the reference current"),
                figures.profiles(tables, {name: case.result["separation_um"]},
                                 out / "profiles.png")]
    if (folder / "results.csv").is_file():
        table = load_sweep(folder)
        if not table.ok().any():
            raise InputError(f"{folder}: no finished case to plot yet")
        return [figures.sweep_curves(table.columns, table.keys, out / "sweep.png")]
    raise InputError(f"{folder} is neither a case folder (result.json) nor a sweep folder "
                     "(results.csv)")


def record_in_marker(folder: Path, out: Path) -> None:
    """List ``out`` among the entries of ``folder``'s marker when it is inside that folder.

    The plots are the tool's own output, so a later ``--overwrite`` of the case may replace them
    (a file the user adds there still makes the folder theirs).
    """
    folder, out = Path(folder), Path(out)
    marker = read_marker(folder)
    if marker is None or out.resolve().parent != folder.resolve():
        return
    entries = set(marker.get("entries", [])) | {out.name}
    write_marker(folder, marker["verb"], sorted(entries - {MARKER}))
