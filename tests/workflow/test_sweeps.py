"""Running sweeps serially: results, restart, failure isolation, retries, kill safety, job
arrays."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from mpi4py import MPI

import pytest

from contour_fem.cli import main
from contour_fem.core.errors import InputError
from contour_fem.studies.sweep import load_sweep, run_sweep, task_slice

REPO = Path(__file__).resolve().parents[2]
WORLD = MPI.COMM_WORLD
serial_only = pytest.mark.skipif(WORLD.size > 1, reason="serial test")
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
    metas = [json.loads(p.read_text()) for p in out.glob("cases/*/case.json")]
    # The first case meshes, the second reuses its mesh (start times have 1-s resolution).
    assert sorted(m["mesh_reused"] for m in metas) == [False, True]


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
    assert main(["sweep", str(sweep), "--out", str(out)]) == 0  # failures are results

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
    proc = subprocess.Popen([sys.executable, "-m", "contour_fem", "sweep", str(sweep), "--out",
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
    procs = [subprocess.Popen([sys.executable, "-m", "contour_fem", "sweep", str(sweep), "--out",
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
def test_a_store_being_claimed_is_not_taken_for_a_users_folder(tmp_path, monkeypatch):
    # Job-array tasks start together: whatever a task has written while it claims the folder,
    # a second task checking the folder at that moment must see a new store, not a user's files.
    import os

    from contour_fem.io.output import MARKER, check_output, open_store, read_marker

    out = tmp_path / "store"
    seen = []

    def racing(real):
        def call(*args, **kwargs):
            if out.is_dir():
                seen.append((sorted(os.listdir(out)), check_output(out, "sweep")))
            return real(*args, **kwargs)
        return call

    for name in ("link", "fsync", "replace"):  # every moment a temporary file can exist
        monkeypatch.setattr(os, name, racing(getattr(os, name)))
    assert open_store(out, WORLD, "sweep") == "new"
    monkeypatch.undo()
    assert seen and all(listing and mode == "new" for listing, mode in seen), seen
    assert sorted(os.listdir(out)) == [MARKER] and read_marker(out)["verb"] == "sweep"


@serial_only
def test_default_out_is_next_to_the_sweep_file(tmp_path):
    sweep = tmp_path / "flat_one.toml"
    sweep.write_text("[base.geometry]\ntopography = 'flat'\nseparation_um = 150\n"
                     "[base.mesh]\nresolution = 'coarse'\n[base.output]\nfields = false\n")
    assert main(["-q", "sweep", str(sweep)]) == 0
    assert (tmp_path / "flat_one" / "results.csv").is_file()


@serial_only
def test_an_incomplete_record_is_not_a_finished_case(tmp_path):
    sweep = flat_sweep("partial", [120, 150])
    out = tmp_path / "out"
    run_sweep(sweep, out, WORLD)
    victim = next(iter(results(out)))
    (out / "cases" / victim / "result.json").write_text("{}")  # parses, but says nothing
    summary = run_sweep(sweep, out, WORLD)
    assert (summary["done"], summary["skipped"], summary["ok_total"]) == (1, 1, 2)
    assert json.loads((out / "cases" / victim / "result.json").read_text())["converged"] is True


@serial_only
def test_one_invocation_per_output_folder(tmp_path):
    sweep = tmp_path / "lock.toml"
    sweep.write_text("""
name = "lock"
[base.geometry]
topography = "flat"
[base.mesh]
resolution = "coarse"
[base.output]
fields = false
[vary]
"geometry.separation_um" = [100, 125, 150, 175, 200, 225]
""")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "contour_fem", "sweep", str(sweep), "--out",
                             str(out)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (out / ".claims").is_dir():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        with pytest.raises(InputError, match="another sweep invocation"):
            run_sweep(sweep, out, WORLD)
        assert proc.wait(timeout=300) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The lock went with the process that held it: the folder can be resumed now.
    assert run_sweep(sweep, out, WORLD)["skipped"] == 6


@serial_only
def test_cases_that_differ_in_n_share_the_newtonian_solution_and_keep_the_cold_result(tmp_path):
    # The n = 1 case hands its Newtonian solution to n = 3 and 6.56 of the same current, and with
    # free slip n = 6.56 starts from n = 3: the numbers are a cold start's.
    from contour_fem import config
    from contour_fem.case import run_case

    base = {"geometry": {"topography": "eggbox", "height_um": 25, "separation_um": 150},
            "mesh": {"resolution": "coarse"}, "output": {"fields": False},
            "creep": {"slip": "free-slip"}, "solver": {"creep_degree": 2}}
    sweep = {"name": "share", "base": base, "vary": {"creep.exponent": [6.56, 3, 1]}}
    out = tmp_path / "out"
    assert run_sweep(sweep, out, WORLD)["done"] == 3
    found = {r["name"]: r for r in results(out).values()}
    for case in load_sweep(sweep).cases:
        n = case.config["creep"]["exponent"]
        history = json.loads((out / "cases" / case.hash / "run.json").read_text())[
            "creep"]["continuation"]
        assert (history[0]["reason"] == "shared") == (n > 1)
        assert (history[-1].get("from_n") == 3) == (n == 6.56)
        cold = run_case(config.build_case(case.config), WORLD)
        assert found[case.name]["max_excess_pressure_MPa"] == pytest.approx(
            cold.creep.dp_max / 1e6, rel=1e-7)
