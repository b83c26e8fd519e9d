"""Sweeps: expansion, restart, failure isolation, kill safety, MPI groups (issue 7).

Serial tests: ``pytest -m "not mpi" tests/test_sweep.py``. MPI tests (two ranks):
``mpirun -n 2 python -m mpi4py -m pytest -m mpi tests/test_sweep.py``.
"""

from __future__ import annotations

import argparse
import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from mpi4py import MPI

import pytest

from contour_fem import config
from contour_fem.errors import InputError
from contour_fem.sweep import add_parser, default_out, load_sweep, run_sweep, task_slice

REPO = Path(__file__).resolve().parent.parent
WORLD = MPI.COMM_WORLD
serial_only = pytest.mark.skipif(WORLD.size > 1, reason="serial test")
needs_two = pytest.mark.skipif(WORLD.size < 2, reason="needs mpirun -n 2")

FLAT = {"geometry": {"topography": "flat"}, "mesh": {"resolution": "coarse"},
        "output": {"fields": False}}


def flat_sweep(name: str, separations, **extra) -> dict:
    return {"name": name, "base": FLAT, "vary": {"geometry.separation_um": list(separations)},
            **extra}


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def results(out: Path) -> dict[str, dict]:
    """hash → result.json of every finished case."""
    found = {}
    for file in sorted((out / "cases").glob("*/result.json")):
        found[file.parent.name] = json.loads(file.read_text())
    return found


def mtimes(out: Path) -> dict[str, int]:
    return {f.parent.name: f.stat().st_mtime_ns for f in (out / "cases").glob("*/result.json")}


# ---------------------------------------------------------------------------------------------
# Sweep files (no solving)
# ---------------------------------------------------------------------------------------------


@serial_only
def test_paper_sweep_files_expand_to_valid_cases():
    sweeps = {p.stem: load_sweep(p) for p in sorted((REPO / "runs").glob("zhang2024_*.toml"))}
    assert set(sweeps) == {"zhang2024_topographies", "zhang2024_constant_ratio",
                           "zhang2024_height", "zhang2024_separation"}
    for sweep in sweeps.values():
        for case in sweep.cases:
            assert case.error is None, (case.name, case.error)
            assert case.config["mesh"]["resolution"] == "medium"  # defaults, no override
            config.build_case(case.config)

    def geo(name):
        return [(c.config["geometry"]["topography"], c.config["geometry"]["height_um"],
                 c.config["geometry"]["separation_um"]) for c in sweeps[name].cases]

    assert sorted(geo("zhang2024_topographies")) == sorted([
        ("frustum", 25, 150), ("eggbox", 25, 150), ("pyramid", 25, 150), ("flat", None, 150)])
    frustum = next(c for c in sweeps["zhang2024_topographies"].cases
                   if c.config["geometry"]["topography"] == "frustum")
    assert frustum.config["geometry"]["top_width_um"] == 37.5
    assert frustum.config["geometry"]["gap_um"] == 37.5
    assert geo("zhang2024_constant_ratio") == [("eggbox", h, 6 * h) for h in (5, 25, 50, 100, 150)]
    assert geo("zhang2024_height") == [("eggbox", h, 150) for h in (5, 25, 50, 75)]
    assert geo("zhang2024_separation") == [("eggbox", 25, s) for s in (50, 75, 150, 250)]
    # The eggbox H25S150 case is the same case (same folder) in all four sweeps and equals the
    # stand-alone case file.
    reference = config.config_hash(config.load(REPO / "geometries" / "eggbox_H25S150.toml"))
    for sweep in sweeps.values():
        assert reference in {c.hash for c in sweep.cases}


@serial_only
def test_creep_study_sweep_files_expand_to_valid_cases():
    paths = sorted((REPO / "runs").glob("creep_*.toml"))
    assert {p.stem for p in paths} == {"creep_sensitivity", "creep_robustness",
                                       "creep_convergence", "creep_lean"}
    built = {}
    for path in paths:
        sweep = load_sweep(path)
        assert len(sweep.cases) > 1
        for case in sweep.cases:
            assert case.error is None, (path.name, case.name, case.error)
            built.setdefault(path.stem, []).append(config.build_case(case.config))
    # One mesh family: near size S/16 … S/40 (P2/P1) and S/8 … S/24 (P3/P2), far size six times
    # near, the same growth; each at n = 1 and 6.56.
    study = built["creep_convergence"]
    cells = [c.cell for c in study]
    for degree, fractions in ((2, [16, 24, 32, 40]), (3, [8, 12, 16, 20, 24])):
        for n in (1.0, 6.56):
            picked = [c for c in study if c.solver.creep_degree == degree and c.creep.exponent == n]
            assert [round(c.topography.period / c.cell.interface_size) for c in picked
                    ] == fractions
    assert all(c.far_size == pytest.approx(6 * c.interface_size) for c in cells)
    assert len({c.sizes(150e-6)[2] for c in cells}) == 1
    # The lean check: P3/P2 on the lean preset and on the study's S/20 mesh, two heights.
    lean = built["creep_lean"]
    assert {c.solver.creep_degree for c in lean} == {3}
    assert sorted((round(c.topography.height * 1e6), c.cell.resolution) for c in lean) == [
        (25, "lean"), (25, "medium"), (50, "lean"), (50, "medium")]


@serial_only
def test_expansion_product_zip_csv_and_names(tmp_path):
    (tmp_path / "rows.csv").write_text(
        "kinetics.distribution,operating.stack_pressure_MPa\nprimary,\nsecondary,3.5\n")
    (tmp_path / "s.toml").write_text("""
name = "combo"
cases = "rows.csv"
[base.geometry]
topography = "eggbox"
[base.mesh]
resolution = "coarse"
[vary]
geometry.height_um = [5, 25]        # unquoted dotted key works too
[zip]
"geometry.separation_um" = [30, 150, 300]
"creep.exponent" = [6.56, 5.0, 4.0]
""")
    sweep = load_sweep(tmp_path / "s.toml")
    assert len(sweep.cases) == 2 * 3 * 2
    assert sweep.keys == ["geometry.height_um", "geometry.separation_um", "creep.exponent",
                          "kinetics.distribution", "operating.stack_pressure_MPa"]
    first, last = sweep.cases[0], sweep.cases[-1]
    assert first.name == ("combo[height_um=5,separation_um=30,exponent=6.56,"
                          "distribution=primary]")
    assert first.config["operating"]["stack_pressure_MPa"] == 7.0  # empty cell: base value
    assert last.config["geometry"]["height_um"] == 25
    assert last.config["geometry"]["separation_um"] == 300
    assert last.config["creep"]["exponent"] == 4.0
    assert last.config["operating"]["stack_pressure_MPa"] == 3.5
    assert len({c.hash for c in sweep.cases}) == len(sweep.cases)
    assert [c.index for c in sweep.cases] == list(range(len(sweep.cases)))


@serial_only
def test_identical_cases_run_once_and_invalid_cases_are_kept():
    sweep = load_sweep({"name": "d", "base": FLAT,
                        "vary": {"geometry.separation_um": [150, 150.0, -1]}})
    assert [c.name for c in sweep.cases] == ["d[separation_um=150]", "d[separation_um=-1]"]
    assert sweep.duplicates == ["d[separation_um=150]"]  # 150.0 resolves like 150
    bad = sweep.cases[1]
    assert bad.config is None and bad.error[0] == "InputError"
    assert "separation_um" in bad.error[1]


@serial_only
def test_task_slices_partition_the_sweep():
    sweep = load_sweep(flat_sweep("t", [50, 60, 70, 80, 90, 100, 110]))
    slices = [task_slice(sweep.cases, i, 3) for i in range(3)]
    hashes = [c.hash for s in slices for c in s]
    assert sorted(hashes) == sorted(c.hash for c in sweep.cases)  # disjoint and complete
    assert all(len(s) in (2, 3) for s in slices)
    assert slices == [task_slice(sweep.cases, i, 3) for i in range(3)]  # deterministic
    with pytest.raises(InputError, match="task-index"):
        task_slice(sweep.cases, 3, 3)


MALFORMED = {
    "unknown top-level key": {"name": "m", "base": FLAT, "varry": {}},
    "unknown dotted key": {"name": "m", "base": FLAT, "vary": {"geometry.hieght_um": [1]}},
    "unknown section": {"name": "m", "base": FLAT, "vary": {"geom.height_um": [1]}},
    "no section": {"name": "m", "base": FLAT, "vary": {"height_um": [1]}},
    "unknown base key": {"name": "m", "base": {"geometry": {"hieght_um": 5}}},
    "unknown base section": {"name": "m", "base": {"geometri": {}}},
    "empty list": {"name": "m", "base": FLAT, "vary": {"geometry.separation_um": []}},
    "not a list": {"name": "m", "base": FLAT, "vary": {"geometry.separation_um": 150}},
    "zip lengths": {"name": "m", "base": FLAT, "zip": {"geometry.separation_um": [1, 2],
                                                       "creep.exponent": [3.0]}},
    "key in two blocks": {"name": "m", "base": FLAT, "vary": {"creep.exponent": [3.0]},
                          "zip": {"creep.exponent": [4.0]}},
    "missing base file": {"name": "m", "base": "does-not-exist.toml"},
    "missing csv": {"name": "m", "base": FLAT, "cases": "does-not-exist.csv"},
    "name in vary": {"name": "m", "base": FLAT, "vary": {"name": ["a", "b"]}},
    "cases inside zip": {"name": "m", "base": FLAT, "zip": {"cases": "rows.csv"}},
}


@serial_only
@pytest.mark.parametrize("what", sorted(MALFORMED))
def test_malformed_sweep_is_fatal_before_any_output(tmp_path, what):
    out = tmp_path / "out"
    with pytest.raises(InputError):
        run_sweep(MALFORMED[what], out, WORLD)
    assert not out.exists()


@serial_only
def test_bad_toml_and_bad_options_are_fatal(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x'\n[vary\n")
    out = tmp_path / "out"
    with pytest.raises(InputError, match="malformed TOML"):
        run_sweep(bad, out, WORLD)
    with pytest.raises(InputError, match="not found"):
        run_sweep(tmp_path / "missing.toml", out, WORLD)
    with pytest.raises(InputError, match="ranks-per-case"):
        run_sweep(flat_sweep("o", [150]), out, WORLD, ranks_per_case=0)
    with pytest.raises(InputError, match="task-index"):
        run_sweep(flat_sweep("o", [150]), out, WORLD, task_index=2, task_count=2)
    assert not out.exists()


# ---------------------------------------------------------------------------------------------
# Running sweeps (serial)
# ---------------------------------------------------------------------------------------------


@serial_only
def test_serial_sweep_writes_results_and_rerun_skips(tmp_path):
    sweep = flat_sweep("flat3", [100, 150, 200])
    sweep["base"] = {**FLAT, "output": {"fields": True}}
    out = tmp_path / "out"
    summary = run_sweep(sweep, out, WORLD)
    assert (summary["done"], summary["failed"], summary["skipped"]) == (3, 0, 0)
    assert summary["ok_total"] == 3 and summary["pending_total"] == 0

    rows = read_csv(out / "results.csv")
    assert len(rows) == 3 and all(r["status"] == "ok" for r in rows)
    header = list(rows[0])
    for column in ("name", "hash", "status", "geometry.separation_um", "area_ratio",
                   "max_current_ratio", "max_excess_pressure_MPa", "critical_current_mA_cm2",
                   "critical_current_ratio_to_flat", "wall_time_s", "ndofs_creep", "reason"):
        assert column in header
    found = results(out)
    assert set(found) == {r["hash"] for r in rows}
    for row in rows:
        res = found[row["hash"]]
        assert float(row["critical_current_mA_cm2"]) == res["critical_current_mA_cm2"]
        assert int(row["ndofs_creep"]) == res["ndofs"]["creep"]
        assert float(row["geometry.separation_um"]) == pytest.approx(res["separation_um"])
        assert res["critical_current_ratio_to_flat"] == pytest.approx(1.0, rel=1e-6)
        case_dir = out / "cases" / row["hash"]
        assert (case_dir / "run.json").is_file() and (case_dir / "current.bp").is_dir()
        meta = json.loads((case_dir / "case.json").read_text())
        assert meta["name"] == row["name"] and meta["world_ranks"] == [0]
    assert row["name"] == "flat3[separation_um=200]"
    record = json.loads((out / "sweep.json").read_text())
    assert record["summary"]["done"] == 3 and record["ranks"] == 1
    assert record["sweep"]["vary"] == {"geometry.separation_um": [100, 150, 200]}
    assert "dolfinx" in record["versions"]
    assert not (out / ".staging").exists() and not (out / ".claims").exists()

    before = mtimes(out)
    again = run_sweep(sweep, out, WORLD)
    assert (again["done"], again["failed"], again["skipped"]) == (0, 0, 3)
    assert mtimes(out) == before  # nothing recomputed
    assert len(read_csv(out / "results.csv")) == 3
    assert len(list((out / "invocations").glob("*.json"))) == 2


@serial_only
def test_cases_differing_in_physics_reuse_the_mesh(tmp_path):
    sweep = {"name": "physics", "base": {**FLAT, "geometry": {"topography": "flat",
                                                              "separation_um": 150}},
             "vary": {"kinetics.interfacial_resistance_ohm_cm2": [1, 30]}}
    out = tmp_path / "out"
    assert run_sweep(sweep, out, WORLD)["done"] == 2
    metas = sorted((json.loads(p.read_text()) for p in out.glob("cases/*/case.json")),
                   key=lambda m: m["started"])
    assert [m["mesh_reused"] for m in metas] == [False, True]


@serial_only
def test_failures_are_isolated_and_recorded(tmp_path):
    sweep = tmp_path / "fail.toml"
    sweep.write_text("""
name = "isolation"
[base.mesh]
resolution = "coarse"
[base.output]
fields = false
[[cases]]
"geometry.topography" = "eggbox"
"geometry.height_um" = -5
"geometry.separation_um" = 150
[[cases]]
"geometry.topography" = "eggbox"
"geometry.height_um" = 25
"geometry.separation_um" = 150
"solver.newton_max_it" = 1
[[cases]]
"geometry.topography" = "flat"
"geometry.separation_um" = 150
""")
    out = tmp_path / "out"
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sweep", str(sweep), "--out", str(out)])
    assert args.func(args, WORLD) == 0  # failures are results, not errors of the sweep

    rows = {r["name"].split("[")[1]: r for r in read_csv(out / "results.csv")}
    invalid = rows["topography=eggbox,height_um=-5,separation_um=150]"]
    newton = rows["topography=eggbox,height_um=25,separation_um=150,newton_max_it=1]"]
    good = rows["topography=flat,separation_um=150]"]
    assert good["status"] == "ok" and good["reason"] == ""
    assert float(good["critical_current_ratio_to_flat"]) == pytest.approx(1.0, rel=1e-6)
    assert invalid["status"] == "failed" and invalid["failure_type"] == "InputError"
    assert "height_um" in invalid["reason"]
    assert newton["status"] == "failed" and newton["failure_type"] == "ConvergenceError"
    assert "Newton" in newton["reason"]
    assert newton["topography"] == "eggbox" and float(newton["height_um"]) == 25

    fail = json.loads((out / "cases" / newton["hash"] / "failure.json").read_text())
    assert fail["type"] == "ConvergenceError" and "\n" not in fail["reason"]
    assert fail["history"] and all("n" in step for step in fail["history"])
    assert fail["config"]["solver"]["newton_max_it"] == 1
    assert not (out / "cases" / newton["hash"] / "result.json").exists()
    bad = json.loads((out / "cases" / invalid["hash"] / "failure.json").read_text())
    assert bad["type"] == "InputError" and bad["history"] == []
    assert bad["config"]["geometry"]["height_um"] == -5

    stamp = (out / "cases" / newton["hash"] / "failure.json").stat().st_mtime_ns
    again = run_sweep(sweep, out, WORLD)
    assert (again["done"], again["failed"], again["skipped"]) == (0, 0, 3)
    assert (out / "cases" / newton["hash"] / "failure.json").stat().st_mtime_ns == stamp
    assert again["failed_total"] == 2 and again["ok_total"] == 1


@serial_only
def test_retry_failed_reruns_recorded_failures(tmp_path):
    sweep = flat_sweep("retry", [120, 150])
    out = tmp_path / "out"
    run_sweep(sweep, out, WORLD)
    # Turn one finished case into a recorded failure, as a crash of an earlier run would leave.
    victim = next(iter(results(out)))
    folder = out / "cases" / victim
    for file in folder.iterdir():
        file.unlink()
    (folder / "failure.json").write_text(json.dumps({"type": "MeshError", "reason": "boom"}))
    summary = run_sweep(sweep, out, WORLD)
    assert (summary["done"], summary["skipped"], summary["failed_total"]) == (0, 2, 1)
    assert {r["status"] for r in read_csv(out / "results.csv")} == {"ok", "failed"}
    summary = run_sweep(sweep, out, WORLD, retry_failed=True)
    assert (summary["done"], summary["skipped"], summary["ok_total"]) == (1, 1, 2)
    assert (folder / "result.json").is_file() and not (folder / "failure.json").exists()


@serial_only
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killed_sweep_resumes_without_corrupt_or_repeated_cases(tmp_path, sig):
    sweep = tmp_path / "kill.toml"
    sweep.write_text("""
name = "kill"
[base.geometry]
topography = "flat"
[base.mesh]
resolution = "coarse"
[base.output]
fields = false
[vary]
"geometry.separation_um" = [100, 125, 150, 175]
""")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "contour_fem.sweep", str(sweep), "--out",
                             str(out)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while not list(out.glob("cases/*/result.json")):
            assert proc.poll() is None, "sweep ended before any case finished"
            assert time.monotonic() < deadline, "no case finished in time"
            time.sleep(0.02)
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -sig

    finished = mtimes(out)
    assert 1 <= len(finished) < 4, "the sweep must be killed mid-way"
    for folder in (out / "cases").iterdir():  # no partial case under cases/
        assert json.loads((folder / "result.json").read_text())["converged"] is True
    assert not (out / "results.csv").exists()

    summary = run_sweep(sweep, out, WORLD)
    assert summary["skipped"] == len(finished)
    assert summary["done"] == 4 - len(finished) and summary["failed"] == 0
    after = mtimes(out)
    assert len(after) == 4
    assert {h: after[h] for h in finished} == finished  # finished cases not recomputed
    rows = read_csv(out / "results.csv")
    assert sorted(r["hash"] for r in rows) == sorted(after)
    assert all(r["status"] == "ok" for r in rows)
    assert not (out / ".staging").exists() and not (out / ".claims").exists()


@serial_only
def test_job_array_tasks_share_an_output_folder(tmp_path):
    sweep = tmp_path / "array.toml"
    sweep.write_text("""
name = "array"
[base.geometry]
topography = "flat"
[base.mesh]
resolution = "coarse"
[base.output]
fields = false
[vary]
"geometry.separation_um" = [100, 125, 150, 175]
""")
    run_sweep(flat_sweep("warm", [150]), tmp_path / "warm", WORLD)  # JIT cache ready
    out = tmp_path / "out"
    procs = [subprocess.Popen([sys.executable, "-m", "contour_fem.sweep", str(sweep), "--out",
                               str(out), "--task-index", str(i), "--task-count", "2"], cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    for proc in procs:  # both tasks run at the same time in the same folder
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    cases = load_sweep(sweep).cases
    for i in range(2):
        for case in task_slice(cases, i, 2):
            meta = json.loads((out / "cases" / case.hash / "case.json").read_text())
            assert meta["task"] == {"index": i, "count": 2}
    assert len(list((out / "invocations").glob("*.json"))) == 2
    # The summary run (one task, nothing left to compute) lists the whole sweep.
    summary = run_sweep(sweep, out, WORLD)
    assert (summary["done"], summary["skipped"], summary["ok_total"]) == (0, 4, 4)
    assert [r["status"] for r in read_csv(out / "results.csv")] == ["ok"] * 4
    assert not (out / ".staging").exists() and not (out / ".claims").exists()


@serial_only
def test_default_out_is_next_to_the_sweep_file():
    assert default_out("runs/zhang2024_height.toml") == Path("runs/zhang2024_height")


# ---------------------------------------------------------------------------------------------
# MPI: groups of ranks (mpirun -n 2 python -m mpi4py -m pytest -m mpi tests/test_sweep.py)
# ---------------------------------------------------------------------------------------------

MPI_SWEEP = {
    "name": "mpi",
    "base": {"mesh": {"resolution": "coarse"}, "output": {"fields": False}},
    "cases": [
        {"geometry.topography": "eggbox", "geometry.height_um": 25,
         "geometry.separation_um": 150},
        {"geometry.topography": "flat", "geometry.separation_um": 100},
        {"geometry.topography": "flat", "geometry.separation_um": 150},
        {"geometry.topography": "flat", "geometry.separation_um": 150,
         "kinetics.interfacial_resistance_ohm_cm2": 30},
    ],
}
COMPARED = ("area_ratio", "max_current_ratio", "max_excess_pressure_MPa", "min_excess_pressure_MPa",
            "critical_current_mA_cm2", "critical_current_ratio_to_flat")


@pytest.fixture(scope="module")
def mpi_runs(tmp_path_factory):
    """The sweep with 2 groups of 1 rank, 1 group of 2 ranks, and serially on rank 0."""
    # Every rank has its own pytest tmp dir: use rank 0's for all.
    root = WORLD.bcast(tmp_path_factory.mktemp("sweep-mpi") if WORLD.rank == 0 else None)
    summaries = {
        "groups": run_sweep(MPI_SWEEP, root / "groups", WORLD, ranks_per_case=1),
        "pairs": run_sweep(MPI_SWEEP, root / "pairs", WORLD, ranks_per_case=2),
    }
    if WORLD.rank == 0:
        summaries["serial"] = run_sweep(MPI_SWEEP, root / "serial", MPI.COMM_SELF)
    WORLD.barrier()
    return root, summaries


def _close(a: float, b: float, what: str) -> bool:
    # Flat cells have Δp ≈ 1e-11 MPa of round-off: compare those absolutely.
    scale = 1e-6 * abs(b) if "pressure" not in what else max(1e-6 * abs(b), 1e-8)
    return abs(a - b) <= scale


@pytest.mark.mpi
@needs_two
def test_two_groups_share_the_cases(mpi_runs):
    root, summaries = mpi_runs
    out = root / "groups"
    summary = summaries["groups"]
    assert summary == WORLD.bcast(summary)  # identical on every rank
    assert (summary["groups"], summary["done"], summary["failed"]) == (2, 4, 0)
    metas = [json.loads(p.read_text()) for p in out.glob("cases/*/case.json")]
    assert len(metas) == 4
    assert {m["group"] for m in metas} == {0, 1}  # both groups solved at least one case
    assert all(m["group_size"] == 1 and m["world_ranks"] == [m["group"]] for m in metas)
    record = json.loads((out / "sweep.json").read_text())
    solved = [c["hash"] for g in record["groups"] for c in g["cases"]]
    assert sorted(solved) == sorted(m["hash"] for m in metas)  # each case solved once
    assert record["jit_warmup"]["ran"] and record["jit_warmup"]["ok"]
    assert all(r["ranks"] == 1 for r in results(out).values())


@pytest.mark.mpi
@needs_two
def test_groups_reproduce_the_serial_numbers(mpi_runs):
    root, _ = mpi_runs
    parallel, serial = results(root / "groups"), results(root / "serial")
    assert set(parallel) == set(serial) and len(serial) == 4
    for h, res in parallel.items():
        assert res["ndofs"] == serial[h]["ndofs"]
        for key in COMPARED:
            assert _close(res[key], serial[h][key], key), (res["name"], key)


@pytest.mark.mpi
@needs_two
def test_ranks_per_case_2_runs_each_case_on_both_ranks(mpi_runs):
    root, summaries = mpi_runs
    out = root / "pairs"
    assert (summaries["pairs"]["groups"], summaries["pairs"]["done"]) == (1, 4)
    metas = [json.loads(p.read_text()) for p in out.glob("cases/*/case.json")]
    assert len(metas) == 4
    assert all(m["world_ranks"] == [0, 1] and m["group_size"] == 2 for m in metas)
    parallel, serial = results(out), results(root / "serial")
    assert set(parallel) == set(serial)
    for h, res in parallel.items():
        assert res["ranks"] == 2
        assert res["ndofs"] == serial[h]["ndofs"]
        for key in COMPARED:
            assert _close(res[key], serial[h][key], key), (res["name"], key)
