"""The benchmark report: Markdown with generated figures (rank 0 only, no MPI here)."""

from __future__ import annotations

from pathlib import Path

from contour_fem.io.figures import interface_maps
from contour_fem.io.files import atomic_write_text
from contour_fem.studies.experiment.figures import (
    figure_identification,
    figure_regions,
    figure_series,
    series_axes,
)
from contour_fem.studies.experiment.schema import Experiment

RATIO = "critical_current_ratio_to_flat"


def _mark(passed) -> str:
    return "n/a" if passed is None else ("pass" if passed else "**fail**")


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _percent(ident: dict, fid: str) -> str:
    return f"{100 * (ident['regions'][fid]['fraction'] or 0):.0f} %"


def _span(values: list, grid: list | None = None) -> str:
    """A set of values in a few words: a list if short, else its range and count."""
    if len(values) <= 6 or not all(isinstance(v, int | float) for v in values):
        return ", ".join(_fmt(v) for v in values)
    of = f" of {len(grid)}" if grid else ""
    return f"{_fmt(min(values))} … {_fmt(max(values))} ({len(values)}{of} values)"


def _values(values: dict) -> str:
    return ", ".join(f"`{k}` = {_fmt(v)}" for k, v in values.items()) or "the base case"


def conclusion(exp: Experiment, summary: dict) -> list[str]:
    """The result in plain words, derived from the summary (nothing hand-written per run)."""
    facts = [f for f in summary["facts"] if f["passed"] is not None]
    held = [f["id"] for f in facts if f["passed"]]
    failed = [f for f in facts if not f["passed"]]
    ident = summary["identification"]
    text = [f"With the unknowns at {_values(summary['point'])}, the model reproduces "
            f"{len(held)} of {len(facts)} checkable facts at the main level "
            f"({', '.join(held) or 'none'})."]
    never = ident.get("never_held", {}) if ident["unknowns"] else {}
    if never:
        parts = [f"{fid} (closest: margin {v['best_margin']:+.3g} at {_values(v['at'])}; "
                 f"{v['detail']})" for fid, v in never.items()]
        text.append("No point of the searched grid reproduces " + "; ".join(parts) + ".")
    other = [f for f in failed if f["id"] not in never]
    costs = ident.get("tradeoffs", {})
    for f in other if ident["unknowns"] else []:
        cost = costs.get(f["id"])
        if cost is None:
            continue
        if cost["always_lost"]:
            lost = f"always at the cost of {', '.join(cost['always_lost'])}"
        else:
            lost = f"each time at the cost of one of {', '.join(cost['lost_at_some'])}"
        text.append(f"{f['id']} holds at {_percent(ident, f['id'])} of the grid points, at "
                    f"most together with {cost['max_facts_with_it'] - 1} other facts, {lost} "
                    f"(e.g. at {_values(cost['example'])}).")
    top = ident.get("most_facts", {})
    pinned = {k: v for k, v in top.get("values", {}).items()
              if k not in {u.key for u in exp.post_unknowns} and len(v) < len(
                  ident["grid"].get(k, v))}
    if pinned:
        text.append("Holding the most facts needs " + "; ".join(
            f"`{k}` ∈ {{{_span(v)}}}" for k, v in pinned.items()) + " (of the values searched).")
    changed = [fid for fid, ok in summary.get("facts_coarse", {}).items()
               if ok is not None and ok != next((f["passed"] for f in summary["facts"]
                                                 if f["id"] == fid), None)]
    if changed:
        text.append("Verdicts that differ between the coarse and the main level (they rest on "
                    "differences near the mesh error): " + ", ".join(changed) + ".")
    return [" ".join(text)]


def _identification(exp: Experiment, summary: dict, figures: bool) -> list[str]:
    ident = summary["identification"]
    if not ident["unknowns"]:
        return ["## Identification", "", "No unknowns were searched: the facts are judged at the "
                "base case (k and the other parameters as configured).", ""]
    best, top = ident["best"], ident["most_facts"]
    lines = ["## Identification", "",
             f"Unknowns: {', '.join(f'`{k}`' for k in ident['unknowns']) or 'none'}; "
             f"{len([p for p in ident['points'] if not p.get('refined')])} grid points "
             f"(identification level: {summary['levels']['identification']}). Objective: "
             f"{ident['objective']}.", "",
             f"Best point: {_values(best['values'])}: {best['n_passed']} facts held "
             f"({', '.join(best['passed']) or 'none'})"
             + ("" if best["misfit"] is None else f", misfit {best['misfit']:.4g}") + ".", "",
             f"{top['count']} points hold the most facts ({top['n_passed']}); they span "
             + "; ".join(f"`{k}` ∈ {{{_span(vals, ident['grid'].get(k))}}}"
                         for k, vals in top["values"].items()) + ".", ""]
    if figures:
        lines += ["![facts held](identification.png)", "", "![regions](regions.png)", ""]
    lines += ["| fact | held at (fraction of points) | values where it holds |", "|---|---|---|"]
    for fid, reg in ident["regions"].items():
        if reg["fraction"] is None:
            continue
        where = "; ".join(f"`{k}`: {_span(vals, ident['grid'].get(k))}"
                          for k, vals in reg["values"].items() if vals)
        lines.append(f"| {fid} | {100 * reg['fraction']:.0f} % | {where or '–'} |")
    if ident["holdout"]:
        lines += ["", "### Hold-out", "",
                  "Each split identifies the unknowns on its `fit` facts alone and predicts the "
                  "others at that point.", "",
                  "| split | identified at | fit held | predicted held |", "|---|---|---|---|"]
        for name, h in ident["holdout"].items():
            lines.append(f"| {name} | {_values(h['values'])} | {len(h['fit_passed'])}/"
                         f"{h['n_fit']} ({', '.join(h['fit_passed']) or '–'}) | "
                         f"{len(h['predict_passed'])}/{h['n_predict']} "
                         f"({', '.join(h['predict_passed']) or '–'}) |")
    return [*lines, ""]


def _samples(summary: dict) -> list[str]:
    lines = ["## Samples at the identified point (main level)", "",
             "| sample | area ratio | f_max primary | f_max | Δp_max (MPa) | i_crit/flat | "
             "hot spots apart (µm) | DOFs creep | time (s) |", "|---" * 9 + "|"]

    def fmt(rec, key, digits=4):
        v = rec.get(key)
        if v is None:
            return "–"
        err = rec.get("error_bars", {}).get(key)
        return f"{v:.{digits}g}" + (f" ± {err:.2g}" if err else "")

    for name, rec in summary["samples"].items():
        if rec.get("status") != "ok":
            lines.append(f"| {name} | failed: {rec.get('reason')} ||||||||")
            continue
        lines.append(
            f"| {name} | {fmt(rec, 'area_ratio', 5)} | {fmt(rec, 'primary_max_current_ratio')} "
            f"| {fmt(rec, 'max_current_ratio')} | {fmt(rec, 'max_excess_pressure_MPa')} "
            f"| {fmt(rec, RATIO)} | {fmt(rec, 'hotspot_distance_um', 3)} "
            f"| {(rec.get('ndofs') or {}).get('creep', '–')} | {rec.get('wall_time_s') or 0:.1f} |")
    return [*lines, ""]


def write_report(out: Path, exp: Experiment, summary: dict, tables: dict | None = None) -> Path:
    """Write ``report.md`` and its figures into ``out``; returns the report path.

    Args:
        out: The benchmark folder.
        exp: The experiment.
        summary: ``summary.json`` content.
        tables: Interface tables of the main-level samples (for the interface maps).

    """
    out = Path(out)
    figure_series(exp, summary, out / "series.png")
    have_ident = figure_identification(exp, summary["identification"],
                                       out / "identification.png") is not None
    if have_ident:
        figure_regions(exp, summary["identification"], out / "regions.png")
    maps = next((names for _, names, key in series_axes(exp) if key is None), None)
    if tables and maps:
        interface_maps({s: tables[s] for s in maps if s in tables}, out / "interface_maps.png",
                       title="Interface fields at i_ref (identified point, main level)")
    lines = [f"# Benchmark {exp.name}: model against the experiment", "",
             f"*Experiment:* {exp.citation}", "", f"*Conditions:* {exp.conditions}", "",
             f"Main level: resolution `{summary['levels']['main']['resolution']}`, creep degree "
             f"{summary['levels']['main']['creep_degree']}; error bars: {summary['error_bars']} "
             f"(coarse level: refinement × {summary['levels']['coarse']['refinement']:.3g}). "
             f"{summary.get('ranks', 1)} MPI rank(s), {summary.get('wall_time_s', 0):.0f} s, "
             f"contour_fem {summary.get('versions', {}).get('contour_fem', '?')}.", "",
             "## Conclusion", "", *conclusion(exp, summary), ""]
    lines += _identification(exp, summary, have_ident)
    lines += ["## Facts at the identified point", "",
              "| id | statement | main | coarse | margin | detail |", "|---|---|---|---|---|---|"]
    for f in summary["facts"]:
        margin = "" if f["margin"] is None else f"{f['margin']:+.3g}"
        lines.append(f"| {f['id']} | {f['statement'].replace(chr(10), ' ')} | "
                     f"{_mark(f['passed'])} | {_mark(summary['facts_coarse'].get(f['id']))} | "
                     f"{margin} | {f['detail']} |")
    lines.append("")
    if (out / "series.png").exists():
        lines += ["![series](series.png)", ""]
    if (out / "interface_maps.png").exists():
        lines += ["![maps](interface_maps.png)", ""]
    if summary["measurements"]:
        lines += ["## Measurements", "", "| sample | quantity | measured | model |",
                  "|---|---|---|---|"]
        lines += [f"| {m['sample']} | {m['quantity']} | {m['value']:.4g} ± {m['uncertainty']:.2g}"
                  f" | {_fmt(m['model'])} |" for m in summary["measurements"]]
        lines.append("")
    lines += _samples(summary)
    if summary.get("sensitivity"):
        ids = [f["id"] for f in summary["facts"]]
        lines += ["## Sensitivity", "",
                  "Each row reruns its samples on the coarse level at the identified point; "
                  "✓/✗ per fact, and the facts whose verdict changes against the coarse level.",
                  "", "| variant | " + " | ".join(ids) + " | changed |",
                  "|---|" + "---|" * (len(ids) + 1)]
        for label, sens in summary["sensitivity"].items():
            marks = " | ".join({True: "✓", False: "✗", None: "–"}[sens["facts"].get(i)]
                               for i in ids)
            lines.append(f"| {label} | {marks} | {', '.join(sens['changed']) or '–'} |")
        lines.append("")
    path = out / "report.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
