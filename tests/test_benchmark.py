"""Experiment benchmark: fact logic, calibration, and the coarse Zhang 2024 run with numeric
pass/fail per fact (expected failures carry their reason)."""

import math
import tempfile
from pathlib import Path

from mpi4py import MPI

import numpy as np
import pytest

from contour_fem import benchmark as B
from contour_fem.errors import InputError


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


# What the model reproduces at the coarse preset with the MODEL.md defaults, and why not where it
# does not (the benchmark report derives the analysis from the calibration).
REPRODUCED = ["F1b", "F2a", "F2b", "F2c", "F5", "F6b", "F6c", "F6d", "F6f"]
NOT_REPRODUCED = {
    "F1a": "calibrated k = 0 (F5 needs it): without the pressure term the frustum wins",
    "F3": "f_max with kinetics still rises from H5 to H25 at R_int = 10 Ω·cm², so no rise at "
          "small H once pressure counts, and no fall without it",
    "F4": "at k = 0 the critical current rises monotonically with H/S (area effect only)",
    "F6a": "f_max rises by 0.4 % from H5S150 to H25S150 before falling (Wa = 1)",
    "F6e": "coarse mesh: the pressure maximum of H5S30 sits 3 elements off its crest",
}


@pytest.fixture(scope="module")
def coarse_summary():
    comm = MPI.COMM_WORLD
    out = Path(comm.bcast(tempfile.mkdtemp(prefix="cfem-bench-") if comm.rank == 0 else None))
    return B.run_benchmark("zhang2024", out, comm, resolution="coarse", coarse="",
                           sensitivity=False)


def _fact(summary, fid):
    return next(f for f in summary["facts"] if f["id"] == fid)


@pytest.mark.mpi
@pytest.mark.parametrize("fid", REPRODUCED + [
    pytest.param(fid, marks=pytest.mark.xfail(reason=reason, strict=True))
    for fid, reason in NOT_REPRODUCED.items()])
def test_zhang2024_fact_at_coarse_resolution(coarse_summary, fid):
    fact = _fact(coarse_summary, fid)
    assert fact["passed"] is True, fact["detail"]


@pytest.mark.mpi
def test_zhang2024_report_and_calibration(coarse_summary):
    cal = coarse_summary["calibration"]
    assert cal["k_per_MPa"] >= 0 and math.isfinite(cal["best_gain"])
    assert all(s["status"] == "ok" for s in coarse_summary["samples"].values())
    assert coarse_summary["samples"]["flat_S150"]["critical_current_ratio_to_flat"] == \
        pytest.approx(1.0, rel=1e-6)
