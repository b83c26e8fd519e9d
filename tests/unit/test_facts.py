"""Experiment benchmark logic: fact kinds, missing results, calibration, the data file, levels
mapped back from one sweep (no FEM)."""

from mpi4py import MPI

import numpy as np
import pytest

from contour_fem.core.errors import InputError
from contour_fem.studies import benchmark as B


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
    res = B.evaluate_fact({"id": "X", "statement": "s", **fact}, records)
    assert res.passed is passed
    assert (res.margin > 0) is passed


def test_missing_results_are_not_judged():
    fact = {"id": "X", "statement": "s", "kind": "monotone", "direction": "increasing",
            "quantity": "q", "samples": ["a", "b"]}
    res = B.evaluate_fact(fact, {"a": rec(q=1.0), "b": {"status": "failed"}})
    assert res.passed is None and "missing" in res.detail


def test_unknown_benchmark_is_an_input_error():
    with pytest.raises(InputError, match="benchmark"):
        B.load_benchmark("nobody2099")


def test_data_file_holds_facts_not_numbers():
    bench = B.load_benchmark("zhang2024")
    assert "10.1039/d3ee03322h" in bench.citation
    assert len(bench.samples) == 14
    ids = [f["id"] for f in bench.facts]
    assert len(ids) == len(set(ids))
    names = {s["name"] for s in bench.samples} | {"eggbox_H25S150_coupled"}
    for fact in bench.facts:
        assert set(fact.get("samples", [])) <= names
        # No measured critical current is invented: facts compare samples, never to a value
        # (F5's 1.5 is the text's "about 50 %").
        assert fact["kind"] != "approx" or fact["target"] == 1.5


def test_calibration_hits_the_target():
    n = 6.56
    x = np.linspace(0, 1, 5)
    records = {
        "a": rec(interface={"current_ratio": 0.6 + 0 * x, "excess_pressure_MPa": 1.0 + x}),
        "b": rec(interface={"current_ratio": 0.9 + 0 * x, "excess_pressure_MPa": 0.5 + x}),
    }
    k, best = B.calibrate_k(records, ["a", "b"], 1.5, n)
    assert best == pytest.approx(1.5, rel=1e-8)
    assert max(B.ratio_at_k(records[s], k, n) for s in records) == pytest.approx(1.5, rel=1e-8)
    # Unreachable target: k = 0 and the shortfall is reported.
    k0, best0 = B.calibrate_k(records, ["a", "b"], 3.0, n)
    assert k0 == 0.0 and best0 == pytest.approx(0.6 ** -1, rel=1e-12)


def test_levels_run_as_one_sweep_and_map_back(tmp_path, monkeypatch):
    """Every level's cases go into one sweep, identical cases once, and each record comes back
    to its level and sample (the sweep is replaced by one that writes the case's own config)."""
    import json

    from contour_fem.io.readers import RESULT_KEYS
    from contour_fem.studies import sweep

    bench = B.load_benchmark("zhang2024")
    levels = {"lean": B.sample_configs(bench, B.base_config("lean"), coupled=False),
              "sum": B.sample_configs(bench, B.base_config("lean"), {"geometry.form": "sum"},
                                      coupled=False)}
    sizes = []

    def fake_run_sweep(table, out, comm, ranks_per_case, verb):
        cases = sweep.load_sweep(table).cases
        sizes.append(len(cases))
        for case in cases:
            folder = out / "cases" / case.hash
            folder.mkdir(parents=True)
            geo = case.config["geometry"]
            record = {key: 0 for key in RESULT_KEYS} | {"converged": True}
            (folder / "result.json").write_text(json.dumps(record | {
                "height_um": geo.get("height_um"), "separation_um": geo["separation_um"],
                "topography": geo["topography"], "form": geo.get("form")}))

    monkeypatch.setattr(B, "run_sweep", fake_run_sweep)
    records = B._run_levels("zhang2024", levels, tmp_path, MPI.COMM_SELF, 1)
    # Flat, frustum and pyramid have no egg-box form: their "sum" cases are the "lean" ones.
    assert sizes == [28 - 3]
    for level, cfgs in levels.items():
        assert set(records[level]) == set(cfgs)
        for sample, cfg in cfgs.items():
            got = records[level][sample]
            assert got["status"] == "ok"
            geo = cfg["geometry"]
            assert (got["topography"], got["height_um"], got["separation_um"], got["form"]) == (
                geo["topography"], geo.get("height_um"), geo["separation_um"], geo.get("form"))
    # Only egg-boxes have a form; the other samples' "sum" cases are their "lean" ones.
    assert {r["form"] for r in records["sum"].values()} == {"sum", None}


def test_report_is_written_when_a_sample_failed(tmp_path):
    # A failed case is a result of the benchmark: the evaluation and the figures go on without it.
    from contour_fem.studies.report import write_report

    bench = B.load_benchmark("zhang2024")
    gx, gy = np.meshgrid(np.linspace(0.0, 75.0, 4), np.linspace(0.0, 75.0, 4))
    x, y = gx.ravel(), gy.ravel()
    records = {}
    names = [s["name"] for s in bench.samples] + ["eggbox_H25S150_coupled"]
    for k, name in enumerate(names):
        sample = bench.sample(name.removesuffix("_coupled"))
        records[name] = rec(
            topography=sample["topography"], height_um=sample.get("height_um"),
            separation_um=sample["separation_um"], area_ratio=1.0 + 0.01 * k,
            max_current_ratio=1.0 + 0.01 * k, primary_max_current_ratio=1.2,
            max_excess_pressure_MPa=0.5, hotspot_distance_um=0.0,
            critical_current_ratio_to_flat=1.0, coupling_current_change=0.001,
            interface={"x_um": x, "y_um": y, "current_ratio": 1.0 + 0 * x,
                       "excess_pressure_MPa": 0.01 * x})
    records["frustum_H25S150"] = {"status": "failed", "reason": "boom"}
    summary = B.evaluate(bench, records, {}, {}, "lean", "")
    assert next(f for f in summary["facts"] if f["id"] == "F1a")["passed"] is None
    report = write_report(tmp_path, bench, summary, records)
    assert "failed: boom" in report.read_text()
    assert all((tmp_path / f).stat().st_size > 0 for f in (
        "critical_current.png", "maxima_vs_aspect_ratio.png", "interface_maps.png",
        "calibration.png"))
