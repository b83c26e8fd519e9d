"""Sweep files: expansion into cases, names, duplicates, job-array slices, malformed files
(no solving)."""

from __future__ import annotations

import copy
import importlib
from pathlib import Path

from mpi4py import MPI

import pytest

from contour_fem import config
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


@serial_only
def test_paper_sweep_files_expand_to_valid_cases():
    sweeps = {p.stem: load_sweep(p) for p in sorted((REPO / "runs").glob("zhang2024_*.toml"))}
    assert set(sweeps) == {"zhang2024_topographies", "zhang2024_constant_ratio",
                           "zhang2024_height", "zhang2024_separation"}
    for sweep in sweeps.values():
        for case in sweep.cases:
            assert case.error is None, (case.name, case.error)
            assert case.config["mesh"]["resolution"] == "standard"  # defaults, no override
            config.build_case(case.config)

    def geo(name):
        return [(c.config["geometry"]["topography"], c.config["geometry"].get("height_um"),
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
    assert len({c.cell.sizes(c.topography)[2] for c in study}) == 1
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


@serial_only
def test_a_change_of_the_crease_meshes_renews_the_hashes_of_rounded_cases_only(repo,
                                                                             monkeypatch):
    # A folder from before a change of the crease-graded meshes must not reuse its rounded
    # cases (their configuration is unchanged, their meshes are not); every other case keeps
    # its hash and its result.
    module = importlib.import_module("contour_fem.config.resolve")  # config.resolve: a function

    frustum = repo / "geometries" / "frustum_H25S150.toml"
    cases = {"rounded": config.load(frustum, {"geometry.corner_radius_um": 2}),
             "sharp": config.load(frustum),
             "eggbox": config.load(repo / "geometries" / "eggbox_H25S150.toml")}

    def hashes():
        return {k: (config.config_hash(c), config.mesh_key(c)) for k, c in cases.items()}

    before = hashes()
    monkeypatch.setattr(module, "CREASE_MESH_REVISION", module.CREASE_MESH_REVISION + 1)
    after = hashes()
    assert after["sharp"] == before["sharp"] and after["eggbox"] == before["eggbox"]
    assert after["rounded"][0] != before["rounded"][0]
    assert after["rounded"][1] != before["rounded"][1]


@serial_only
def test_a_resolved_table_resolves_to_itself(repo):
    # Sweeps, the benchmark and the JIT warm-up re-resolve resolved tables.
    paths = sorted((repo / "geometries").glob("*.toml"))
    assert len(paths) > 10
    for path in paths:
        cfg = config.load(path)
        assert config.resolve(cfg) == cfg, path.name
    kin = {"geometry": {"topography": "flat", "separation_um": 150},
           "kinetics": {"exchange_current_density_mA_cm2": 2.0}}
    cfg = config.resolve(kin)
    assert cfg["kinetics"]["interfacial_resistance_ohm_cm2"] is None
    assert config.resolve(cfg) == cfg


@serial_only
def test_blocks_keep_the_cases_that_share_creep_solutions_together_in_ascending_n():
    # One group runs the cases of one mesh and creep setting by ascending n: every current's
    # n = 1 case comes before the cases that take its Newtonian solution, and the n = 1 cases
    # follow one another (they share one factorisation).
    from contour_fem.studies.sweep.schedule import Handover, blocks, data_count

    sweep = load_sweep({
        "name": "share", "base": {"geometry": {"topography": "eggbox", "height_um": 25,
                                               "separation_um": 150}},
        "vary": {"creep.exponent": [6.56, 1, 3], "creep.slip": ["no-slip", "free-slip"],
                 "kinetics.interfacial_resistance_ohm_cm2": [10, 30]},
        "cases": [{}, {"geometry.height_um": 50}, {"mesh.resolution": "nonsense"}],
    })
    out = blocks(sweep.cases)
    assert sum(len(b) for b in out) == len(sweep.cases) == 3 * 12
    invalid = [b for b in out if b[0].config is None]
    assert len(invalid) == 12 and all(len(b) == 1 for b in invalid)
    valid = [b for b in out if b[0].config is not None]
    assert len(valid) == 4  # two meshes × two slips
    for block in valid:
        cfgs = [c.config for c in block]
        assert len({config.mesh_key(c) for c in cfgs}) == 1
        assert len({c["creep"]["slip"] for c in cfgs}) == 1
        r_int = [c["kinetics"]["interfacial_resistance_ohm_cm2"] for c in cfgs]
        n = [c["creep"]["exponent"] for c in cfgs]
        assert n == [1, 1, 3, 3, 6.56, 6.56] and r_int == [10, 30] * 3
        assert data_count(block) == 2
    handover = Handover(1)
    handover.reserve(3)
    handover.reserve(2)
    assert handover.size == 3


@serial_only
def test_the_identification_grid_sweep_is_the_benchmarks_grid_of_its_sample():
    # runs/identification_grid.toml times one sample's share of `contour-fem benchmark
    # zhang2024`: its cases must be that benchmark's cases (the same configuration hashes).
    from contour_fem.studies.experiment.run import Plan, base_table
    from contour_fem.studies.experiment.schema import load_experiment

    exp = load_experiment("zhang2024", True)
    grid = Plan(exp, base_table(None, exp)).grid()
    expected = {hashes["eggbox_H25S150"] for _, hashes in grid}
    assert {c.hash for c in load_sweep(REPO / "runs" / "identification_grid.toml").cases
            } == expected
    assert len(expected) == 30


@serial_only
def test_a_key_added_later_keeps_old_hashes_at_its_legacy_value(repo):
    # solver.stress_recovery came after results were stored, all with "velocity": at that value
    # a case keeps the hash it had without the key (its stored result is reused). The default,
    # "pressure", gives other results and so other hashes; the mesh is the same.
    egg = config.load(repo / "geometries" / "eggbox_H25S150.toml")
    assert egg["solver"]["stress_recovery"] == "pressure"
    legacy = config.load(repo / "geometries" / "eggbox_H25S150.toml",
                         {"solver.stress_recovery": "velocity"})
    without = copy.deepcopy(legacy)
    del without["solver"]["stress_recovery"]
    assert config.config_hash(legacy) == config.config_hash(without)
    assert config.config_hash(egg) != config.config_hash(legacy)
    assert config.mesh_key(egg) == config.mesh_key(legacy)


def test_the_corner_profile_keeps_old_hashes_at_circular(repo):
    # geometry.corner_profile came after rounded results were stored, all with circular arcs:
    # the default keeps their case and mesh hashes; smooth blends are another surface.
    frustum = config.load(repo / "geometries" / "frustum_H25S150.toml",
                          {"geometry.corner_radius_um": 2.0})
    assert frustum["geometry"]["corner_profile"] == "circular"
    without = copy.deepcopy(frustum)
    del without["geometry"]["corner_profile"]
    assert config.config_hash(frustum) == config.config_hash(without)
    assert config.mesh_key(frustum) == config.mesh_key(without)
    smooth = config.load(repo / "geometries" / "frustum_H25S150.toml",
                         {"geometry.corner_radius_um": 2.0, "geometry.corner_profile": "smooth"})
    assert config.config_hash(smooth) != config.config_hash(frustum)
    assert config.mesh_key(smooth) != config.mesh_key(frustum)
