"""Mesh convergence: observed order, Richardson extrapolation and an error bar.

Given a quantity on three meshes of sizes h1 > h2 > h3, the observed order p solves
(q1 − q2)/(q2 − q3) = (h1^p − h2^p)/(h2^p − h3^p); the extrapolated value is
q∞ = q3 + (q3 − q2)/((h2/h3)^p − 1), and the error bar of the finest value is Roache's grid
convergence index with safety factor 1.25. Non-monotone sequences get no order, and their error
bar is the spread of the three values.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, replace

from scipy.optimize import brentq

from contour_fem.case import run_case
from contour_fem.core.errors import InputError
from contour_fem.core.provenance import versions
from contour_fem.core.units import MPA

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Convergence:
    """Richardson analysis of one quantity over three meshes (coarse to fine)."""

    sizes: tuple[float, float, float]
    values: tuple[float, float, float]
    order: float | None
    extrapolated: float | None
    error_bar: float  # absolute, for the finest value
    relative_error: float  # |q3 − q∞| / |q∞| (spread / |q3| when not monotone)

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
    if d12 * d23 <= 0:  # oscillatory or stalled: no asymptotic order
        return Convergence(sizes, values, None, None, spread, spread / max(abs(q3), 1e-300))
    ratio = d12 / d23

    def gap(p: float) -> float:
        return (h1**p - h2**p) / (h2**p - h3**p) - ratio

    try:
        p = brentq(gap, 1e-3, 20.0)
    except ValueError:
        return Convergence(sizes, values, None, None, spread, spread / max(abs(q3), 1e-300))
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

    Returns:
        ``{name: Convergence}`` of the three finest levels, ``"results"`` (every level's
        CaseResult) and ``"sizes_um"`` (the interface size of every level).

    """
    levels = sorted(float(v) for v in levels)
    if len(levels) < 3 or len(set(levels)) < len(levels) or levels[0] <= 0:
        raise InputError(f"convergence needs three or more distinct positive levels, got "
                         f"{levels}")
    results = []
    for level in levels:
        log.info("convergence: level %g of %s", level, levels)
        results.append(run_case(family_case(case, level), comm))
    sizes = tuple(r.cell.cell["interface_size_um"] for r in results)
    out = {name: richardson(sizes[-3:], tuple(fn(r) for r in results[-3:]))
           for name, fn in quantities.items()}
    out["values"] = {name: [fn(r) for r in results] for name, fn in quantities.items()}
    out["results"] = results
    out["sizes_um"] = sizes
    return out


#: What ``contour-fem convergence`` analyses: name → (value of a CaseResult, which degree
#: bounds its order: the potential's or the creep velocity's).
QUANTITIES = {
    "max_current_ratio": lambda r: r.current.f_max,
    "primary_max_current_ratio": lambda r: r.primary_current_ratio,
    "max_excess_pressure_MPa": lambda r: MPA.from_si(r.creep.dp_max),
    "critical_current_ratio_to_flat": lambda r: r.critical_current / r.flat.flat_current,
}


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
    record: dict = {"levels": sorted(levels), "interface_size_um": list(study["sizes_um"]),
                    "ndofs": [r.to_json()["ndofs"] for r in study["results"]],
                    "wall_time_s": [r.timings["total"] for r in study["results"]],
                    "quantities": {}, "warnings": []}
    for name in quantities:
        conv = study[name]
        entry = {**conv.as_dict(), "all_values": study["values"][name],
                 "reachable_order": reachable_order(name, case)}
        if conv.extrapolated is not None:
            entry["level_errors"] = [abs(v - conv.extrapolated) / abs(conv.extrapolated)
                                     for v in study["values"][name]]
        if conv.order is None:
            record["warnings"].append(
                f"{name}: no observed order (the values are not monotone: a maximum that moves "
                f"between nodes, or not yet asymptotic); spread {conv.relative_error:.2e}")
        elif not 0.5 <= conv.order <= entry["reachable_order"] + 0.5:
            record["warnings"].append(
                f"{name}: observed order {conv.order:.2f} is outside what the element can reach "
                f"(≤ {entry['reachable_order']:g}): the levels are pre-asymptotic, treat the "
                "extrapolation with care")
        record["quantities"][name] = entry
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
        lines.append(f"{name:34s} " + " ".join(f"{v:11.6g}" for v in c["all_values"])
                     + f" {order:>6s} {ext:>12s} {c['relative_error']:10.2e}")
    lines += [f"warning: {w}" for w in record["warnings"]]
    return "\n".join(lines)
