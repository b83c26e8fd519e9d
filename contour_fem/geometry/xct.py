"""Interface height maps from segmented X-ray tomography (XCT) volumes (numpy only, SI units).

A segmented volume holds one integer label per voxel: lithium below, solid electrolyte above
along ``axis`` (index increasing upwards). In a clean column the labels read Li … Li SE … SE; the
interface lies on the face between the last Li voxel and the first SE voxel, so its height above
the bottom face of the volume is (number of Li voxels in the column) × voxel. This is exact for a
voxelisation that labels a voxel Li when its centre lies below the true surface: the recovered
height is then within half a voxel of the surface at the column's centre.

Layout: with ``axis`` removed, the first remaining axis of the volume is the map's rows (y) and
the second its columns (x), so ``labels[z, y, x]`` (a TIFF stack, ``axis=0``) and
``labels[y, x, z]`` (``axis=2``) both give ``heights[y, x]``; transpose ``labels[x, y, z]`` first.
Map sample (j, i) is the column whose voxel centres sit at ((i + ½)·voxel, (j + ½)·voxel) from
the volume's corner; :class:`~contour_fem.geometry.heightmap.HeightMap` places it at
(i·voxel, j·voxel), a shift of half a voxel that changes nothing for a periodic cell.

Defective columns are those that are not one Li→SE transition: several transitions (overhangs,
Li islands in the SE, SE holes in the Li), no Li, no SE, or SE below Li. ``defects="error"``
refuses them; ``defects="fill"`` gives them the height (Li voxel count) × voxel, the same rule as
for clean columns, which keeps the lithium volume of every column (holes and islands are
squeezed into a single interface at the volume-preserving height).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contour_fem.core.errors import InputError
from contour_fem.core.units import UM, UM_DIGITS

DEFECT_MODES = ("error", "fill")
_DEFECT_KINDS = ("several transitions", "no lithium", "no electrolyte", "electrolyte below")
_BLOCK_VOXELS = 1 << 24  # voxels per processed slab: bounds the temporary boolean arrays


@dataclass(frozen=True)
class VolumeReport:
    """What :func:`height_map_from_volume` found.

    Attributes:
        shape: Shape of the height map (rows along y, columns along x).
        voxel: Voxel size, m.
        columns: Number of columns (map pixels).
        defects: Number of columns that are not a single Li→SE transition, per kind
            (``several transitions``, ``no lithium``, ``no electrolyte``,
            ``electrolyte below``).
        first_defect: (row, column) of the first defective column, or None.
        filled: Columns whose height came from the fill rule (0 with ``defects="error"``).
        lithium_fraction: Li voxels over all voxels.

    """

    shape: tuple[int, int]
    voxel: float
    columns: int
    defects: dict[str, int]
    first_defect: tuple[int, int] | None
    filled: int
    lithium_fraction: float

    @property
    def defect_count(self) -> int:
        """Total number of defective columns."""
        return sum(self.defects.values())

    def describe(self) -> dict:
        """JSON-friendly summary in µm."""
        return {"shape": list(self.shape), "voxel_um": UM.from_si(self.voxel, UM_DIGITS),
                "columns": self.columns, "defects": dict(self.defects),
                "first_defect": None if self.first_defect is None else list(self.first_defect),
                "filled": self.filled, "lithium_fraction": self.lithium_fraction}


def height_map_from_volume(
    labels: np.ndarray, voxel: float, *, lithium: int, electrolyte: int, axis: int = 2,
    defects: str = "error",
) -> tuple[np.ndarray, VolumeReport]:
    """Interface heights per column of a segmented volume.

    Args:
        labels: 3-D integer array, one label per voxel; Li below SE along ``axis``.
        voxel: Voxel edge length, m (cubic voxels).
        lithium: Label of lithium voxels.
        electrolyte: Label of electrolyte voxels.
        axis: The vertical axis (index increasing upwards).
        defects: ``error`` (refuse defective columns) or ``fill`` (Li voxel count rule).

    Returns:
        ``(heights, report)``: heights in m above the volume's bottom face, shape (rows along y,
        columns along x), ready for ``HeightMap.from_array(heights, voxel, ...)``.

    Raises:
        InputError: A bad argument, a label other than the two given, or (``defects="error"``)
            a defective column: the message says how many and where the first is.

    """
    vol = _check_volume(labels, axis)
    if isinstance(voxel, bool) or not isinstance(voxel, int | float | np.floating | np.integer):
        raise InputError(f"voxel must be a number (m), got {voxel!r}")
    v = float(voxel)
    if not math.isfinite(v) or v <= 0:
        raise InputError(f"voxel must be finite and > 0 (m), got {voxel!r}")
    for name, lab in (("lithium", lithium), ("electrolyte", electrolyte)):
        if isinstance(lab, bool) or not isinstance(lab, int | np.integer):
            raise InputError(f"{name} must be an integer label, got {lab!r}")
    if lithium == electrolyte:
        raise InputError(f"lithium and electrolyte labels must differ, both are {lithium!r}")
    if defects not in DEFECT_MODES:
        raise InputError(f"defects must be one of {', '.join(DEFECT_MODES)}, got {defects!r}")

    ny, nx, nz = vol.shape
    count = np.empty((ny, nx), dtype=np.int64)  # Li voxels per column
    kinds = np.zeros((ny, nx), dtype=np.int8)  # 0 clean, else 1 + index in _DEFECT_KINDS
    rows = max(1, _BLOCK_VOXELS // max(1, nx * nz))
    for r0 in range(0, ny, rows):
        blk = vol[r0:r0 + rows]
        li = blk == lithium
        other = ~li & (blk != electrolyte)
        if other.any():
            bad = np.unique(blk[other])
            shown = ", ".join(str(b) for b in bad[:5]) + (", …" if bad.size > 5 else "")
            raise InputError(f"labels must be only {lithium} (lithium) and {electrolyte} "
                             f"(electrolyte), found {shown}")
        n_li = li.sum(axis=-1)
        changes = np.count_nonzero(li[..., 1:] != li[..., :-1], axis=-1)
        k = np.zeros(n_li.shape, dtype=np.int8)
        k[changes > 1] = 1
        k[n_li == 0] = 2
        k[n_li == nz] = 3
        k[(changes == 1) & ~li[..., 0]] = 4
        count[r0:r0 + rows] = n_li
        kinds[r0:r0 + rows] = k

    tally = {name: int(np.count_nonzero(kinds == i + 1)) for i, name in enumerate(_DEFECT_KINDS)}
    tally = {name: c for name, c in tally.items() if c}
    where = np.argwhere(kinds > 0)
    first = None if where.size == 0 else (int(where[0, 0]), int(where[0, 1]))
    total = sum(tally.values())
    if total and defects == "error":
        parts = ", ".join(f"{c} with {name}" for name, c in tally.items())
        raise InputError(f"labels: {total} of {ny * nx} columns are not a single lithium → "
                         f"electrolyte transition ({parts}); the first is at row {first[0]}, "
                         f"column {first[1]}; pass defects='fill' to use the Li voxel count")
    report = VolumeReport(shape=(ny, nx), voxel=v, columns=ny * nx, defects=tally,
                          first_defect=first, filled=total,
                          lithium_fraction=float(count.sum()) / vol.size)
    return count * v, report


def _check_volume(labels: object, axis: object) -> np.ndarray:
    """``labels`` as a 3-D integer array with the vertical axis last."""
    a = np.asarray(labels)
    if a.ndim != 3:
        raise InputError(f"labels must be a 3-D array, got shape {a.shape}")
    if not (a.dtype == bool or np.issubdtype(a.dtype, np.integer)):
        raise InputError(f"labels must be integers (a segmented volume), got dtype {a.dtype}")
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer) or not -3 <= axis <= 2:
        raise InputError(f"axis must be 0, 1 or 2, got {axis!r}")
    a = np.moveaxis(a, int(axis), -1)
    if min(a.shape) < 1 or a.shape[-1] < 2:
        raise InputError(f"labels need ≥ 2 voxels along axis {axis} and ≥ 1 across, "
                         f"got shape {np.asarray(labels).shape}")
    return a


def read_tiff_stack(path: str | Path) -> np.ndarray:
    """A segmented volume from a (multi-page) TIFF file, as ``labels[z, y, x]`` (use axis=0).

    Needs the optional ``tifffile`` package (``pip install contour_fem[xct]``).

    Raises:
        InputError: tifffile is missing, the file is missing or unreadable, or not 3-D.

    """
    try:
        import tifffile  # optional: only XCT users need it
    except ImportError:
        raise InputError("reading TIFF stacks needs the tifffile package: "
                         "pip install contour_fem[xct]") from None
    path = Path(path)
    if not path.is_file():
        raise InputError(f"TIFF stack {path} does not exist or is not a file")
    try:
        a = np.asarray(tifffile.imread(path))
    except Exception as exc:  # tifffile raises many types for corrupt files
        raise InputError(f"TIFF stack {path} cannot be read: "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                         ) from None
    if a.ndim != 3:
        raise InputError(f"TIFF stack {path} must be 3-D (pages × rows × columns), "
                         f"got shape {a.shape}")
    return a
