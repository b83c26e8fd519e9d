"""``contour-fem benchmark EXPERIMENT``: identify the unknowns, then predict at the best point.

1. *Grid*: every value of the field unknowns × every sample that takes part in the
   identification, at the identification level (``settings.identify_at``; by default the
   coarser level of the case's own mesh family, ``settings.error_bar_refinement``).
2. *Search* (:mod:`.identify`): post unknowns (k, m) from the stored interface tables; the
   best point, the points holding the most facts, per-fact regions, hold-out splits.
3. *Prediction*: every sample at the main level at the best point's field values, the
   sensitivity rows at the coarse level; facts and error bars (|main − coarse|, the change
   from the next coarser mesh of the same family) at the main level.

All cases run through the sweep machinery in ``OUT`` (restartable; finished cases are reused by
their configuration hash). Collective on ``comm``; evaluation and report happen on rank 0 and
every rank returns the same summary.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

from mpi4py import MPI

from contour_fem import config
from contour_fem.core.parallel import on_root
from contour_fem.core.provenance import versions
from contour_fem.io.files import write_json
from contour_fem.io.output import open_store
from contour_fem.io.readers import read_interface_csv
from contour_fem.studies.experiment import identify as idf
from contour_fem.studies.experiment.facts import evaluate_fact
from contour_fem.studies.experiment.report import write_report
from contour_fem.studies.experiment.schema import Experiment, load_experiment, sample_config
from contour_fem.studies.sweep.runner import run_sweep
from contour_fem.studies.sweep.store import CaseStore

log = logging.getLogger(__name__)

RATIO = idf.RATIO
#: Sample quantities reported in ``summary.json`` (with error bars where they are numbers).
REPORTED = ("status", "reason", "topography", "height_um", "separation_um", "area_ratio",
            "max_current_ratio", "primary_max_current_ratio", "max_excess_pressure_MPa",
            "hotspot_distance_um", RATIO, "coupling_current_change", "ndofs", "wall_time_s")
BARRED = ("max_current_ratio", "primary_max_current_ratio", "max_excess_pressure_MPa", RATIO)


def read_case(store: CaseStore, digest: str) -> dict:
    """Result record of one case, with its interface table (or the failure reason)."""
    record = store.result(digest)
    if record is None:
        failure = store.failure(digest)
        return {"status": "failed", "reason": failure["reason"] if failure else "not run"}
    table = store.folder(digest) / "interface.csv"
    if table.exists():
        record["interface"] = read_interface_csv(table)
    record["status"] = "ok"
    return record


def _sweep_table(name: str, configs: list[dict]) -> dict:
    """A sweep table whose cases are exactly ``configs``: common keys in the base, the rest per row.

    Case folders are found by :func:`contour_fem.config.config_hash`, which ignores names.
    """
    flat = [{f"{sec}.{key}": value for sec in config.SCHEMA for key, value in cfg[sec].items()
             if value is not None} for cfg in configs]
    common = {k: v for k, v in flat[0].items() if all(row.get(k, object()) == v for row in flat)}
    base: dict[str, dict] = {}
    for dotted, value in common.items():
        sec, key = dotted.split(".", 1)
        base.setdefault(sec, {})[key] = value
    rows = [{k: v for k, v in row.items() if k not in common} for row in flat]
    return {"name": name, "base": base, "cases": rows}


class Plan:
    """The configurations of one benchmark run, by role; all of them run in one store."""

    def __init__(self, exp: Experiment, base: dict):
        self.exp, self.base = exp, base
        self.refine = exp.settings["error_bar_refinement"]
        self.grid_level = exp.settings["identify_at"]
        self.configs: dict[str, dict] = {}  # hash → resolved config, in the order added

    def level_extra(self, sample: dict, level: str) -> dict[str, Any]:
        """Overrides that put ``sample`` on ``level`` (main or coarse) of its mesh family."""
        if level == "main":
            return {}
        own = sample_config(sample, self.base)["mesh"]["refinement"]
        return {"mesh.refinement": float(f"{own * self.refine:.12g}")}

    def add(self, sample: dict, level: str, extra: dict[str, Any] | None = None) -> str:
        """Register one case; returns its configuration hash."""
        cfg = sample_config(sample, self.base, {**(extra or {}), **self.level_extra(sample,
                                                                                    level)})
        digest = config.config_hash(cfg)
        self.configs.setdefault(digest, cfg)
        return digest

    def grid(self) -> list[tuple[dict, dict[str, str]]]:
        """(field values, sample → hash) of every grid point.

        Cases are registered sample by sample. The sweep runs the cases of one mesh and creep
        setting on one group, by ascending n and by current within one n, so that cases
        start from each other's creep solutions (:mod:`contour_fem.studies.sweep.schedule`).
        """
        names = set(self.exp.grid_samples())
        points = idf.field_grid(self.exp)
        order = sorted(range(len(points)), key=lambda i: [
            u.values.index(points[i][u.key]) for u in reversed(self.exp.field_unknowns)])
        hashes: list[dict[str, str]] = [{} for _ in points]
        for s in self.exp.samples:
            if s["name"] in names:
                for i in order:
                    hashes[i][s["name"]] = self.add(s, self.grid_level, points[i])
        return list(zip(points, hashes, strict=True))

    def prediction(self, values: dict) -> tuple[dict[str, str], dict[str, str], dict]:
        """Main and coarse levels of every sample at ``values``, and the sensitivity rows."""
        main = {s["name"]: self.add(s, "main", values) for s in self.exp.samples}
        coarse = {s["name"]: self.add(s, "coarse", values) for s in self.exp.samples
                  if s.get("identification", True)}
        rows = {}
        for row in self.exp.sensitivity:
            names = row.get("samples") or self.exp.grid_samples()
            rows[row["label"]] = {s["name"]: self.add(s, "coarse", {**values, **row["set"]})
                                  for s in self.exp.samples if s["name"] in names}
        return main, coarse, rows

    def run(self, out: Path, comm: MPI.Comm, ranks_per_case: int) -> None:
        """Run every registered case not finished yet (one sweep over all of them)."""
        run_sweep(_sweep_table(self.exp.name, list(self.configs.values())), out, comm,
                  ranks_per_case=ranks_per_case, verb="benchmark")


def _field_records(plan: Plan, store: CaseStore, values: dict,
                   hashes: dict[str, str]) -> idf.FieldRecords:
    some = plan.configs[next(iter(hashes.values()))]
    return idf.FieldRecords(
        values=values, records={s: read_case(store, h) for s, h in hashes.items()},
        exponent=float(some["creep"]["exponent"]),
        k=float(some["criterion"].get("k_per_MPa") or 0.0),
        m=some["criterion"].get("growth_exponent"))


def base_table(overrides: dict | None, exp: Experiment) -> dict:
    """The experiment's base case table with the user's ``--set`` overrides applied."""
    cfg = {"output": {"fields": False}, **{k: dict(v) for k, v in exp.base.items()}}
    for key, value in (overrides or {}).items():
        cfg = config.set_key(cfg, key, value)
    return cfg


def run_benchmark(source: str | Path, out: Path, comm: MPI.Comm, *, ranks_per_case: int = 1,
                  sensitivity: bool = True, report: bool = True,
                  identify: bool | dict[str, Any] = True, overrides: dict | None = None) -> dict:
    """Identify, predict, evaluate every fact, and write ``summary.json`` and the report.

    Args:
        source: Built-in experiment name or experiment file.
        out: Output folder (an earlier benchmark there is resumed: finished cases are reused).
        comm: All ranks taking part.
        ranks_per_case: Ranks per case (groups of a sweep).
        sensitivity: Run the experiment's sensitivity rows.
        report: Write ``report.md`` and its figures.
        identify: False ignores ``[identify]``; a dict of dotted key → values (as in the file)
            replaces or adds those entries.
        overrides: Dotted case keys set in every sample's base case (``--set``).

    Returns:
        The summary, identical on every rank.

    Raises:
        InputError: On every rank, before anything is written, for an invalid experiment,
            option or output folder.

    """
    t0 = time.perf_counter()
    out = Path(out)
    plan = on_root(comm, lambda: _checked_plan(load_experiment(source, identify), overrides))
    exp = plan.exp
    if not sensitivity:
        exp.sensitivity = []
    if identify is False:
        exp.unknowns, exp.holdout = [], []
    post_keys = {u.key for u in exp.post_unknowns}
    open_store(out, comm, "benchmark")  # refuse a folder that must not be written, first
    grid = plan.grid()
    log.info("benchmark %s: %d grid points × %d samples at the %s level", exp.name, len(grid),
             len(exp.grid_samples()), plan.grid_level)
    plan.run(out, comm, ranks_per_case)
    chosen = on_root(comm, lambda: _search(plan, out, grid))
    values = {k: v for k, v in chosen["best"]["values"].items() if k not in post_keys}
    main, coarse, rows = plan.prediction(values)
    log.info("benchmark %s: predicting at %s (%d cases in all)", exp.name, values or "the base",
             len(plan.configs))
    plan.run(out, comm, ranks_per_case)

    def conclude() -> dict:
        store = CaseStore(out)
        post = {k: v for k, v in chosen["best"]["values"].items() if k in post_keys}
        summary = evaluate(plan, store, values, post, main, coarse, rows)
        summary["identification"] = chosen
        summary.update({"ranks": comm.size, "ranks_per_case": ranks_per_case,
                        "wall_time_s": time.perf_counter() - t0, "versions": versions()})
        write_json(out / "summary.json", summary)
        if report:
            tables = {s: r["interface"] for s, r in _main_records(plan, store, main).items()
                      if "interface" in r}
            write_report(out, exp, summary, tables)
        return summary

    return on_root(comm, conclude)


def _main_records(plan: Plan, store: CaseStore, hashes: dict[str, str]) -> dict[str, dict]:
    return {s: read_case(store, h) for s, h in hashes.items()}


def _checked_plan(exp: Experiment, overrides: dict | None) -> Plan:
    """The plan, with every configuration resolved (so a bad ``--set`` fails before work)."""
    plan = Plan(exp, base_table(overrides, exp))
    for s in exp.samples:
        plan.add(s, "main")
    plan.configs.clear()
    return plan


def _search(plan: Plan, out: Path, grid) -> dict:
    store = CaseStore(out)
    fields = [_field_records(plan, store, values, hashes) for values, hashes in grid]
    points = idf.search(plan.exp, fields)
    summary = idf.summarise(plan.exp, points)
    best = summary["best"]
    log.info("identification: best point %s holds %d facts (%s)", best["values"],
             best["n_passed"], ", ".join(best["passed"]))
    return summary


def _bars(main: dict, coarse: dict) -> dict[str, dict[str, float]]:
    """|q_main − q_coarse| per sample and quantity (both levels solved)."""
    out: dict[str, dict[str, float]] = {}
    for name, rec in main.items():
        other = coarse.get(name, {})
        if rec.get("status") != "ok" or other.get("status") != "ok":
            continue
        out[name] = {q: abs(float(rec[q]) - float(other[q])) for q in BARRED
                     if rec.get(q) is not None and other.get(q) is not None}
    return out


def evaluate(plan: Plan, store: CaseStore, values: dict, post: dict, main: dict,
             coarse: dict, rows: dict) -> dict:
    """Facts and error bars at the best point (main level), and the sensitivity rows."""
    exp = plan.exp

    def at_best(hashes: dict[str, str]) -> dict[str, dict]:
        fr = _field_records(plan, store, values, hashes)
        return idf._views(fr, post)

    main_rec, coarse_rec = at_best(main), at_best(coarse)
    facts = [evaluate_fact(f, main_rec) for f in exp.facts]
    coarse_facts = {f.id: f.passed for f in (evaluate_fact(g, coarse_rec) for g in exp.facts)}
    bars = _bars(main_rec, coarse_rec)
    sens = {}
    for label, hashes in rows.items():
        recs = {**coarse_rec, **at_best(hashes)}
        verdicts = {f.id: f.passed for f in (evaluate_fact(g, recs) for g in exp.facts)}
        sens[label] = {"facts": verdicts,
                       "changed": sorted(k for k, v in verdicts.items()
                                         if v != coarse_facts.get(k))}
    samples = {}
    for name, rec in main_rec.items():
        samples[name] = {key: rec.get(key) for key in REPORTED}
        samples[name]["error_bars"] = bars.get(name, {})
    some = next(iter(plan.configs.values()))
    return {
        "benchmark": exp.name, "citation": exp.citation, "source": exp.source,
        "levels": {"main": {"resolution": some["mesh"]["resolution"],
                            "creep_degree": some["solver"]["creep_degree"]},
                   "coarse": {"refinement": plan.refine},
                   "identification": plan.grid_level},
        "error_bars": "|main − coarse|: the change from the next coarser mesh of the same "
                      "family (a bound on the error of the main level when it converges with "
                      "order ≥ 1.7)",
        "point": {**values, **post},
        "facts": [vars(f) for f in facts],
        "facts_coarse": coarse_facts,
        "samples": samples, "sensitivity": sens,
        "measurements": [{**m, "model": main_rec.get(m["sample"], {}).get(m["quantity"])}
                         for m in exp.measurements],
        "failed": sorted(s for s, r in main_rec.items() if r.get("status") != "ok"),
        "nan_ratio": sorted(s for s, r in main_rec.items()
                            if isinstance(r.get(RATIO), float) and math.isnan(r[RATIO])),
    }
