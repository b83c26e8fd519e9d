"""Mesh convergence: observed order, Richardson extrapolation and an error bar.

Given a quantity on three meshes of sizes h1 > h2 > h3, the observed order p solves
(q1 − q2)/(q2 − q3) = (h1^p − h2^p)/(h2^p − h3^p); the extrapolated value is
q∞ = q3 + (q3 − q2)/((h2/h3)^p − 1), and the error bar of the finest value is Roache's grid
convergence index with safety factor 1.25. A sequence gets no order when it is not monotone, or
when it is monotone but its increments do not shrink as a converging one's would (order ≤ 0:
diverging, or far from asymptotic); its error bar is then the spread of the three values.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, replace

from scipy.optimize import brentq

from contour_fem.case import run_case
from contour_fem.core.errors import ContourFemError, InputError, one_line
from contour_fem.core.provenance import versions
from contour_fem.core.units import MPA, UM
from contour_fem.studies.peaks import PEAK_SEPARATION, follow_maxima

log = logging.getLogger(__name__)


#: Why a sequence of three values has no observed order, and what that means for the user.
NO_ORDER = {
    "not_monotone": "the values are not monotone: a maximum that moves between nodes, or not "
                    "yet asymptotic",
    "not_shrinking": "the values are monotone but their increments do not shrink as a "
                     "converging sequence's would (order ≤ 0): diverging, or far from asymptotic",
    "too_fast": "the increments shrink faster than any order up to 20: the values have "
                "stalled at round-off, or the levels are pre-asymptotic",
}


@dataclass(frozen=True)
class Convergence:
    """Richardson analysis of one quantity over three meshes (coarse to fine)."""

    sizes: tuple[float, float, float]
    values: tuple[float, float, float]
    order: float | None
    extrapolated: float | None
    error_bar: float  # absolute, for the finest value
    relative_error: float  # |q3 − q∞| / |q∞| (spread / |q3| without an order)
    #: Why there is no order: one of :data:`NO_ORDER` (None when there is one).
    no_order: str | None = None

    def as_dict(self) -> dict:
        """JSON-friendly record."""
        return asdict(self)


def richardson(sizes: tuple[float, float, float], values: tuple[float, float, float],
               safety: float = 1.25) -> Convergence:
    """Observed order and extrapolation from three (size, value) pairs, coarse to fine."""
    h1, h2, h3 = sizes
    q1, q2, q3 = values
    if not h1 > h2 > h3 > 0:
        raise ValueError("sizes must decrease strictly: coarse, medium, fine")
    d12, d23 = q1 - q2, q2 - q3
    spread = max(values) - min(values)
    if d23 == 0 and d12 == 0:
        return Convergence(sizes, values, math.inf, q3, 0.0, 0.0)
    rel_spread = spread / max(abs(q3), 1e-300)
    if d12 * d23 <= 0:  # oscillatory or stalled: no asymptotic order
        return Convergence(sizes, values, None, None, spread, rel_spread, "not_monotone")
    ratio = d12 / d23

    def gap(p: float) -> float:
        return (h1**p - h2**p) / (h2**p - h3**p) - ratio

    p_lo, p_hi = 1e-3, 20.0
    if gap(p_lo) * gap(p_hi) > 0:
        # gap grows with p: below its p → 0 limit the increments shrink too slowly.
        reason = "not_shrinking" if gap(p_lo) > 0 else "too_fast"
        return Convergence(sizes, values, None, None, spread, rel_spread, reason)
    p = brentq(gap, p_lo, p_hi)
    r = h2 / h3
    q_inf = q3 + (q3 - q2) / (r**p - 1.0)
    err = safety * abs(q3 - q_inf)
    return Convergence(sizes, values, p, q_inf, err, abs(q3 - q_inf) / max(abs(q_inf), 1e-300))


#: Refinement levels of ``contour-fem convergence`` by default: one coarser, the case, one finer.
DEFAULT_LEVELS = (2.0 / 3.0, 1.0, 1.5)


def family_case(case, level: float):
    """``case`` with every mesh size of its family divided by ``level`` (same element)."""
    return replace(case, cell=replace(case.cell, refinement=case.cell.refinement * level))


def mesh_study(case, comm, quantities, levels=DEFAULT_LEVELS) -> dict:
    """Run ``case`` on refinements of its own mesh family and analyse each quantity.

    Every size of the case's family (its resolution preset, or its own sizes) is divided by
    each level, so the meshes are one family and the element is the case's.

    Args:
        case: A :class:`~contour_fem.case.Case`.
        comm: Communicator.
        quantities: Mapping name → callable(CaseResult) → float.
        levels: Refinement factors, coarse to fine (at least three).

    A level that fails (a solver that does not converge, a mesh above ``mesh.max_cells``) is
    logged and recorded, and the study goes on: the analysis uses the three finest levels that
    were solved.

    Returns:
        ``{name: Convergence}`` of the three finest solved levels (None for each name when
        fewer than three were solved), ``"levels"`` and ``"results"`` (every solved level and
        its CaseResult), ``"sizes_um"`` (their interface sizes) and ``"failed"`` (one
        ``{"level", "type", "reason"}`` per failed level).

    """
    levels = sorted(float(v) for v in levels)
    if len(levels) < 3 or len(set(levels)) < len(levels) or levels[0] <= 0:
        raise InputError(f"convergence needs three or more distinct positive levels, got "
                         f"{levels}")
    solved, results, failed = [], [], []
    for level in levels:
        log.info("convergence: level %g of %s", level, levels)
        result, error = None, None
        try:
            result = run_case(family_case(case, level), comm)
        except ContourFemError as exc:  # not programming errors: those propagate
            error = {"level": level, "type": type(exc).__name__, "reason": one_line(exc)}
        # A failure on any rank fails the level on every rank (the lowest rank's report).
        error = next((e for e in comm.allgather(error) if e is not None), None)
        if error is not None:
            log.warning("convergence: level %g failed (%s): %s; going on", level,
                        error["type"], error["reason"])
            failed.append(error)
            continue
        solved.append(level)
        results.append(result)
    sizes = tuple(r.cell.cell["interface_size_um"] for r in results)
    out = {name: richardson(sizes[-3:], tuple(fn(r) for r in results[-3:]))
           if len(results) >= 3 else None for name, fn in quantities.items()}
    out["values"] = {name: [fn(r) for r in results] for name, fn in quantities.items()}
    out["levels"] = solved
    out["results"] = results
    out["sizes_um"] = sizes
    out["failed"] = failed
    return out


#: What ``contour-fem convergence`` analyses: name → (value of a CaseResult, which degree
#: bounds its order: the potential's or the creep velocity's).
QUANTITIES = {
    "max_current_ratio": lambda r: r.current.f_max,
    "primary_max_current_ratio": lambda r: r.primary_current_ratio,
    "max_excess_pressure_MPa": lambda r: MPA.from_si(r.creep.dp_max),
    "critical_current_ratio_to_flat": lambda r: r.critical_current / r.flat.flat_current,
}


#: Quantities that are maxima of an interface column: name → column. Their local maxima get
#: sequences of their own (:mod:`~contour_fem.studies.peaks`).
MAXIMUM_OF = {"max_current_ratio": "current_ratio",
              "max_excess_pressure_MPa": "excess_pressure_MPa"}


def local_maxima_record(case, results, name: str) -> list[dict]:
    """Each local maximum of ``name``'s column followed over the solved levels, analysed.

    Returns one entry per local maximum (largest first): its location, values and, over the
    three finest levels, its :class:`Convergence` fields.
    """
    separation = UM.from_si(PEAK_SEPARATION * case.topography.period)
    tables = [r.interface for r in results]
    out = []
    for seq in follow_maxima(tables, MAXIMUM_OF[name], separation):
        entry = {"location_um": seq["location_um"], "all_values": seq["values"],
                 "holds_max": seq["holds_max"]}
        if len(results) >= 3:
            sizes = tuple(r.cell.cell["interface_size_um"] for r in results[-3:])
            entry.update(richardson(sizes, tuple(seq["values"][-3:])).as_dict())
        out.append(entry)
    return out


def moving_maximum(name: str, levels: list[float], peaks: list[dict]) -> str | None:
    """A warning when the maximum sits at different local maxima on the three finest levels."""
    holder = [next((k for k, p in enumerate(peaks) if p["holds_max"][i]), None)
              for i in range(len(levels))]
    if len(set(holder[-3:])) < 2:
        return None
    where = ", ".join(f"×{lev:.3g} at ({peaks[k]['location_um'][0]:.4g}, "
                      f"{peaks[k]['location_um'][1]:.4g}) µm" if k is not None
                      else f"×{lev:.3g} elsewhere" for lev, k in zip(levels, holder, strict=True))
    return (f"{name}: the maximum moves between local maxima ({where}); its sequence mixes "
            "them, so read each local maximum's own sequence")


def reachable_order(name: str, case) -> float:
    """The largest observed order the element can give for a quantity.

    Maxima of nodal values: the degree + 1 of the field they come from.
    """
    sol = case.solver
    return float((sol.current_degree if "current" in name and "critical" not in name
                  else sol.creep_degree) + 1)


def study_record(case, comm, levels=DEFAULT_LEVELS) -> dict:
    """Run the study of :data:`QUANTITIES` and return its JSON record (collective)."""
    quantities = dict(QUANTITIES)
    if case.kinetics.primary or not case.solver.primary_reference:
        quantities.pop("primary_max_current_ratio")
    study = mesh_study(case, comm, quantities, levels)
    record: dict = {"levels": study["levels"], "levels_asked": sorted(levels),
                    "failed_levels": study["failed"],
                    "interface_size_um": list(study["sizes_um"]),
                    "ndofs": [r.to_json()["ndofs"] for r in study["results"]],
                    "wall_time_s": [r.timings["total"] for r in study["results"]],
                    "quantities": {}, "warnings": []}
    record["warnings"] += [f"level ×{f['level']:g} failed ({f['type']}): {f['reason']}"
                           for f in study["failed"]]
    if len(study["results"]) < 3:
        record["warnings"].append(f"only {len(study['results'])} of {len(levels)} levels were "
                                  "solved: no observed order or extrapolation")
    for name in quantities:
        conv = study[name]
        if conv is None:
            record["quantities"][name] = {"all_values": study["values"][name], "order": None,
                                          "extrapolated": None, "relative_error": None,
                                          "reachable_order": reachable_order(name, case)}
            continue
        entry = {**conv.as_dict(), "all_values": study["values"][name],
                 "reachable_order": reachable_order(name, case)}
        if conv.extrapolated is not None:
            entry["level_errors"] = [abs(v - conv.extrapolated) / abs(conv.extrapolated)
                                     for v in study["values"][name]]
        if conv.order is None:
            record["warnings"].append(
                f"{name}: no observed order ({NO_ORDER[conv.no_order]}); spread "
                f"{conv.relative_error:.2e}")
        elif not 0.5 <= conv.order <= entry["reachable_order"] + 0.5:
            record["warnings"].append(
                f"{name}: observed order {conv.order:.2f} is outside what the element can reach "
                f"(≤ {entry['reachable_order']:g}): the levels are pre-asymptotic, treat the "
                "extrapolation with care")
        record["quantities"][name] = entry
    for name in MAXIMUM_OF.keys() & quantities.keys():
        peaks = local_maxima_record(case, study["results"], name)
        record["quantities"][name]["local_maxima"] = peaks
        moved = moving_maximum(name, study["levels"], peaks)
        record["warnings"] += [moved] if moved else []
    record["versions"] = versions()
    return record


def format_table(record: dict) -> str:
    """The study as a plain-text table (values per level, order, extrapolation, error)."""
    levels = record["levels"]
    head = " ".join(f"{'×' + format(v, '.3g'):>11s}" for v in levels)
    lines = [f"{'interface size (µm)':34s} " + " ".join(f"{v:11.4g}" for v in
                                                        record["interface_size_um"]),
             f"{'creep DOFs':34s} " + " ".join(f"{n['creep']:11d}" for n in record["ndofs"]),
             f"{'quantity':34s} {head} {'order':>6s} {'extrapolated':>12s} {'finest err':>10s}"]
    for name, c in record["quantities"].items():
        order = "-" if c["order"] is None else f"{c['order']:.2f}"
        ext = "-" if c["extrapolated"] is None else f"{c['extrapolated']:.6g}"
        err = "-" if c["relative_error"] is None else f"{c['relative_error']:.2e}"
        lines.append(f"{name:34s} " + " ".join(f"{v:11.6g}" for v in c["all_values"])
                     + f" {order:>6s} {ext:>12s} {err:>10s}")
        peaks = c.get("local_maxima", [])
        for p in peaks if len(peaks) > 1 else []:
            order = "-" if p.get("order") is None else f"{p['order']:.2f}"
            ext = "-" if p.get("extrapolated") is None else f"{p['extrapolated']:.6g}"
            err = "-" if p.get("relative_error") is None else f"{p['relative_error']:.2e}"
            label = f"  local max at ({p['location_um'][0]:.4g}, {p['location_um'][1]:.4g})"
            lines.append(f"{label:34s} " + " ".join(f"{v:11.6g}" for v in p["all_values"])
                         + f" {order:>6s} {ext:>12s} {err:>10s}")
    lines += [f"warning: {w}" for w in record["warnings"]]
    return "\n".join(lines)
