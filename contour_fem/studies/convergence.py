"""Mesh convergence: observed order, Richardson extrapolation and an error bar.

Given a quantity on three meshes of sizes h1 > h2 > h3, the observed order p solves
(q1 − q2)/(q2 − q3) = (h1^p − h2^p)/(h2^p − h3^p); the extrapolated value is
q∞ = q3 + (q3 − q2)/((h2/h3)^p − 1), and the error bar of the finest value is Roache's grid
convergence index with safety factor 1.25. Non-monotone sequences get no order, and their error
bar is the spread of the three values.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from scipy.optimize import brentq

from contour_fem.case import run_case
from contour_fem.core.provenance import versions
from contour_fem.core.units import MPA


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


def mesh_study(case, comm, quantities, resolutions=("coarse", "medium", "fine")) -> dict:
    """Run ``case`` at three mesh resolutions and analyse each quantity.

    Args:
        case: A :class:`~contour_fem.case.Case`.
        comm: Communicator.
        quantities: Mapping name → callable(CaseResult) → float.
        resolutions: Three preset names, coarse to fine.

    Returns:
        ``{name: Convergence}`` plus ``"results"`` (the three CaseResults).

    """
    results = []
    for res in resolutions:
        sub = replace(case, cell=replace(case.cell, resolution=res, interface_size=None))
        results.append(run_case(sub, comm))
    sizes = tuple(r.cell.cell["interface_size_um"] for r in results)
    out = {name: richardson(sizes, tuple(fn(r) for r in results))
           for name, fn in quantities.items()}
    out["results"] = results
    return out


#: What ``contour-fem convergence`` analyses: name → value of a CaseResult.
QUANTITIES = {
    "max_current_ratio": lambda r: r.current.f_max,
    "max_excess_pressure_MPa": lambda r: MPA.from_si(r.creep.dp_max),
    "critical_current_ratio_to_flat": lambda r: r.critical_current / r.flat.flat_current,
}


def study_record(case, comm) -> dict:
    """Run the study of :data:`QUANTITIES` and return its JSON record (collective)."""
    study = mesh_study(case, comm, QUANTITIES)
    record = {name: study[name].as_dict() for name in QUANTITIES}
    record["resolutions"] = ["coarse", "medium", "fine"]
    record["ndofs"] = [r.to_json()["ndofs"] for r in study["results"]]
    record["versions"] = versions()
    return record


def format_table(record: dict) -> str:
    """The study as a plain-text table."""
    levels = record["resolutions"]
    lines = [f"{'quantity':34s} " + " ".join(f"{n:>10s}" for n in levels)
             + f" {'order':>6s} {'extrapolated':>12s} {'rel. error':>10s}"]
    for name in QUANTITIES:
        c = record[name]
        order = "-" if c["order"] is None else f"{c['order']:.2f}"
        ext = "-" if c["extrapolated"] is None else f"{c['extrapolated']:.5g}"
        lines.append(f"{name:34s} " + " ".join(f"{v:10.5g}" for v in c["values"])
                     + f" {order:>6s} {ext:>12s} {c['relative_error']:10.2e}")
    return "\n".join(lines)
