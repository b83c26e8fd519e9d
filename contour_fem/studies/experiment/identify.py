"""Identification: which values of the unknowns are consistent with an experiment.

The unknowns span a grid. *Field* unknowns (interfacial resistance, creep law, slip …) change
the computed fields: each grid value is a set of solved cases (one per sample). *Post* unknowns
(the criterion constant k and the growth exponent m) change no field: the critical current of a
sample is re-evaluated from its stored interface table at each value (docs/model.md §5.3).

Every point gets each fact's verdict and margin and the misfit of the measurements. Points are
ranked by the documented objective (docs/experiments.md): most facts held, then the smallest
misfit, then the largest smallest margin of the facts held.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from contour_fem.physics.criterion import critical_ratio
from contour_fem.studies.experiment.facts import FactResult, evaluate_fact, misfit
from contour_fem.studies.experiment.schema import Experiment, Unknown

RATIO = "critical_current_ratio_to_flat"
K_KEY, M_KEY = "criterion.k_per_MPa", "criterion.growth_exponent"
#: Rounds and points of the local search of continuous post unknowns around the best point.
REFINE_ROUNDS, REFINE_POINTS = 2, 21


@dataclass
class Point:
    """One point of the unknowns with its verdicts."""

    values: dict[str, Any]
    facts: list[FactResult]
    misfit: float | None
    refined: bool = False

    def held(self, ids: set[str] | None = None) -> list[str]:
        """Ids of the facts that hold (among ``ids``)."""
        return [f.id for f in self.facts if f.passed and (ids is None or f.id in ids)]

    def rank(self, ids: set[str] | None = None) -> tuple[float, float, float]:
        """Sort key of the objective (smaller is better)."""
        held = [f for f in self.facts if f.passed and (ids is None or f.id in ids)]
        worst = min((f.margin for f in held), default=-math.inf)
        return (-len(held), math.inf if self.misfit is None else self.misfit, -worst)

    def record(self, ids: set[str] | None = None) -> dict:
        """The ``summary.json`` entry: values, facts held, their number and the misfit."""
        held = self.held(ids)
        return {"values": self.values, "passed": held, "n_passed": len(held),
                "misfit": self.misfit, **({"refined": True} if self.refined else {})}


@dataclass
class FieldRecords:
    """The solved samples at one value of the field unknowns."""

    values: dict[str, Any]
    records: dict[str, dict]  # sample → result record (with ``interface`` table when solved)
    exponent: float  # creep exponent n of these cases
    k: float  # the cases' own criterion constant, 1/MPa (used when k is not an unknown)
    m: float | None  # the cases' own growth exponent (None: n)
    fronts: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def __post_init__(self):
        for name, rec in self.records.items():
            if rec.get("status") == "ok" and "interface" in rec:
                tab = rec["interface"]
                self.fronts[name] = pareto_front(tab["current_ratio"],
                                                 tab["excess_pressure_MPa"])


def pareto_front(f: np.ndarray, dp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points not dominated in (f, Δp): no other point has both a larger f and a larger Δp.

    The critical current decreases in f and in Δp (for k ≥ 0), so its minimum over the
    interface is reached on this front, for every k, m and n.
    """
    f, dp = np.asarray(f, dtype=float), np.asarray(dp, dtype=float)
    order = np.lexsort((-dp, -f))  # f descending, then Δp descending
    keep, best = [], -np.inf
    for i in order:
        if dp[i] > best:
            keep.append(i)
            best = dp[i]
    idx = np.array(keep, dtype=int)
    return f[idx], dp[idx]


def ratio_at(front: tuple[np.ndarray, np.ndarray], k_per_mpa: float, m: float,
             n: float) -> float:
    """Critical current over flat of one sample at criterion constants k (1/MPa) and m."""
    f, dp = front
    if f.size == 0:
        return math.nan
    return float(np.min(critical_ratio(f, k_per_mpa * dp, m, n)))


def _views(fr: FieldRecords, post: dict[str, Any]) -> dict[str, dict]:
    """Records with the critical current re-evaluated at the post values."""
    k = float(post.get(K_KEY, fr.k))
    m = post.get(M_KEY, fr.m)
    m = fr.exponent if m is None else float(m)
    out = {}
    for name, rec in fr.records.items():
        if name in fr.fronts:
            rec = {**rec, RATIO: ratio_at(fr.fronts[name], k, m, fr.exponent)}
        out[name] = rec
    return out


def evaluate_point(exp: Experiment, fr: FieldRecords, post: dict[str, Any],
                   facts: list[dict] | None = None) -> Point:
    """Verdicts of ``facts`` (default: all) and the misfit at one point."""
    views = _views(fr, post)
    results = [evaluate_fact(f, views) for f in (exp.facts if facts is None else facts)]
    return Point({**fr.values, **post}, results, misfit(exp.measurements, views))


def _post_grid(unknowns: list[Unknown]) -> list[dict[str, Any]]:
    keys = [u.key for u in unknowns]
    return [dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(u.values for u in unknowns))]


def field_grid(exp: Experiment) -> list[dict[str, Any]]:
    """Every combination of the field unknowns' values ([{}] without field unknowns)."""
    return _post_grid(exp.field_unknowns)


def search(exp: Experiment, fields: list[FieldRecords]) -> list[Point]:
    """Every grid point, then a local search of continuous post unknowns around the best."""
    posts = _post_grid(exp.post_unknowns)
    points = [evaluate_point(exp, fr, post) for fr in fields for post in posts]
    continuous = [u for u in exp.post_unknowns if u.continuous]
    if not points or not continuous:
        return points
    best = min(points, key=Point.rank)
    fr = next(f for f in fields if all(best.values[k] == v for k, v in f.values.items()))
    for u in continuous:
        grid = np.array(u.values, dtype=float)
        value = float(best.values[u.key])
        for _ in range(REFINE_ROUNDS):
            i = int(np.argmin(np.abs(grid - value)))
            lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
            grid = (np.geomspace(lo, hi, REFINE_POINTS) if lo > 0
                    else np.linspace(lo, hi, REFINE_POINTS))
            post = {p.key: best.values[p.key] for p in exp.post_unknowns}
            trial = []
            for v in grid:
                p = evaluate_point(exp, fr, {**post, u.key: float(f"{v:.10g}")})
                p.refined = True
                trial.append(p)
            points.extend(trial)
            best = min([best, *trial], key=Point.rank)
            value = float(best.values[u.key])
    return points


def best_of(points: list[Point], ids: set[str] | None = None) -> Point:
    """The best point by the objective, judged on the facts ``ids`` (default: all)."""
    return min(points, key=lambda p: p.rank(ids))


def regions(exp: Experiment, points: list[Point]) -> dict[str, dict]:
    """Per fact: the fraction of grid points where it holds and the values there."""
    out = {}
    keys = [u.key for u in exp.unknowns]
    grid = [p for p in points if not p.refined]
    for fact in exp.facts:
        held = [p for p in grid if fact["id"] in p.held()]
        judged = [p for p in grid if _result(p, fact["id"]).passed is not None]
        out[fact["id"]] = {
            "fraction": len(held) / len(judged) if judged else None,
            "values": {k: sorted({p.values[k] for p in held}, key=_sort_key) for k in keys},
        }
    return out


def _sort_key(v: Any) -> tuple:
    return (0, v, "") if isinstance(v, int | float) else (1, 0, str(v))


def _result(point: Point, fid: str) -> FactResult:
    return next(f for f in point.facts if f.id == fid)


def explain(exp: Experiment, points: list[Point]) -> dict[str, dict]:
    """For each fact no point holds: the closest any point comes, where, and in what numbers."""
    out = {}
    for fact in exp.facts:
        judged = [p for p in points if _result(p, fact["id"]).margin is not None]
        if not judged or any(_result(p, fact["id"]).passed for p in judged):
            continue
        closest = max(judged, key=lambda p: _result(p, fact["id"]).margin)
        res = _result(closest, fact["id"])
        out[fact["id"]] = {"best_margin": res.margin, "at": closest.values,
                           "detail": res.detail}
    return out


def tradeoffs(exp: Experiment, points: list[Point], best: Point) -> dict[str, dict]:
    """For each fact the best point does not hold: what holding it costs.

    Among the points that hold it, the most facts held and the facts of the best point that none
    of those points holds (the facts it cannot be had together with).
    """
    out = {}
    best_held = set(best.held())
    for fact in exp.facts:
        fid = fact["id"]
        if fid in best_held:
            continue
        holding = [p for p in points if fid in p.held()]
        if not holding:
            continue
        top = max(len(p.held()) for p in holding)
        tops = [p for p in holding if len(p.held()) == top]
        # The best point's facts that no point holding this one (with the most facts) holds.
        always = sorted(f for f in best_held if all(f not in p.held() for p in tops))
        some = sorted(f for f in best_held if any(f not in p.held() for p in tops))
        out[fid] = {"max_facts_with_it": top, "points": len(tops), "always_lost": always,
                    "lost_at_some": some, "example": tops[0].values}
    return out


def most_facts(exp: Experiment, points: list[Point]) -> dict:
    """The set of points holding the most facts: how many, and the values they span."""
    top = max(len(p.held()) for p in points)
    best = [p for p in points if len(p.held()) == top]
    return {"n_passed": top, "count": len(best),
            "values": {u.key: sorted({p.values[u.key] for p in best}, key=_sort_key)
                       for u in exp.unknowns}}


def holdout(exp: Experiment, points: list[Point]) -> dict[str, dict]:
    """Identify on each split's ``fit`` facts, then judge its ``predict`` facts there."""
    out = {}
    for split in exp.holdout:
        fit, predict = set(split["fit"]), set(split["predict"])
        chosen = best_of(points, fit)
        out[split["name"]] = {
            "fit": split["fit"], "predict": split["predict"], "values": chosen.values,
            "fit_passed": chosen.held(fit), "predict_passed": chosen.held(predict),
            "n_fit": len(fit), "n_predict": len(predict),
            "misfit": chosen.misfit,
        }
    return out


def summarise(exp: Experiment, points: list[Point]) -> dict:
    """The ``identification`` entry of ``summary.json``."""
    best = best_of(points)
    return {
        "unknowns": [u.key for u in exp.unknowns],
        "grid": {u.key: list(u.values) for u in exp.unknowns},
        "objective": "most facts held, then the smallest misfit, then the largest smallest "
                     "margin of the facts held",
        "points": [p.record() for p in points],
        "best": {**best.record(), "margins": {f.id: f.margin for f in best.facts}},
        "most_facts": most_facts(exp, points),
        "regions": regions(exp, points),
        "never_held": explain(exp, points),
        "tradeoffs": tradeoffs(exp, points, best),
        "holdout": holdout(exp, points),
    }
