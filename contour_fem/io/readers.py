"""Results back into Python: a case folder or a sweep folder as objects (no DOLFINx needed).

    from contour_fem import load_result, load_sweep
    case = load_result("out/eggbox_H25S150")
    case.result["critical_current_ratio_to_flat"], case.interface["excess_pressure_MPa"].max()
    table = load_sweep("runs/zhang2024_height")
    table["max_excess_pressure_MPa"], table.to_pandas()   # pandas only if installed

Units are in every key and column name, the same as in the files.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from contour_fem.core.errors import InputError
from contour_fem.core.files import read_text

#: Keys every complete ``result.json`` has (a record without them is not a finished case).
RESULT_KEYS = ("topography", "height_um", "separation_um", "area_ratio", "max_current_ratio",
               "max_excess_pressure_MPa", "critical_current_mA_cm2",
               "critical_current_ratio_to_flat", "ndofs", "ranks", "converged", "versions")


def is_complete(record: dict | None) -> bool:
    """Whether a parsed ``result.json`` is a finished, converged case."""
    return (isinstance(record, dict) and all(k in record for k in RESULT_KEYS)
            and record.get("converged") is True)


def _json(path: Path, what: str) -> dict:
    try:
        data = json.loads(read_text(path, what))
    except json.JSONDecodeError as exc:
        raise InputError(f"{what} {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{what} {path} is not a JSON object")
    return data


def _rows(text: str) -> tuple[list[str], list[list[str]]]:
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    if not rows:
        return [], []
    return rows[0], rows[1:]


def _column(cells: list[str]) -> np.ndarray:
    """Floats where every non-empty cell is a number (empty → NaN), else the strings."""
    try:
        return np.array([float(c) if c != "" else np.nan for c in cells], dtype=float)
    except ValueError:
        return np.array(cells, dtype=object)


def read_interface_csv(path: Path) -> dict[str, np.ndarray]:
    """``interface.csv`` as column name → float array (empty cells are NaN)."""
    header, body = _rows(read_text(path, "interface table"))
    if not header:
        raise InputError(f"interface table {path} is empty")
    cols = list(zip(*body, strict=True)) if body else [()] * len(header)
    return {name: np.array([float(v) if v != "" else np.nan for v in col])
            for name, col in zip(header, cols, strict=True)}


@dataclass
class CaseFiles:
    """A solved case folder.

    Attributes:
        folder: Where it is.
        result: ``result.json`` (the contract keys; units in the names).
        run: ``run.json`` (configuration, mesh, solver histories, platform, versions).
        interface: ``interface.csv``: column → array, the same columns and units as
            :attr:`contour_fem.case.CaseResult.interface` (NaN where a cell is empty: in
            ``critical_current_ratio_to_flat`` that means no crack can grow at any current).
        fields: Name → path of the field and mesh files present (``current.bp``, ``mesh.vtu``…).

    """

    folder: Path
    result: dict
    run: dict
    interface: dict[str, np.ndarray]
    fields: dict[str, Path] = field(default_factory=dict)


def load_result(folder: str | Path) -> CaseFiles:
    """Read a case folder written by ``contour-fem solve`` (or a sweep's ``cases/<hash>``).

    Raises:
        InputError: The folder is not a finished case.

    """
    folder = Path(folder)
    if not (folder / "result.json").is_file():
        raise InputError(f"{folder} holds no result.json: not a solved case folder")
    result = _json(folder / "result.json", "result record")
    if not is_complete(result):
        raise InputError(f"{folder}/result.json is incomplete (the case did not finish)")
    run = _json(folder / "run.json", "run record") if (folder / "run.json").is_file() else {}
    table = folder / "interface.csv"
    interface = read_interface_csv(table) if table.is_file() else {}
    fields = {p.name: p for p in sorted(folder.iterdir())
              if p.suffix in (".bp", ".vtu", ".xdmf", ".msh")}
    return CaseFiles(folder, result, run, interface, fields)


@dataclass
class SweepTable:
    """``results.csv`` of a sweep (or a benchmark) folder: one row per case.

    Index it by column name (``table["max_excess_pressure_MPa"]``: a float array, NaN where a
    case failed or is pending; string columns are object arrays).

    Attributes:
        folder: The sweep folder.
        columns: Column name → array, in file order.
        keys: The dotted case keys the sweep varies (columns with a ``.`` in the name).

    """

    folder: Path
    columns: dict[str, np.ndarray]
    keys: list[str]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), []))

    def rows(self) -> list[dict[str, Any]]:
        """One dict per case."""
        return [{k: v[i] for k, v in self.columns.items()} for i in range(len(self))]

    def ok(self) -> np.ndarray:
        """Mask of the finished cases."""
        return self.columns["status"] == "ok"

    def to_pandas(self):
        """The table as a pandas DataFrame (needs pandas, which contour_fem does not require)."""
        try:
            import pandas as pd
        except ImportError:
            raise InputError("to_pandas needs pandas: pip install pandas") from None
        return pd.DataFrame(self.columns)


def load_sweep(folder: str | Path) -> SweepTable:
    """Read ``results.csv`` of a folder written by ``contour-fem sweep`` or ``benchmark``.

    Raises:
        InputError: The folder has no results table.

    """
    folder = Path(folder)
    path = folder / "results.csv"
    if not path.is_file():
        raise InputError(f"{folder} holds no results.csv: not a sweep folder")
    header, body = _rows(read_text(path, "sweep table"))
    cols = list(zip(*body, strict=True)) if body else [()] * len(header)
    numeric_never = {"name", "hash", "status", "topography", "failure_type", "reason"}
    columns = {}
    for name, cells in zip(header, cols, strict=True):
        cells = list(cells)
        columns[name] = (np.array(cells, dtype=object) if name in numeric_never
                         else _column(cells))
    return SweepTable(folder, columns, [h for h in header if "." in h])
