"""``contour-fem solve`` on 2 ranks equals the serial case."""

import json
from pathlib import Path

from mpi4py import MPI

import pytest

from contour_fem import config
from contour_fem.case import run_case
from contour_fem.cli import main


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _solve_config(tmp: Path) -> Path:
    return write_toml(tmp / "case.toml", "name = 'h25'\n[geometry]\ntopography = 'eggbox'\n"
                      "height_um = 25\nseparation_um = 150\n[mesh]\nresolution = 'coarse'\n")


def test_cli_solve_serial_equals_parallel():
    comm = MPI.COMM_WORLD
    if comm.size < 2:
        pytest.skip("needs mpirun -n 2")
    import tempfile

    tmp = Path(comm.bcast(tempfile.mkdtemp() if comm.rank == 0 else None))
    cfg = _solve_config(tmp) if comm.rank == 0 else tmp / "case.toml"
    comm.barrier()
    assert main(["-q", "solve", str(cfg), "--out", str(tmp / "par")]) == 0
    serial = run_case(config.build_case(config.load(cfg)), MPI.COMM_SELF).to_json()
    par = json.loads((tmp / "par" / "result.json").read_text())
    assert par["ranks"] == 2
    for key in ("area_ratio", "max_current_ratio", "max_excess_pressure_MPa",
                "critical_current_mA_cm2", "critical_current_ratio_to_flat"):
        assert par[key] == pytest.approx(serial[key], rel=1e-6), key
