"""Experiments as data (no FEM): fact kinds, the file schema, post-processing of the criterion,
the search objective, regions, hold-out, and the report with a failed sample."""

import copy
import json
import math

from mpi4py import MPI

import numpy as np
import pytest

from contour_fem.core.errors import InputError
from contour_fem.physics.criterion import critical_ratio
from contour_fem.studies import experiment as E
from contour_fem.studies.experiment import identify as idf
from contour_fem.studies.experiment import run as R


def rec(**kw):
    return {"status": "ok", **kw}


@pytest.mark.parametrize("fact, records, passed", [
    ({"kind": "max_of", "quantity": "q", "samples": ["a", "b"], "expect": "a"},
     {"a": rec(q=2.0), "b": rec(q=1.0)}, True),
    ({"kind": "max_of", "quantity": "q", "samples": ["a", "b"], "expect": "a"},
     {"a": rec(q=1.0), "b": rec(q=2.0)}, False),
    ({"kind": "monotone", "direction": "decreasing", "quantity": "q", "samples": ["a", "b", "c"]},
     {"a": rec(q=3.0), "b": rec(q=2.0), "c": rec(q=1.0)}, True),
    ({"kind": "monotone", "direction": "increasing", "quantity": "q", "samples": ["a", "b", "c"]},
     {"a": rec(q=1.0), "b": rec(q=3.0), "c": rec(q=2.0)}, False),
    ({"kind": "rise_then_fall", "quantity": "q", "samples": ["a", "b", "c"]},
     {"a": rec(q=1.0), "b": rec(q=3.0), "c": rec(q=2.0)}, True),
    ({"kind": "rise_then_fall", "quantity": "q", "samples": ["a", "b", "c"]},
     {"a": rec(q=1.0), "b": rec(q=2.0), "c": rec(q=3.0)}, False),
    ({"kind": "approx", "quantity": "q", "samples": ["a", "b"], "target": 1.5, "tolerance": 0.1},
     {"a": rec(q=1.45), "b": rec(q=0.5)}, True),
    ({"kind": "equal", "quantity": "q", "samples": ["a", "b"], "tolerance": 0.01},
     {"a": rec(q=1.0), "b": rec(q=1.05)}, False),
    ({"kind": "coincide", "quantity": "d", "samples": ["a"], "tolerance": 0.1},
     {"a": rec(d=5.0, separation_um=100.0)}, True),
    ({"kind": "below", "quantity": "q", "samples": ["a"], "threshold": 0.01},
     {"a": rec(q=0.02)}, False),
    ({"kind": "closer_than", "quantity": "q", "reference": "r", "samples": ["a", "b"]},
     {"a": rec(q=1.0, r=2.0), "b": rec(q=1.1, r=1.0)}, True),
])
def test_fact_kinds(fact, records, passed):
    res = E.evaluate_fact({"id": "X", "statement": "s", **fact}, records)
    assert res.passed is passed
    assert (res.margin > 0) is passed


def test_missing_or_undefined_results_are_not_judged():
    fact = {"id": "X", "statement": "s", "kind": "monotone", "direction": "increasing",
            "quantity": "q", "samples": ["a", "b"]}
    res = E.evaluate_fact(fact, {"a": rec(q=1.0), "b": {"status": "failed"}})
    assert res.passed is None and "missing" in res.detail
    res = E.evaluate_fact(fact, {"a": rec(q=1.0), "b": rec(q=None)})
    assert res.passed is None and "undefined" in res.detail


def test_misfit():
    ms = [{"sample": "a", "quantity": "q", "value": 1.0, "uncertainty": 0.1},
          {"sample": "b", "quantity": "q", "value": 2.0, "uncertainty": 0.5}]
    assert E.misfit(ms, {"a": rec(q=1.2), "b": rec(q=1.0)}) == pytest.approx(4.0 + 4.0)
    assert E.misfit(ms, {"a": rec(q=1.2), "b": {"status": "failed"}}) == math.inf
    assert E.misfit([], {}) is None


def test_zhang2024_holds_facts_not_numbers():
    exp = E.load_experiment("zhang2024")
    assert "10.1039/d3ee03322h" in exp.citation
    assert len(exp.samples) == 15 and exp.grid_samples() == [
        s["name"] for s in exp.samples if s["name"] != "eggbox_H25S150_coupled"]
    ids = [f["id"] for f in exp.facts]
    assert len(ids) == len(set(ids))
    assert not exp.measurements  # the paper's critical currents are in figures we do not have
    for fact in exp.facts:
        # No measured critical current is invented: F5's 1.5 is the text's "about 50 %".
        assert fact["kind"] != "approx" or fact["target"] == 1.5
    # The identification the issue asks for: ≥ 5 R_int in 1–300, n ∋ 1, 6.56, both slips, k, m.
    grid = {u.key: u for u in exp.unknowns}
    r = grid["kinetics.interfacial_resistance_ohm_cm2"].values
    assert len(r) >= 5 and min(r) == 1 and max(r) == 300
    assert {1, 6.56} <= set(grid["creep.exponent"].values)
    assert set(grid["creep.slip"].values) == {"no-slip", "free-slip"}
    assert grid["criterion.k_per_MPa"].post and grid["criterion.growth_exponent"].post
    assert len(exp.holdout) == 2


def _minimal(**extra):
    data = {"name": "mine", "samples": [
        {"name": "flat", "topography": "flat", "separation_um": 100},
        {"name": "egg", "topography": "eggbox", "height_um": 10, "separation_um": 100}]}
    data.update(extra)
    return data


@pytest.mark.parametrize("change, message", [
    ({"samples": []}, "at least one sample"),
    ({"nonsense": 1}, "unknown key 'nonsense'"),
    ({"samples": [{"name": "a", "topography": "eggbox", "height_um": -1, "separation_um": 1}]},
     "samples[0] (a): geometry.height_um"),
    ({"samples": [{"name": "a", "topography": "flat", "separation_um": 1, "colour": 3}]},
     "samples[0]: unknown key 'colour'"),
    ({"facts": [{"id": "F", "kind": "monotone", "quantity": "max_current_ratio",
                 "samples": ["flat", "egg"]}]}, "facts[0] (F): kind 'monotone' needs 'direction'"),
    ({"facts": [{"id": "F", "kind": "below", "quantity": "max_current_ratio",
                 "samples": ["nobody"], "threshold": 1}]}, "unknown sample 'nobody'"),
    ({"facts": [{"id": "F", "kind": "below", "quantity": "colour", "samples": ["egg"],
                 "threshold": 1}]}, "facts[0] (F).quantity must be one of"),
    ({"measurements": [{"sample": "egg", "quantity": "max_current_ratio", "value": 1.0,
                        "uncertainty": 0}]}, "measurements[0].uncertainty must be > 0"),
    ({"identify": {"kinetics.interfacial_resistance_ohm_cm2": {"min": 1, "max": 10,
                                                               "scale": "cubic"}}},
     "scale must be log or linear"),
    ({"identify": {"kinetics.interfacial_resistance_ohm_cm2": [1, -3]}},
     "= -3: kinetics.interfacial_resistance_ohm_cm2"),
    ({"identify": {"creep.colour": [1]}}, "unknown key 'creep.colour'"),
    ({"holdout": [{"name": "h", "fit": ["F9"], "predict": ["F9"]}]}, "unknown fact 'F9'"),
    ({"settings": {"error_bar_refinement": 1.5}}, "settings.error_bar_refinement"),
])
def test_experiment_file_errors_are_one_line_naming_the_entry(change, message):
    data = _minimal(**change)
    with pytest.raises(InputError) as err:
        E.parse_experiment(copy.deepcopy(data))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_unknown_experiment_name_lists_the_built_in_ones():
    with pytest.raises(InputError, match="zhang2024"):
        E.load_experiment("nobody2099")


def test_pareto_front_keeps_the_minimum_of_every_criterion():
    rng = np.random.default_rng(0)
    f, dp = rng.uniform(0.5, 2.0, 400), rng.uniform(-1.0, 2.0, 400)
    front = E.pareto_front(f, dp)
    assert front[0].size < 40
    for k in (0.0, 0.01, 0.3, 3.0):
        for m, n in ((6.56, 6.56), (1.0, 6.56), (3.0, 1.0)):
            full = np.min(critical_ratio(f, k * dp, m, n))
            assert E.ratio_at(front, k, m, n) == pytest.approx(full, rel=1e-12)


def _field(values, gains):
    """Records whose critical ratio at k is min(1/f, …) for one interface point each."""
    records = {name: rec(separation_um=100.0, max_current_ratio=f,
                         interface={"current_ratio": np.array([f]),
                                    "excess_pressure_MPa": np.array([dp])})
               for name, (f, dp) in gains.items()}
    return idf.FieldRecords(values=values, records=records, exponent=1.0, k=0.0, m=None)


def test_search_ranks_by_facts_then_misfit_and_refines_k():
    exp = E.parse_experiment({
        "name": "toy",
        "samples": [{"name": n, "topography": "flat", "separation_um": 100} for n in "abc"],
        "facts": [{"id": "up", "kind": "monotone", "direction": "increasing",
                   "quantity": "critical_current_ratio_to_flat", "samples": ["a", "b"]},
                  {"id": "c-best", "kind": "max_of", "expect": "c",
                   "quantity": "critical_current_ratio_to_flat", "samples": ["a", "b", "c"]}],
        "measurements": [{"sample": "b", "quantity": "critical_current_ratio_to_flat",
                          "value": 0.5, "uncertainty": 0.01}],
        "identify": {"kinetics.interfacial_resistance_ohm_cm2": [1.0, 10.0],
                     "criterion.k_per_MPa": {"min": 0.01, "max": 10.0, "scale": "log",
                                             "count": 9}},
    })
    # n = m = 1: ratio = 1/(f + k·Δp). At R = 10: b = 1/(1 + k), so b = 0.5 at k = 1.
    fields = [_field({"kinetics.interfacial_resistance_ohm_cm2": 1.0},
                     {"a": (1.0, 2.0), "b": (1.0, 1.0), "c": (2.0, 0.0)}),
              _field({"kinetics.interfacial_resistance_ohm_cm2": 10.0},
                     {"a": (2.0, 0.0), "b": (1.0, 1.0), "c": (0.2, 0.0)})]
    points = E.search(exp, fields)
    summary = E.summarise(exp, points)
    best = summary["best"]
    assert best["values"]["kinetics.interfacial_resistance_ohm_cm2"] == 10.0
    assert set(best["passed"]) == {"up", "c-best"}
    assert best["values"]["criterion.k_per_MPa"] == pytest.approx(1.0, rel=0.02)
    assert best["misfit"] < 1.0
    assert summary["regions"]["up"]["fraction"] > 0
    assert summary["most_facts"]["n_passed"] == 2
    assert json.dumps(summary)  # the contract is plain JSON


def test_holdout_and_never_held_facts_are_explained():
    exp = E.parse_experiment({
        "name": "toy",
        "samples": [{"name": n, "topography": "flat", "separation_um": 100} for n in "ab"],
        "facts": [{"id": "f-up", "kind": "monotone", "direction": "increasing",
                   "quantity": "max_current_ratio", "samples": ["a", "b"]},
                  {"id": "f-down", "kind": "monotone", "direction": "decreasing",
                   "quantity": "max_current_ratio", "samples": ["a", "b"]},
                  {"id": "never", "kind": "below", "threshold": 0.1,
                   "quantity": "max_current_ratio", "samples": ["a"]}],
        "identify": {"kinetics.interfacial_resistance_ohm_cm2": [1.0, 10.0]},
        "holdout": [{"name": "up", "fit": ["f-up"], "predict": ["f-down"]}],
    })
    fields = [_field({"kinetics.interfacial_resistance_ohm_cm2": 1.0},
                     {"a": (1.0, 0.0), "b": (2.0, 0.0)}),
              _field({"kinetics.interfacial_resistance_ohm_cm2": 10.0},
                     {"a": (2.0, 0.0), "b": (1.0, 0.0)})]
    summary = E.summarise(exp, E.search(exp, fields))
    h = summary["holdout"]["up"]
    assert h["values"]["kinetics.interfacial_resistance_ohm_cm2"] == 1.0
    assert h["fit_passed"] == ["f-up"] and h["predict_passed"] == []
    never = summary["never_held"]
    assert set(never) == {"never"} and never["never"]["best_margin"] < 0
    assert "largest 1" in never["never"]["detail"]


def test_plan_reuses_identical_cases_and_puts_grid_on_the_coarse_level():
    exp = E.parse_experiment(_minimal(identify={
        "kinetics.interfacial_resistance_ohm_cm2": [1.0, 10.0],
        "criterion.k_per_MPa": [0.1, 0.2]}))
    plan = R.Plan(exp, R.base_table({}, exp))
    grid = plan.grid()
    assert len(grid) == 2 and len(plan.configs) == 4  # k changes no field
    cfg = plan.configs[grid[0][1]["egg"]]
    assert cfg["mesh"]["refinement"] == pytest.approx(2 / 3)
    _, coarse, _ = plan.prediction(grid[0][0])
    assert coarse == grid[0][1]  # the coarse level at the best point is a grid point
    assert len(plan.configs) == 6


def test_report_is_written_when_a_sample_failed(tmp_path):
    # A failed case is a result of the benchmark: the evaluation and the figures go on without it.
    from contour_fem.studies.experiment.report import write_report

    exp = E.load_experiment("zhang2024")
    gx, gy = np.meshgrid(np.linspace(0.0, 75.0, 4), np.linspace(0.0, 75.0, 4))
    x, y = gx.ravel(), gy.ravel()
    samples = {}
    for k, s in enumerate(exp.samples):
        samples[s["name"]] = rec(
            topography=s["topography"], height_um=s.get("height_um"),
            separation_um=s["separation_um"], area_ratio=1.0 + 0.01 * k,
            max_current_ratio=1.0 + 0.01 * k, primary_max_current_ratio=1.2,
            max_excess_pressure_MPa=0.5, hotspot_distance_um=0.0,
            critical_current_ratio_to_flat=1.0, coupling_current_change=0.001,
            error_bars={"max_current_ratio": 0.001})
    samples["frustum_H25S150"] = {"status": "failed", "reason": "boom"}
    values = {u.key: u.values[0] for u in exp.unknowns}
    point = {"values": values, "passed": ["F2b"], "n_passed": 1, "misfit": None}
    ident = {"unknowns": list(values), "grid": {u.key: list(u.values) for u in exp.unknowns},
             "objective": "…", "points": [point],
             "best": {**point, "margins": {}},
             "most_facts": {"n_passed": 1, "count": 1, "values": {k: [v] for k, v in
                                                                  values.items()}},
             "regions": {f["id"]: {"fraction": 0.0, "values": {}} for f in exp.facts},
             "never_held": {}, "holdout": {}}
    facts = [vars(E.evaluate_fact(f, samples)) for f in exp.facts]
    summary = {"benchmark": exp.name, "levels": {"main": {"resolution": "standard",
                                                          "creep_degree": 3},
                                                 "coarse": {"refinement": 2 / 3},
                                                 "identification": "coarse"},
               "error_bars": "…", "point": values, "facts": facts, "facts_coarse": {},
               "samples": samples, "sensitivity": {}, "measurements": [],
               "identification": ident}
    assert next(f for f in facts if f["id"] == "F1a")["passed"] is None
    tables = {s: {"x_um": x, "y_um": y, "current_ratio": 1 + 0 * x,
                  "excess_pressure_MPa": 0.01 * x, "critical_current_ratio_to_flat": 1 + 0 * x}
              for s in samples}
    report = write_report(tmp_path, exp, summary, tables)
    text = report.read_text()
    assert "failed: boom" in text and "## Conclusion" in text
    for name in ("series.png", "identification.png", "regions.png", "interface_maps.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_benchmark_refuses_a_bad_experiment_before_writing(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[[samples]]\nname = "a"\ntopography = "cube"\n'
                   'separation_um = 1\n')
    out = tmp_path / "out"
    with pytest.raises(InputError, match=r"geometry\.topography"):
        R.run_benchmark(bad, out, MPI.COMM_SELF)
    assert not out.exists()


def test_the_example_experiment_file_is_valid():
    from pathlib import Path

    exp = E.load_experiment(Path(__file__).parents[2] / "examples" / "synthetic_experiment.toml")
    assert len(exp.samples) == 4 and len(exp.measurements) == 6 and exp.holdout
    assert {u.key for u in exp.unknowns} == {"kinetics.interfacial_resistance_ohm_cm2",
                                            "criterion.k_per_MPa"}
