"""Files written safely: atomic (temporary file, then rename), with the user's umask.

A reader never sees a half-written file, and a file is created with the permissions the user's
umask gives (``tempfile.mkstemp`` alone would leave it readable by its owner only).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def clean_json(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf become null, numpy scalars and arrays become Python values."""
    if isinstance(obj, dict):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return clean_json(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data: Any) -> None:
    """Atomically write ``data`` as indented JSON (NaN and inf as null)."""
    atomic_write_text(path, json.dumps(clean_json(data), indent=2, sort_keys=False) + "\n")


def csv_cell(value: Any, float_format: str | None = None) -> Any:
    """A table cell: None, NaN and ±inf are empty; booleans lower case; lists as JSON."""
    if value is None:
        return ""
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            return ""
        return format(float(value), float_format) if float_format else float(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return value


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any] | dict], *,
              float_format: str | None = None) -> None:
    """Atomically write a CSV table; non-finite numbers become empty cells.

    Args:
        path: The file.
        header: Column names (units in the names).
        rows: Sequences in header order, or dicts keyed by column name.
        float_format: Format of floats (e.g. ``.10g``); default: shortest round-trip repr.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        cells = [row.get(k) for k in header] if isinstance(row, dict) else row
        writer.writerow([csv_cell(v, float_format) for v in cells])
    atomic_write_text(path, buf.getvalue())
