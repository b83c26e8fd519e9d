"""The command line: configuration errors, ``mesh``, ``solve`` and ``convergence`` outputs."""

import json
from pathlib import Path

import pytest

from contour_fem import config
from contour_fem.cli import main
from contour_fem.geometry import RESOLUTIONS

ROOT = Path(__file__).resolve().parents[2]


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("snippet, key", [
    ("[geometry]\ntopography = 'eggbox'\nheight_um = 25\nseparation_um = 150\nfoo = 1\n",
     "geometry.foo"),
    ("[geometry]\ntopography = 'eggbox'\nheight_um = 25\n", "geometry.separation_um"),
    ("[geometry]\ntopography = 'eggbox'\nheight_um = 'tall'\nseparation_um = 150\n",
     "geometry.height_um"),
    ("[geometry]\ntopography = 'eggbox'\nheight_um = -5\nseparation_um = 150\n",
     "geometry.height_um"),
    ("[geometry]\ntopography = 'eggbox'\nheight_um = nan\nseparation_um = 150\n",
     "geometry.height_um"),
    ("[geometry]\ntopography = 'cone'\nheight_um = 5\nseparation_um = 150\n",
     "geometry.topography"),
    ("[geometry]\ntopography = 'frustum'\nheight_um = 25\nseparation_um = 150\n"
     "top_width_um = 100\ngap_um = 60\n", "top_width"),
    ("[geometry]\ntopography = 'eggbox'\nheight_um = 25\nseparation_um = 150\n"
     "[mesh]\nresolution = 'ultra'\n", "mesh.resolution"),
    ("[geometry]\ntopography = 'eggbox'\nheight_um = 25\nseparation_um = 150\n"
     "[solver]\ncreep_degree = 4\n", "solver.creep_degree"),
    ("[geometry\ntopography = 'eggbox'\n", "malformed TOML"),
])
@pytest.mark.parametrize("command", ["solve", "mesh"])
def test_config_errors_give_one_line_and_write_nothing(tmp_path, capsys, snippet, key, command):
    cfg = write_toml(tmp_path / "bad.toml", snippet)
    out = tmp_path / "out"
    code = main([command, str(cfg), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert key in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [cfg]


def test_config_offers_every_resolution_preset():
    # config.py lists the names without importing gmsh; they must not drift from the presets.
    assert config.SCHEMA["mesh"]["resolution"].meta.choices == tuple(RESOLUTIONS)


def test_every_geometry_file_resolves():
    files = sorted((ROOT / "geometries").glob("*.toml"))
    assert len(files) == 14
    for path in files:
        case = config.build_case(config.load(path))
        assert case.name == path.stem


def test_cli_mesh_writes_msh_xdmf_and_info(tmp_path, capsys):
    out = tmp_path / "mesh"
    assert main(["mesh", str(ROOT / "geometries" / "pyramid_H25S150.toml"), "--out",
                 str(out)]) == 0
    info = json.loads((out / "info.json").read_text())
    assert (out / "mesh.msh").stat().st_size > 0 and (out / "mesh.xdmf").exists()
    assert info["area_ratio"] == pytest.approx(info["area_ratio_exact"], rel=1e-12)
    assert info["cells"] > 0 and "versions" in info and "pyramid_H25S150" in capsys.readouterr().out


def _solve_config(tmp: Path) -> Path:
    return write_toml(tmp / "case.toml", "name = 'h25'\n[geometry]\ntopography = 'eggbox'\n"
                      "height_um = 25\nseparation_um = 150\n[mesh]\nresolution = 'coarse'\n")


def test_cli_solve_writes_result_run_and_fields(tmp_path):
    out = tmp_path / "solve"
    assert main(["-q", "solve", str(_solve_config(tmp_path)), "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    run = json.loads((out / "run.json").read_text())
    assert result["converged"] and result["ranks"] == 1
    assert run["config"]["geometry"]["height_um"] == 25 and "versions" in run
    assert (out / "current.bp").is_dir() and (out / "creep.bp").is_dir()


def test_cli_solves_a_height_map_and_a_random_surface(tmp_path):
    # A measured patch (the quarter of an egg-box, mirrored: the quarter cell) and a random
    # periodic surface (the full periodic cell), each through `solve` with its provenance.
    import math

    import numpy as np

    n, s = 17, 150.0
    x = np.linspace(0.0, s / 2, n)
    gx, gy = np.meshgrid(x, x)
    np.savetxt(tmp_path / "patch.csv",
               12.5 * np.cos(2 * math.pi * gx / s) * np.cos(2 * math.pi * gy / s), delimiter=",")
    (tmp_path / "patch.toml").write_text(
        "[geometry]\ntopography = 'heightmap'\nfile = 'patch.csv'\npixel_um = 4.6875\n"
        "periodic = false\n[mesh]\nresolution = 'coarse'\n[solver]\ncreep_degree = 2\n"
        "[output]\nfields = false\n")
    (tmp_path / "rough.toml").write_text(
        "[geometry]\ntopography = 'random'\nseparation_um = 60\nrms_height_um = 0.5\n"
        "correlation_length_um = 20\nseed = 7\n[mesh]\nresolution = 'coarse'\n"
        "interface_size_um = 7.5\n[solver]\ncreep_degree = 2\n[output]\nfields = false\n")
    # The egg-box patch equals its transpose: its eighth cell is exact.
    for name, domain in (("patch", "eighth"), ("rough", "full")):
        out = tmp_path / f"out-{name}"
        assert main(["solve", str(tmp_path / f"{name}.toml"), "--out", str(out), "-q"]) == 0
        result = json.loads((out / "result.json").read_text())
        run = json.loads((out / "run.json").read_text())
        assert result["converged"] and math.isfinite(result["max_excess_pressure_MPa"])
        assert run["mesh"]["domain"] == domain, run["mesh"]
        assert len(run["mesh"]["sha256"]) == 64  # the surface, recorded by its hash


def test_cli_convergence_records_a_failed_level_and_goes_on(tmp_path, capsys):
    """A level above mesh.max_cells fails alone; the analysis uses the levels that ran."""
    case = _solve_config(tmp_path)
    args = ["-q", "convergence", str(case), "--set", "solver.creep_degree=2", "--set",
            "mesh.max_cells=5000"]  # ×1 has 2,688 cells, ×1.5 7,776
    out = tmp_path / "study"
    assert main([*args, "--levels", "0.5", "0.667", "1", "1.5", "--out", str(out)]) == 0
    record = json.loads((out / "convergence.json").read_text())
    assert record["levels"] == [0.5, 0.667, 1.0]
    assert record["levels_asked"] == [0.5, 0.667, 1.0, 1.5]
    (failed,) = record["failed_levels"]
    assert failed["level"] == 1.5 and "mesh.max_cells" in failed["reason"]
    quantity = record["quantities"]["max_excess_pressure_MPa"]
    assert len(quantity["all_values"]) == 3 and quantity["order"] is not None
    # The maximum stays at the egg-box crest, the first local maximum: their sequences agree.
    crest = quantity["local_maxima"][0]
    assert crest["all_values"] == pytest.approx(quantity["all_values"], rel=1e-12)
    assert crest["holds_max"] == [True] * 3
    assert crest["order"] == pytest.approx(quantity["order"], rel=1e-6)
    assert "level ×1.5 failed" in capsys.readouterr().out
    # Two solved levels: the record is written, without an analysis, and the exit says so.
    out2 = tmp_path / "study2"
    assert main([*args, "--levels", "0.667", "1", "1.5", "--out", str(out2)]) == 1
    record = json.loads((out2 / "convergence.json").read_text())
    assert record["levels"] == [0.667, 1.0]
    assert record["quantities"]["max_current_ratio"]["order"] is None
    assert "only 2 of 3 levels were solved" in capsys.readouterr().out
