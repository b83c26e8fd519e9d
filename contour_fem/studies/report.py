"""The benchmark report: Markdown with generated PNG figures (rank 0 only, no MPI here)."""

from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.tri as mtri
import numpy as np

from contour_fem.io.files import atomic_write_bytes, atomic_write_text

RATIO = "critical_current_ratio_to_flat"


def _save(fig, path: Path) -> None:
    """Save a figure atomically (temporary file, then rename) with the user's umask."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _series(bench, name: str) -> list[str]:
    return [s["name"] for s in bench.samples if name in s.get("series", [])]


def _values(summary: dict, names: list[str], key: str):
    out = []
    for s in names:
        rec = summary["samples"].get(s, {})
        v = rec.get(key)
        err = rec.get("error_bars", {}).get(key, 0.0)
        out.append((math.nan if v is None else v, err))
    return np.array(out).T if out else np.zeros((2, 0))


def figure_critical_current(bench, summary: dict, path: Path) -> None:
    """Critical current over flat along the four series."""
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
    k = summary["calibration"]["k_per_MPa"]
    panels = [
        ("height", "height_um", "H (µm) at S = 150 µm", axes[0, 0]),
        ("separation", "separation_um", "S (µm) at H = 25 µm", axes[0, 1]),
        ("constant_ratio", "separation_um", "S (µm) at H/S = 1/6", axes[1, 0]),
    ]
    for series, xkey, label, ax in panels:
        names = _series(bench, series)
        # Positions come from the experiment's samples, so a failed case still has its place.
        names.sort(key=lambda s: bench.sample(s).get(xkey, 0))
        x = [bench.sample(s).get(xkey, 0) for s in names]
        y, err = _values(summary, names, RATIO)
        y0, _ = _values(summary, names, "critical_current_ratio_default_k")
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=f"k = {k:.3g} /MPa (calibrated)")
        ax.plot(x, y0, "s--", color="0.5", label="k = 0.2 /MPa (default)")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xlabel(label)
        ax.set_ylabel("critical current / flat")
        if series == "constant_ratio":
            ax.set_xscale("log")
        ax.legend(fontsize=8)
    ax = axes[1, 1]
    names = _series(bench, "topography")
    y, err = _values(summary, names, RATIO)
    ax.bar([bench.sample(s)["topography"] for s in names], y, yerr=err, capsize=4)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_ylabel("critical current / flat")
    ax.set_title("H25S150")
    fig.suptitle("Critical current relative to a flat interface (model)")
    fig.tight_layout()
    _save(fig, path)


def figure_maxima(bench, summary: dict, path: Path) -> None:
    """f_max and Δp_max of the egg-box samples against H/S."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for series, marker in (("height", "o"), ("separation", "s"), ("constant_ratio", "^")):
        names = [s for s in _series(bench, series)]
        ratio = [bench.sample(s)["height_um"] / bench.sample(s)["separation_um"]
                 for s in names]
        order = np.argsort(ratio)
        for ax, key, ylabel in ((axes[0], "max_current_ratio", "f_max (with kinetics)"),
                                (axes[1], "max_excess_pressure_MPa", "Δp_max at 1 mA/cm² (MPa)")):
            y, err = _values(summary, [names[i] for i in order], key)
            ax.errorbar(np.array(ratio)[order], y, yerr=err, marker=marker, capsize=3,
                        label=series.replace("_", " "))
            ax.set_xlabel("H/S")
            ax.set_ylabel(ylabel)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def figure_maps(bench, records: dict, path: Path) -> None:
    """Interface maps of f and Δp for the three topographies at H25S150 (quarter cell)."""
    names = _series(bench, "topography")
    fig, axes = plt.subplots(2, len(names), figsize=(4.2 * len(names), 7))
    for j, name in enumerate(names):
        tab = records.get(name, {}).get("interface")
        if tab is None:
            continue
        tri = mtri.Triangulation(tab["x_um"], tab["y_um"])
        for i, (key, label) in enumerate((("current_ratio", "i_loc / i_geo"),
                                          ("excess_pressure_MPa", "Δp (MPa)"))):
            ax = axes[i, j]
            c = ax.tricontourf(tri, tab[key], 24, cmap="viridis")
            fig.colorbar(c, ax=ax, shrink=0.8, label=label)
            ax.set_aspect("equal")
            ax.set_title(f"{name}: {label}", fontsize=9)
            ax.set_xlabel("x (µm)")
            ax.set_ylabel("y (µm)")
    fig.tight_layout()
    _save(fig, path)


def figure_calibration(summary: dict, path: Path) -> None:
    """Gains against k, and which facts hold at which k."""
    scan = summary["k_scan"]
    ks = [row["k_per_MPa"] for row in scan]
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(9, 8), height_ratios=(1, 1.1))
    names = sorted(scan[0]["gains"])
    for s in names:
        ax.plot(ks, [row["gains"].get(s, np.nan) for row in scan], lw=1, label=s)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.axvline(summary["calibration"]["k_per_MPa"], color="r", ls="--", label="calibrated k")
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlim(0, max(ks))
    ax.set_xlabel("k (1/MPa)")
    ax.set_ylabel("critical current / flat")
    ax.legend(fontsize=6, ncol=3)
    ids = [i for i in scan[0]["facts"] if scan[0]["facts"][i] is not None]
    grid = np.array([[{True: 1.0, False: 0.0, None: np.nan}[row["facts"][i]] for row in scan]
                     for i in ids])
    bx.imshow(grid, aspect="auto", cmap="RdYlGn", vmin=0, vmax=1)
    bx.set_yticks(range(len(ids)), ids)
    bx.set_xticks(range(len(ks)), [f"{k:g}" for k in ks], rotation=45)
    bx.set_xlabel("k (1/MPa)")
    bx.set_title("facts reproduced (green) against k", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def _mark(passed) -> str:
    return "n/a" if passed is None else ("pass" if passed else "**fail**")


def _why_not_reproduced(cal: dict) -> list[str]:
    """What the calibration implies for the facts that fail (derived, not hand-written per run)."""
    text = ["The physics defaults were not tuned to these facts."]
    if cal["k_per_MPa"] == 0.0:
        text.append(
            f"The calibration rule gave k = 0: even without any pressure term the best contoured "
            f"gain is {cal['best_gain']:.3g}, short of the target {cal['target']}, and any k > 0 "
            "lowers it. At k = 0 the criterion reduces to i_crit/flat = 1/max f (the secondary "
            "current maximum), so the ranking follows the current distribution alone and facts "
            "that need the pressure to cap the gain of tall or dense contours cannot hold; the "
            "k scan above shows which facts a larger k would recover and which it would break.")
    return [" ".join(text)]


def write_report(out: Path, bench, summary: dict, records: dict) -> Path:
    """Write ``report.md`` and its figures into ``out``; returns the report path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figure_critical_current(bench, summary, out / "critical_current.png")
    figure_maxima(bench, summary, out / "maxima_vs_aspect_ratio.png")
    figure_maps(bench, records, out / "interface_maps.png")
    figure_calibration(summary, out / "calibration.png")
    cal = summary["calibration"]
    lines = [
        f"# Benchmark {bench.name}: model against the experiments",
        "",
        f"*Experiment:* {bench.citation}",
        "",
        f"*Conditions:* {bench.conditions}",
        "",
        f"Resolution `{summary['resolution']}` (error bars from `{summary['coarse_resolution']}`"
        " by two-level Richardson with the formal order 2), "
        f"{summary.get('ranks', 1)} MPI rank(s), {summary.get('wall_time_s', 0):.0f} s, "
        f"contour_fem {summary.get('versions', {}).get('contour_fem', '?')}.",
        "",
        "## Calibration",
        "",
        f"Rule: {cal['rule']}. Result: k = {cal['k_per_MPa']:.4g} MPa⁻¹, best gain "
        f"{cal['best_gain']:.4g} (target {cal['target']}). Every other fact is a prediction; "
        "the default k = 0.2 MPa⁻¹ of docs/model.md §6 is shown for comparison. The scan below "
        "shows which facts hold at which k.",
        "",
        "![calibration](calibration.png)",
        "",
        "## Facts",
        "",
        "| id | statement | calibrated k | default k | margin | detail |",
        "|---|---|---|---|---|---|",
    ]
    for f in summary["facts"]:
        margin = "" if f["margin"] is None else f"{f['margin']:+.3g}"
        lines.append(f"| {f['id']} | {f['statement'].replace(chr(10), ' ')} | {_mark(f['passed'])}"
                     f" | {_mark(summary['facts_default_k'].get(f['id']))} | {margin} "
                     f"| {f['detail']} |")
    lines += ["", "![critical current](critical_current.png)", "",
              "![maxima](maxima_vs_aspect_ratio.png)", "", "![maps](interface_maps.png)", "",
              "## Samples", "",
              "| sample | area ratio | f_max primary | f_max | Δp_max (MPa) | i_crit/flat "
              "(calibrated) | i_crit/flat (k = 0.2) | hot spots apart (µm) | DOFs creep "
              "| time (s) |",
              "|---|---|---|---|---|---|---|---|---|---|"]

    def fmt(rec, key, digits=4):
        v = rec.get(key)
        if v is None:
            return "–"
        err = rec.get("error_bars", {}).get(key)
        text = f"{v:.{digits}g}"
        return text + (f" ± {err:.2g}" if err else "")

    for name, rec in summary["samples"].items():
        if rec.get("status") != "ok":
            lines.append(f"| {name} | failed: {rec.get('reason')} |||||||||")
            continue
        ndofs = rec.get("ndofs") or {}
        lines.append(
            f"| {name} | {fmt(rec, 'area_ratio', 5)} | {fmt(rec, 'primary_max_current_ratio')} "
            f"| {fmt(rec, 'max_current_ratio')} | {fmt(rec, 'max_excess_pressure_MPa')} "
            f"| {fmt(rec, RATIO)} | {fmt(rec, 'critical_current_ratio_default_k')} "
            f"| {fmt(rec, 'hotspot_distance_um', 3)} | {ndofs.get('creep', '–')} "
            f"| {rec.get('wall_time_s') or 0:.1f} |")
    if summary.get("sensitivity"):
        ids = [f["id"] for f in summary["facts"]]
        lines += ["", "## Sensitivity", "",
                  f"Each variant reruns every sample at `{summary['coarse_resolution']}` "
                  "resolution and recalibrates k by the same rule.", "",
                  "| variant | k (MPa⁻¹) | best gain | " + " | ".join(ids) + " |",
                  "|---|---|---|" + "---|" * len(ids)]
        for label, sens in summary["sensitivity"].items():
            marks = " | ".join({True: "✓", False: "✗", None: "–"}[sens["facts"].get(i)]
                               for i in ids)
            lines.append(f"| {label} | {sens['k_per_MPa']:.3g} | {sens['best_gain']:.3g} | "
                         f"{marks} |")
    failed = [f for f in summary["facts"] if f["passed"] is False]
    lines += ["", "## Not reproduced", ""]
    if failed:
        lines += [f"- **{f['id']}** ({f['statement'].replace(chr(10), ' ')}): {f['detail']}."
                  for f in failed]
        lines.append("")
        lines += _why_not_reproduced(cal)
    else:
        lines.append("Every checkable fact is reproduced with the calibrated k.")
    path = out / "report.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
