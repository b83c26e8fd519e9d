"""Figures of results (matplotlib, no MPI): interface maps, profiles, sweep curves.

Interface maps share one colour range per quantity across panels, so panels compare; the excess
pressure, which changes sign, is drawn in a diverging map centred on 0. The benchmark report and
``contour-fem plot`` use these functions.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.tri as mtri
import numpy as np
from matplotlib.colors import LogNorm, Normalize, TwoSlopeNorm

from contour_fem.io.files import atomic_write_bytes

Table = Mapping[str, np.ndarray]

#: A positive quantity spanning more than this ratio is drawn on a log scale (one point of a
#: suction zone can be hundreds of times flat and would otherwise leave the map one colour).
LOG_SPAN = 20.0
#: Interface quantities: column → (label, colour map, diverging).
QUANTITIES = {
    "current_ratio": ("i_loc / i_geo", "viridis", False),
    "excess_pressure_MPa": ("Δp at i_ref (MPa)", "RdBu_r", True),
    "critical_current_ratio_to_flat": ("local critical current / flat", "magma", False),
}


def save(fig, path: Path, dpi: int = 120) -> Path:
    """Save a figure atomically, with the user's umask, and close it."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)]


def shared_norm(tables: Sequence[Table], column: str, diverging: bool):
    """One colour normalisation for ``column`` over all tables (robust to inf and NaN)."""
    values = np.concatenate([_finite(t[column]) for t in tables if column in t] or [[0.0]])
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if diverging:
        span = max(abs(lo), abs(hi), 1e-12)
        return TwoSlopeNorm(vcenter=0.0, vmin=-span, vmax=span)
    if hi <= lo:
        hi = lo + max(abs(lo), 1.0) * 1e-9
    if lo > 0 and hi / lo > LOG_SPAN:
        return LogNorm(vmin=lo, vmax=hi)
    return Normalize(vmin=lo, vmax=hi)


def _levels(norm) -> np.ndarray:
    if isinstance(norm, LogNorm):
        return np.geomspace(norm.vmin, norm.vmax, 25)
    return np.linspace(norm.vmin, norm.vmax, 25)


def _index_triangles(u: np.ndarray, v: np.ndarray) -> np.ndarray | None:
    """Triangles of points on a tensor grid in (u, v), or None if they are not on one.

    Built in index space (the rank of each coordinate among its distinct values), where the grid
    is uniform: a Delaunay triangulation of the physical points of a strongly graded grid joins
    rows of very different values by slivers and draws saw teeth that are not in the field.
    Grid cells with three of their four corners (the eighth cell's edge) give one triangle.
    """
    scale = max(float(np.ptp(u)), float(np.ptp(v)), 1e-300)  # merge values equal to 1e-6
    ru, iu = np.unique(np.round(u / scale, 6), return_inverse=True)
    rv, iv = np.unique(np.round(v / scale, 6), return_inverse=True)
    if len(ru) < 2 or len(rv) < 2 or len(ru) * len(rv) > 4 * len(u):
        return None
    at = np.full((len(ru), len(rv)), -1)
    at[iu, iv] = np.arange(len(u))
    a, b, c, d = at[:-1, :-1], at[1:, :-1], at[1:, 1:], at[:-1, 1:]
    ok = [a >= 0, b >= 0, c >= 0, d >= 0]
    first = [(a, b, c, ok[0] & ok[1] & ok[2]), (a, c, d, ok[0] & ok[2] & ok[3])]
    other = ~(ok[0] & ok[2])  # no a–c diagonal: split along b–d instead
    second = [(a, b, d, other & ok[0] & ok[1] & ok[3]), (b, c, d, other & ok[1] & ok[2] & ok[3])]
    tris = np.concatenate([np.stack([p[m], q[m], r[m]], 1) for p, q, r, m in first + second])
    return tris if len(tris) >= 1.5 * len(u) else None


def triangulation(x: np.ndarray, y: np.ndarray) -> mtri.Triangulation:
    """A triangulation of interface nodes for contour plots.

    Structured meshes put the nodes on a tensor grid in (x, y) (quarter and full cells) or in
    (x, x − y) (the eighth cell's sheared grid); it is triangulated cell by cell. Other nodes
    get a Delaunay triangulation.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    for u, v in ((x, y), (x, x - y)):
        tris = _index_triangles(u, v)
        if tris is not None:
            return mtri.Triangulation(x, y, triangles=tris)
    return mtri.Triangulation(x, y)


def interface_maps(tables: Mapping[str, Table], path: Path, title: str | None = None,
                   columns: Sequence[str] = tuple(QUANTITIES)) -> Path:
    """One panel per table and quantity, one colour scale per quantity shared by all tables.

    Several tables: a row per quantity, a column per table. One table: a row of quantities.
    """
    names = list(tables)
    columns = [c for c in columns if all(c in tables[n] for n in names)]
    single = len(names) == 1
    shape = (1, len(columns)) if single else (len(columns), len(names))
    fig, axes = plt.subplots(*shape, squeeze=False,
                             figsize=(4.3 * shape[1] + (0 if single else 1.2), 3.6 * shape[0]))
    for i, column in enumerate(columns):
        label, cmap, diverging = QUANTITIES[column]
        norm = shared_norm([tables[n] for n in names], column, diverging)
        levels = _levels(norm)
        row = []
        for j, name in enumerate(names):
            ax = axes[0, i] if single else axes[i, j]
            tab = tables[name]
            values = np.asarray(tab[column], dtype=float)
            ok = np.isfinite(values)
            tri = triangulation(tab["x_um"][ok], tab["y_um"][ok])
            mappable = ax.tricontourf(tri, values[ok], levels=levels, cmap=cmap, norm=norm,
                                      extend="both")
            ax.set_aspect("equal")
            ax.set_title(label if single else (name if i == 0 else ""), fontsize=9)
            ax.set_xlabel("x (µm)")
            ax.set_ylabel("y (µm)" if (single and i == 0) or (not single and j == 0) else "")
            row.append(ax)
        ticks = None
        if isinstance(norm, LogNorm):  # 1-2-5 ticks: the default log ticks read 1.15454 × 10¹
            ticks = [m * 10.0**e for e in range(-3, 5) for m in (1, 2, 5)
                     if norm.vmin <= m * 10.0**e <= norm.vmax]
        fig.colorbar(mappable, ax=row, shrink=0.85, label=None if single else label,
                     ticks=ticks, format="%g" if ticks else None)
    if title:
        fig.suptitle(title)
    return save(fig, path)


def line_profiles(table: Table, period_um: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Nodes on the diagonal x = y and on the cell's edges y = y_min and x = x_max.

    Returns:
        Line name → (position along the line in µm, row indices), sorted by position.
    """
    x, y = np.asarray(table["x_um"]), np.asarray(table["y_um"])
    tol = 1e-6 * period_um
    lines = {
        "diagonal x = y": (np.abs(x - y) < tol, np.hypot(x - x.min(), y - y.min())),
        "edge y = y_min": (np.abs(y - y.min()) < tol, x - x.min()),
        "edge x = x_max": (np.abs(x - x.max()) < tol, y - y.min()),
    }
    out = {}
    for name, (mask, position) in lines.items():
        idx = np.flatnonzero(mask)
        order = np.argsort(position[idx], kind="stable")
        out[name] = (position[idx][order], idx[order])
    return out


def profiles(tables: Mapping[str, Table], period_um: Mapping[str, float], path: Path) -> Path:
    """Each quantity along the diagonal and the two edges, one line per table."""
    columns = list(QUANTITIES)
    names = list(tables)
    lines = ("diagonal x = y", "edge y = y_min", "edge x = x_max")
    fig, axes = plt.subplots(len(columns), len(lines), squeeze=False,
                             figsize=(4.2 * len(lines), 3.0 * len(columns)))
    colours = plt.get_cmap("tab10")
    for name_index, name in enumerate(names):
        found = line_profiles(tables[name], period_um[name])
        for j, line in enumerate(lines):
            position, idx = found[line]
            for i, column in enumerate(columns):
                values = np.asarray(tables[name][column], dtype=float)[idx]
                axes[i, j].plot(position, values, "-", lw=1.2, color=colours(name_index % 10),
                                label=name)
    for i, column in enumerate(columns):
        axes[i, 0].set_ylabel(QUANTITIES[column][0])
        for j, line in enumerate(lines):
            axes[0, j].set_title(line, fontsize=9)
            axes[-1, j].set_xlabel("distance along the line (µm)")
            axes[i, j].grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    return save(fig, path)


#: Result columns drawn against the varied keys of a sweep.
SWEEP_COLUMNS = ("max_current_ratio", "max_excess_pressure_MPa",
                 "critical_current_ratio_to_flat")


def sweep_curves(columns: Mapping[str, np.ndarray], keys: Sequence[str], path: Path,
                 results: Sequence[str] = SWEEP_COLUMNS) -> Path:
    """Result columns against each varied numeric key; one line per combination of the rest."""
    ok = np.asarray(columns["status"]) == "ok"
    numeric = [k for k in keys if np.asarray(columns[k]).dtype.kind == "f"
               and len(np.unique(np.asarray(columns[k])[ok])) > 1]
    axis_keys = numeric or list(keys[:1])
    fig, axes = plt.subplots(len(results), max(len(axis_keys), 1), squeeze=False,
                             figsize=(4.5 * max(len(axis_keys), 1), 3.2 * len(results)))
    for j, key in enumerate(axis_keys):
        others = [k for k in keys if k != key]
        groups: dict[tuple, list[int]] = {}
        for row in np.flatnonzero(ok):
            groups.setdefault(tuple(columns[k][row] for k in others), []).append(row)
        cmap = plt.get_cmap("viridis", max(len(groups), 2))
        for g, (label, rows) in enumerate(sorted(groups.items(), key=lambda kv: str(kv[0]))):
            rows = sorted(rows, key=lambda r: columns[key][r])
            text = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in zip(others, label,
                                                                       strict=True))
            for i, result in enumerate(results):
                x = np.asarray(columns[key], dtype=object)[rows]
                y = np.asarray(columns[result], dtype=float)[rows]
                axes[i, j].plot(x, y, "o-", color=cmap(g), label=text or None)
        for i, result in enumerate(results):
            axes[i, j].set_ylabel(result)
            axes[i, j].grid(alpha=0.3)
        axes[-1, j].set_xlabel(key)
        if len(groups) > 1:
            axes[0, j].legend(fontsize=7, loc="best")
    return save(fig, path)


def fact_grid(ax, ids: Sequence[str], labels: Sequence[str],
              cells: Sequence[Sequence[bool | None]]) -> None:
    """A facts × points grid: held (blue), not held (orange), not evaluated (grey), with a key."""
    colours = {True: "#2166ac", False: "#f4a582", None: "#d9d9d9"}
    for i, j in itertools.product(range(len(ids)), range(len(labels))):
        ax.add_patch(plt.Rectangle((j, i), 1, 1, color=colours[cells[i][j]], ec="white"))
    ax.set_xlim(0, len(labels))
    ax.set_ylim(0, len(ids))
    ax.set_yticks(np.arange(len(ids)) + 0.5, ids)
    ax.set_xticks(np.arange(len(labels)) + 0.5, labels, rotation=60, ha="right", fontsize=7)
    ax.invert_yaxis()
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]
    ax.legend(handles, ["holds", "does not hold", "not evaluated"], loc="upper left",
              bbox_to_anchor=(1.01, 1.0), fontsize=8)
