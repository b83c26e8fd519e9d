"""Height-map files: a 2-D array of numbers in ``.npy`` or delimited text (numpy only).

Every problem with a file is one :class:`InputError` naming the file, and for text the line and
value. Text goes through the package's one reader (``core.files``): the same messages as for
case files.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from contour_fem.core.errors import InputError
from contour_fem.core.files import read_bytes, read_text

TEXT_SUFFIXES = (".csv", ".txt", ".dat")
_WHAT = "height map file"  # how messages name the file


def read_map(path: Path) -> np.ndarray:
    """The 2-D array in ``path`` (file units), or a one-line InputError naming the file."""
    suffix = path.suffix.lower()
    if suffix not in (".npy", *TEXT_SUFFIXES):
        raise InputError(f"{_WHAT} {path} must end in .npy or {', '.join(TEXT_SUFFIXES)}, "
                         f"got {path.suffix or 'no suffix'!r}")
    if suffix == ".npy":
        return _parse_npy(path, read_bytes(path, _WHAT))
    return _parse_text(path, read_text(path, _WHAT))


def _parse_npy(path: Path, data: bytes) -> np.ndarray:
    try:
        a = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{_WHAT} {path} is not a valid .npy array: {reason}") from None
    if not isinstance(a, np.ndarray) or a.ndim != 2:
        raise InputError(f"{_WHAT} {path} must hold a 2-D array, "
                         f"got shape {getattr(a, 'shape', '?')}")
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer)
                               or np.issubdtype(a.dtype, np.floating)):
        raise InputError(f"{_WHAT} {path} must hold real numbers, got dtype {a.dtype}")
    return a.astype(np.float64)


def _parse_text(path: Path, text: str) -> np.ndarray:
    rows: list[np.ndarray] = []
    first_line = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "," in line:
            cells = [c.strip() for c in line.split(",")]
            if cells[-1] == "":  # a trailing delimiter, as some spreadsheets write
                cells.pop()
        else:
            cells = line.split()
        try:
            row = np.array([float(c) for c in cells])
        except ValueError:
            col = next(k for k, c in enumerate(cells, start=1) if not _is_number(c))
            raise InputError(f"{_WHAT} {path}, line {lineno}, value {col}: "
                             f"{cells[col - 1][:20]!r} is not a number") from None
        if rows and row.size != rows[0].size:
            raise InputError(f"{_WHAT} {path}, line {lineno}: {row.size} values, but "
                             f"line {first_line} has {rows[0].size} (ragged rows)")
        if not rows:
            first_line = lineno
        rows.append(row)
    if not rows:
        raise InputError(f"{_WHAT} {path} contains no numbers")
    return np.vstack(rows)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True
