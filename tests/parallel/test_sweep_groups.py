"""Sweeps over MPI case groups: groups of one rank share the cases and reproduce the serial
numbers, and one group of all ranks runs each case on every rank (2 and 3 ranks)."""

from __future__ import annotations

import json
from pathlib import Path

from mpi4py import MPI

import pytest

from contour_fem.studies.sweep import run_sweep

WORLD = MPI.COMM_WORLD
needs_two = pytest.mark.skipif(WORLD.size < 2, reason="needs mpirun -n 2")


def results(out: Path) -> dict[str, dict]:
    """hash → result.json of every finished case."""
    found = {}
    for file in sorted((out / "cases").glob("*/result.json")):
        found[file.parent.name] = json.loads(file.read_text())
    return found


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
    """The sweep with one group per rank, one group of all ranks, and serially on rank 0."""
    # Every rank has its own pytest tmp dir: use rank 0's for all.
    root = WORLD.bcast(tmp_path_factory.mktemp("sweep-mpi") if WORLD.rank == 0 else None)
    summaries = {
        "groups": run_sweep(MPI_SWEEP, root / "groups", WORLD, ranks_per_case=1),
        "pairs": run_sweep(MPI_SWEEP, root / "pairs", WORLD, ranks_per_case=WORLD.size),
    }
    if WORLD.rank == 0:
        summaries["serial"] = run_sweep(MPI_SWEEP, root / "serial", MPI.COMM_SELF)
    WORLD.barrier()
    return root, summaries


def _close(a: float, b: float, what: str) -> bool:
    # Flat cells have Δp ≈ 1e-11 MPa of round-off: compare those absolutely.
    scale = 1e-6 * abs(b) if "pressure" not in what else max(1e-6 * abs(b), 1e-8)
    return abs(a - b) <= scale


@needs_two
@pytest.mark.ranks3
def test_two_groups_share_the_cases(mpi_runs):
    root, summaries = mpi_runs
    out = root / "groups"
    summary = summaries["groups"]
    assert summary == WORLD.bcast(summary)  # identical on every rank
    assert (summary["groups"], summary["done"], summary["failed"]) == (WORLD.size, 4, 0)
    metas = [json.loads(p.read_text()) for p in out.glob("cases/*/case.json")]
    assert len(metas) == 4
    used = {m["group"] for m in metas}
    assert used <= set(range(WORLD.size)) and len(used) >= 2  # the groups shared the cases
    assert all(m["group_size"] == 1 and m["world_ranks"] == [m["group"]] for m in metas)
    record = json.loads((out / "sweep.json").read_text())
    solved = [c["hash"] for g in record["groups"] for c in g["cases"]]
    assert sorted(solved) == sorted(m["hash"] for m in metas)  # each case solved once
    assert record["jit_warmup"]["ran"] and record["jit_warmup"]["ok"]
    assert all(r["ranks"] == 1 for r in results(out).values())


@needs_two
@pytest.mark.ranks3
def test_groups_reproduce_the_serial_numbers(mpi_runs):
    root, _ = mpi_runs
    parallel, serial = results(root / "groups"), results(root / "serial")
    assert set(parallel) == set(serial) and len(serial) == 4
    for h, res in parallel.items():
        assert res["ndofs"] == serial[h]["ndofs"]
        for key in COMPARED:
            assert _close(res[key], serial[h][key], key), (res["name"], key)


@needs_two
@pytest.mark.ranks3
def test_one_group_of_all_ranks_runs_each_case_on_every_rank(mpi_runs):
    root, summaries = mpi_runs
    out = root / "pairs"
    assert (summaries["pairs"]["groups"], summaries["pairs"]["done"]) == (1, 4)
    metas = [json.loads(p.read_text()) for p in out.glob("cases/*/case.json")]
    assert len(metas) == 4
    every = list(range(WORLD.size))
    assert all(m["world_ranks"] == every and m["group_size"] == WORLD.size for m in metas)
    parallel, serial = results(out), results(root / "serial")
    assert set(parallel) == set(serial)
    for h, res in parallel.items():
        assert res["ranks"] == WORLD.size
        assert res["ndofs"] == serial[h]["ndofs"]
        for key in COMPARED:
            assert _close(res[key], serial[h][key], key), (res["name"], key)
