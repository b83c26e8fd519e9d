"""Local maxima of an interface field, followed over the levels of a mesh study.

A global maximum such as Δp_max can sit at different places on different meshes: at a
frustum's base edge on coarse meshes and at its top corner on fine ones (docs/verification.md
§4). Its sequence then mixes two local maxima that converge separately, often from opposite
sides, and Richardson's analysis of it means nothing. This module finds the local maxima of
each level's interface table and gives each its own sequence: the largest value within half the
peak separation of its location, on every level.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from contour_fem.case import UNIFORM

#: Local maxima closer than this fraction of the period count as one (S/20: 7.5 µm for S =
#: 150 µm, wider than a 2 µm fillet and narrower than a frustum's 37.5 µm top).
PEAK_SEPARATION = 0.05

#: Local maxima below this fraction of their level's range (from its smallest value) are not
#: followed: the top fifth.
PEAK_FLOOR = 0.8

#: Most local maxima followed per quantity (the largest first).
MAX_PEAKS = 4


def local_maxima(xy: np.ndarray, values: np.ndarray, separation: float,
                 floor: float = PEAK_FLOOR) -> list[int]:
    """Indices of the local maxima of ``values`` on the points ``xy``, largest first.

    A point is a local maximum when no point within ``separation`` has a larger value; of
    maxima closer than ``separation`` (a plateau, a ridge) only the largest is kept. Only
    values in the top ``1 − floor`` of the range of ``values`` are considered.

    Args:
        xy: In-plane point coordinates, shape (n, 2).
        values: One value per point.
        separation: Distance within which two maxima are one (the unit of ``xy``).
        floor: Points below min + ``floor``·(max − min) are ignored.

    """
    values = np.asarray(values, dtype=float)
    if values.size == 0 or np.ptp(values) <= UNIFORM * abs(values.max()):
        return []  # the maximum of a uniform field is anywhere (as for CaseResult's hot spots)
    top = float(values.max())
    lowest = top - (1.0 - floor) * float(np.ptp(values))
    candidates = np.flatnonzero(values >= lowest)
    candidates = candidates[np.argsort(-values[candidates], kind="stable")]
    tree = cKDTree(xy)
    kept: list[int] = []
    for i in candidates:
        if kept and np.min(np.hypot(*(xy[kept] - xy[i]).T)) <= separation:
            continue
        if values[i] >= values[tree.query_ball_point(xy[i], separation)].max():
            kept.append(int(i))
    return kept


def follow_maxima(tables: list[dict[str, np.ndarray]], column: str, separation: float,
                  floor: float = PEAK_FLOOR, most: int = MAX_PEAKS) -> list[dict]:
    """Sequences of the local maxima of ``column`` over the levels of a study, coarse to fine.

    The locations are the local maxima of every level (the finest level's first), merged when
    closer than ``separation``. A location's value on a level is the largest value within
    ``separation``/2 of it, so a maximum that drifts by less than that between meshes stays
    one sequence.

    Args:
        tables: Interface tables (``CaseResult.interface``), coarse to fine.
        column: A column of the tables, e.g. ``"excess_pressure_MPa"``.
        separation: As in :func:`local_maxima`, in µm (the tables' unit).
        floor: As in :func:`local_maxima`.
        most: Most sequences returned.

    Returns:
        ``[{"location_um": [x, y], "values": [...], "holds_max": [bool, ...]}, ...]``, largest
        finest value first; ``holds_max`` says on which levels the sequence holds the global
        maximum.

    """
    planes = [np.column_stack([t["x_um"], t["y_um"]]) for t in tables]
    places: list[np.ndarray] = []
    for xy, table in zip(reversed(planes), reversed(tables), strict=True):
        for i in local_maxima(xy, table[column], separation, floor):
            if all(np.hypot(*(xy[i] - p)) > separation for p in places):
                places.append(xy[i])
    trees = [cKDTree(xy) for xy in planes]
    out, seen = [], set()
    for place in places:
        values = []
        for tree, table in zip(trees, tables, strict=True):
            near = tree.query_ball_point(place, 0.5 * separation)
            values.append(float(np.max(table[column][near])) if near else float("nan"))
        key = tuple(values)
        if key in seen or any(np.isnan(values)):
            continue  # the same local maximum reached from two places, or one level has none
        seen.add(key)
        holds = [bool(v == np.max(t[column])) for v, t in zip(values, tables, strict=True)]
        out.append({"location_um": [float(c) for c in place], "values": values,
                    "holds_max": holds})
    out.sort(key=lambda s: -s["values"][-1])
    return out[:most]
