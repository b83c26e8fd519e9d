"""Facts (machine-checkable statements about computed numbers) and the misfit of measurements.

A fact holds with a *margin*: a signed number, > 0 when it holds, whose size says by how much
(relative steps for trends, distance to a tolerance for targets). Records are result records
(``result.json``) by sample name; a fact whose samples lack a result is not judged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Result keys a fact or measurement may name (``result.json``); the first depends on the
#: criterion constants and is re-evaluated at each identification point.
QUANTITIES = ("critical_current_ratio_to_flat", "max_current_ratio", "primary_max_current_ratio",
              "max_excess_pressure_MPa", "min_excess_pressure_MPa", "hotspot_distance_um",
              "coupling_current_change", "area_ratio", "wagner_number")

#: kind → (required keys, optional keys) besides id, kind, statement, source.
FACT_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "max_of": (("quantity", "samples", "expect"), ()),
    "closer_than": (("quantity", "reference", "samples"), ()),
    "monotone": (("quantity", "samples", "direction"), ()),
    "rise_then_fall": (("quantity", "samples"), ()),
    "approx": (("quantity", "samples", "target", "tolerance"), ()),
    "equal": (("quantity", "samples", "tolerance"), ()),
    "coincide": (("quantity", "samples", "tolerance"), ()),
    "below": (("quantity", "samples", "threshold"), ()),
    "not_checkable": ((), ()),
}


@dataclass
class FactResult:
    """Outcome of one fact: ``passed`` is None when it could not be judged."""

    id: str
    statement: str
    kind: str
    passed: bool | None
    margin: float | None
    detail: str
    values: dict = field(default_factory=dict)


def _value(record: dict, key: str) -> float | None:
    v = record.get(key)
    return None if v is None else float(v)


def evaluate_fact(fact: dict, records: dict[str, dict]) -> FactResult:
    """Check one fact against the sample records; the margin is > 0 when it holds."""
    kind, q = fact["kind"], fact.get("quantity")
    names = fact.get("samples", [])

    def unjudged(detail: str) -> FactResult:
        return FactResult(fact["id"], fact["statement"], kind, None, None, detail)

    if kind == "not_checkable":
        return unjudged("not checkable")
    missing = [s for s in names if records.get(s, {}).get("status") != "ok"]
    if missing:  # not evaluated: a failed or skipped case is reported, not judged
        return unjudged(f"not evaluated, missing results: {', '.join(missing)}")
    undefined = [s for s in names if _value(records[s], q) is None]
    if undefined:
        return unjudged(f"not evaluated, {q} undefined for {', '.join(undefined)}")
    v = np.array([_value(records[s], q) for s in names])
    values = dict(zip(names, v.tolist(), strict=True))
    margin, detail = _judge(fact, records, names, v, values)
    return FactResult(fact["id"], fact["statement"], kind, bool(margin > 0), float(margin),
                      detail, values)


def _judge(fact, records, names, v, values) -> tuple[float, str]:
    kind, q = fact["kind"], fact["quantity"]
    if kind == "max_of":
        others = [x for s, x in values.items() if s != fact["expect"]]
        best = max(others)
        margin = (values[fact["expect"]] - best) / max(abs(best), 1e-300)
        return margin, f"{fact['expect']} {values[fact['expect']]:.4g} vs best other {best:.4g}"
    if kind == "closer_than":
        ref = np.array([_value(records[s], fact["reference"]) or math.nan for s in names])
        with np.errstate(divide="ignore", invalid="ignore"):
            spread_q, spread_r = abs(math.log(v[0] / v[1])), abs(math.log(ref[0] / ref[1]))
        margin = (spread_r - spread_q) / spread_r if spread_r > 0 else -math.inf
        return margin, (f"|log ratio| {spread_q:.3g} in {q} vs {spread_r:.3g} in "
                        f"{fact['reference']}")
    if kind == "monotone":
        sign = 1.0 if fact["direction"] == "increasing" else -1.0
        steps = sign * np.diff(v) / np.maximum(np.abs(v[:-1]), 1e-300)
        margin = float(steps.min())
        return margin, f"smallest relative step in the {fact['direction']} direction {margin:+.3g}"
    if kind == "rise_then_fall":
        k = 1 + int(np.argmax(v[1:-1]))
        margin = float(min(v[k] - v[0], v[k] - v[-1]) / max(abs(v[k]), 1e-300))
        return margin, f"interior peak at {names[k]}: {v[k]:.4g} (ends {v[0]:.4g}, {v[-1]:.4g})"
    if kind == "approx":
        best = float(v.max())
        margin = fact["tolerance"] - abs(best - fact["target"])
        return margin, (f"best {best:.4g} at {names[int(np.argmax(v))]}, target "
                        f"{fact['target']} ± {fact['tolerance']}")
    if kind == "equal":
        spread = float((v.max() - v.min()) / max(np.mean(np.abs(v)), 1e-300))
        return fact["tolerance"] - spread, (f"relative spread {spread:.3g} (tolerance "
                                            f"{fact['tolerance']})")
    if kind == "coincide":
        rel = np.array([values[s] / float(records[s]["separation_um"]) for s in names])
        return fact["tolerance"] - float(rel.max()), (
            f"largest distance {rel.max():.3g} S ({names[int(np.argmax(rel))]})")
    if kind == "below":
        return float((fact["threshold"] - v.max()) / fact["threshold"]), (
            f"largest {v.max():.4g} (threshold {fact['threshold']})")
    raise ValueError(f"unknown fact kind {kind!r}")  # the schema admits none


def misfit(measurements: list[dict], records: dict[str, dict]) -> float | None:
    """Σ((model − value)/uncertainty)² over the measurements.

    None without measurements; inf when a measured sample has no result.
    """
    if not measurements:
        return None
    total = 0.0
    for m in measurements:
        rec = records.get(m["sample"], {})
        v = _value(rec, m["quantity"]) if rec.get("status") == "ok" else None
        if v is None or not math.isfinite(v):
            return math.inf
        total += ((v - m["value"]) / m["uncertainty"]) ** 2
    return total
