"""Figures of the benchmark report (matplotlib, rank 0, no MPI).

Series figures are generic over an experiment's ``series`` labels; identification figures put
the first numeric post unknown (k) on x and the first numeric field unknown (R_int) on y, one
panel per combination of the other unknowns.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap

from contour_fem.io.figures import save
from contour_fem.studies.experiment.schema import Experiment

RATIO = "critical_current_ratio_to_flat"
ROWS = ((RATIO, "critical current / flat"), ("max_current_ratio", "f_max (kinetics)"),
        ("max_excess_pressure_MPa", "Δp_max at i_ref (MPa)"))
#: Panels at most in an identification figure (the rest are left out and said so).
MAX_PANELS = 24


def series_axes(exp: Experiment) -> list[tuple[str, list[str], str | None]]:
    """(label, samples, varying geometry key or None) of every series with ≥ 2 samples."""
    labels: dict[str, list[str]] = {}
    for s in exp.samples:
        for label in s.get("series", []):
            labels.setdefault(label, []).append(s["name"])
    out = []
    for label, names in labels.items():
        if len(names) < 2:
            continue
        varying = None
        for key in ("height_um", "separation_um", "corner_radius_um"):
            if len({exp.sample(s).get(key) for s in names}) > 1:
                varying = key
                break
        if len({exp.sample(s).get("topography") for s in names}) > 1:
            varying = None
        out.append((label, names, varying))
    return out


def figure_series(exp: Experiment, summary: dict, path: Path) -> Path | None:
    """Critical current, f_max and Δp_max along each series, with error bars."""
    series = series_axes(exp)
    if not series:
        return None
    fig, axes = plt.subplots(len(ROWS), len(series), figsize=(3.6 * len(series), 8.5),
                             squeeze=False)
    for j, (label, names, key) in enumerate(series):
        recs = [summary["samples"].get(s, {}) for s in names]
        if key is None:
            x = np.arange(len(names))
            ticks = [exp.sample(s).get("topography", s) for s in names]
        else:
            x = np.array([float(exp.sample(s)[key]) for s in names])
            order = np.argsort(x)
            x, names, recs = x[order], [names[i] for i in order], [recs[i] for i in order]
        for i, (q, ylabel) in enumerate(ROWS):
            ax = axes[i, j]
            y = [math.nan if r.get(q) is None else r[q] for r in recs]
            err = [r.get("error_bars", {}).get(q, 0.0) for r in recs]
            if key is None:
                ax.bar(x, y, yerr=err, capsize=4, color="C0")
                ax.set_xticks(x, ticks)
            else:
                ax.errorbar(x, y, yerr=err, marker="o", capsize=3)
                if x.max() / max(x.min(), 1e-12) > 10:  # a decade or more: log, plain labels
                    ax.set_xscale("log")
                    ax.set_xticks(x, [f"{v:g}" for v in x])
                    ax.minorticks_off()
            if q == RATIO:
                ax.axhline(1.0, color="k", lw=0.8)
            ax.set_ylabel(ylabel if j == 0 else "")
            ax.grid(alpha=0.3)
        axes[0, j].set_title(label.replace("_", " "), fontsize=10)
        axes[-1, j].set_xlabel("" if key is None else key.replace("_um", " (µm)"))
    fig.suptitle("Model at the identified point (error bars: change from the coarser mesh)")
    fig.tight_layout()
    return save(fig, path)


def _axes_of(exp: Experiment) -> tuple[str | None, str | None, list[str]]:
    def numeric(u):
        return len(u.values) > 1 and all(isinstance(v, int | float) for v in u.values)

    x = next((u.key for u in exp.post_unknowns if numeric(u)), None)
    y = next((u.key for u in exp.field_unknowns if numeric(u)), None)
    others = [u.key for u in exp.unknowns if u.key not in (x, y)]
    return x, y, others


def _short(key: str) -> str:
    return {"kinetics.interfacial_resistance_ohm_cm2": "R_int (Ω·cm²)",
            "criterion.k_per_MPa": "k (1/MPa)", "creep.exponent": "n",
            "criterion.growth_exponent": "m", "creep.slip": "slip"}.get(key, key)


def _panels(exp: Experiment, others: list[str]) -> list[dict]:
    grids = [next(u for u in exp.unknowns if u.key == k).values for k in others]
    return [dict(zip(others, combo, strict=True)) for combo in itertools.product(*grids)]


def _matrix(points: list[dict], x: str, y: str, fixed: dict, value) -> tuple:
    xs = sorted({p["values"][x] for p in points if not p.get("refined")})
    ys = sorted({p["values"][y] for p in points if not p.get("refined")})
    grid = np.full((len(ys), len(xs)), np.nan)
    for p in points:
        if p.get("refined") or any(p["values"].get(k) != v for k, v in fixed.items()):
            continue
        grid[ys.index(p["values"][y]), xs.index(p["values"][x])] = value(p)
    return np.array(xs, dtype=float), np.array(ys, dtype=float), grid


def _edges(v: np.ndarray) -> np.ndarray:
    """Cell edges around grid values (geometric for positive values spanning a decade)."""
    if v.size == 1:
        return np.array([v[0] * 0.9, v[0] * 1.1]) if v[0] else np.array([-0.5, 0.5])
    logs = v.min() > 0 and v.max() / v.min() > 10
    t = np.log(v) if logs else v
    mid = 0.5 * (t[1:] + t[:-1])
    e = np.concatenate([[2 * t[0] - mid[0]], mid, [2 * t[-1] - mid[-1]]])
    return np.exp(e) if logs else e


def _pcolor(ax, xs, ys, grid, cmap, norm):
    mesh = ax.pcolormesh(_edges(xs), _edges(ys), grid, cmap=cmap, norm=norm, shading="flat")
    if xs.min() > 0 and xs.max() / xs.min() > 10:
        ax.set_xscale("log")
    if ys.min() > 0 and ys.max() / ys.min() > 10:
        ax.set_yscale("log")
    return mesh


def figure_identification(exp: Experiment, ident: dict, path: Path) -> Path | None:
    """Number of facts held over (k, R_int), one panel per value of the other unknowns."""
    x, y, others = _axes_of(exp)
    if x is None or y is None:
        return None
    panels = _panels(exp, others)[:MAX_PANELS]
    cols = min(len(panels), 6 if len(panels) > 8 else 4)
    rows = math.ceil(len(panels) / cols)
    n_facts = sum(f["kind"] != "not_checkable" for f in exp.facts)
    cmap = plt.get_cmap("viridis", n_facts + 1)
    norm = BoundaryNorm(np.arange(-0.5, n_facts + 1.5), cmap.N)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols + 1.0, 2.9 * rows), squeeze=False,
                             sharex=True, sharey=True)
    best = ident["best"]["values"]
    mesh = None
    for ax, fixed in zip(axes.flat, panels, strict=False):
        xs, ys, grid = _matrix(ident["points"], x, y, fixed, lambda p: p["n_passed"])
        mesh = _pcolor(ax, xs, ys, grid, cmap, norm)
        if all(best.get(k) == v for k, v in fixed.items()):
            ax.plot(best[x], best[y], "r*", ms=12, mec="w")
        ax.set_title(", ".join(f"{_short(k)} = {v}" for k, v in fixed.items()), fontsize=8)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel(_short(x))
    for ax in axes[:, 0]:
        ax.set_ylabel(_short(y))
    fig.colorbar(mesh, ax=axes, shrink=0.8, label="facts held", ticks=range(n_facts + 1))
    fig.suptitle(f"Facts held (of {n_facts}); red star: the identified point", fontsize=11)
    return save(fig, path)


def figure_regions(exp: Experiment, ident: dict, path: Path) -> Path | None:
    """Where each fact holds over (k, R_int), the other unknowns at their identified values."""
    x, y, others = _axes_of(exp)
    if x is None or y is None:
        return None
    best = ident["best"]["values"]
    fixed = {k: best[k] for k in others}
    # Facts judged somewhere in the grid (one whose samples run at the best point only is not).
    facts = [f for f in exp.facts if f["kind"] != "not_checkable"
             and ident["regions"].get(f["id"], {}).get("fraction") is not None]
    cols = min(len(facts), 5)
    rows = math.ceil(len(facts) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.8 * cols, 2.5 * rows), squeeze=False,
                             sharex=True, sharey=True)
    cmap = ListedColormap(["#f4a582", "#2166ac"])
    norm = BoundaryNorm([-0.5, 0.5, 1.5], 2)
    for ax, fact in zip(axes.flat, facts, strict=False):
        xs, ys, grid = _matrix(ident["points"], x, y, fixed,
                               lambda p, fid=fact["id"]: float(fid in p["passed"]))
        _pcolor(ax, xs, ys, grid, cmap, norm)
        ax.plot(best[x], best[y], "k*", ms=8)
        ax.set_title(fact["id"], fontsize=9)
    for ax in axes.flat[len(facts):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel(_short(x), fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel(_short(y), fontsize=8)
    where = ", ".join(f"{_short(k)} = {v}" for k, v in fixed.items())
    fig.suptitle(f"Where each fact holds (blue) at {where}", fontsize=10)
    fig.tight_layout()
    return save(fig, path)
