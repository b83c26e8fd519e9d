"""Data safety and clean failure: a table of bad inputs through every verb.

Every bad input must give exit status 2, one line on stderr that names the key, file or option,
no traceback, nothing written, and every file that was there before unchanged.
"""

import hashlib
import os
from pathlib import Path

import pytest

from contour_fem.cli import main

GOOD = "[geometry]\ntopography = 'eggbox'\nheight_um = 25\nseparation_um = 150\n"


def case(extra: str = "", geometry: str = GOOD) -> str:
    return geometry + extra


# (case-file text, what the message must name). Each runs through mesh, solve and convergence.
BAD_CASES = {
    "unknown key": (case("foo = 1\n"), "geometry.foo"),
    "missing separation": ("[geometry]\ntopography = 'eggbox'\nheight_um = 25\n",
                           "geometry.separation_um"),
    "height not a number": (GOOD.replace("25", "'tall'"), "geometry.height_um"),
    "negative height": (GOOD.replace("25", "-5"), "geometry.height_um"),
    "nan height": (GOOD.replace("25", "nan"), "geometry.height_um"),
    "huge height": (GOOD.replace("25", "1e300"), "height"),
    "huge separation": (GOOD.replace("150", "1e300"), "geometry.separation_um"),
    "tiny separation": (GOOD.replace("150", "1e-9"), "geometry.separation_um"),
    "unknown topography": (GOOD.replace("'eggbox'", "'cone'"), "geometry.topography"),
    "frustum too wide": ("[geometry]\ntopography = 'frustum'\nheight_um = 25\n"
                         "separation_um = 150\ntop_width_um = 100\ngap_um = 60\n", "top_width"),
    "corner radius on egg-box": (case("corner_radius_um = 1\n"), "geometry.corner_radius_um"),
    "gap on egg-box": (case("gap_um = 10\n"), "geometry.gap_um"),
    "top width on pyramid": (GOOD.replace("'eggbox'", "'pyramid'") + "top_width_um = 5\n",
                             "geometry.top_width_um"),
    "form on pyramid": (GOOD.replace("'eggbox'", "'pyramid'") + "form = 'sum'\n",
                        "geometry.form"),
    "height on flat": ("[geometry]\ntopography = 'flat'\nheight_um = 5\nseparation_um = 150\n",
                       "geometry.height_um"),
    "geometry not a table": ("geometry = 5\n", "geometry"),
    "unknown section": (case("[meshes]\nresolution = 'coarse'\n"), "meshes"),
    "unknown resolution": (case("[mesh]\nresolution = 'ultra'\n"), "mesh.resolution"),
    "geometry order 3": (case("[mesh]\norder = 3\n"), "mesh.order"),
    "structured not a bool": (case("[mesh]\nstructured = 'yes'\n"), "mesh.structured"),
    "negative thickness": (case("[mesh]\nelectrolyte_thickness_um = -1\n"),
                           "mesh.electrolyte_thickness_um"),
    "too many cells": (case("[mesh]\ninterface_size_um = 0.5\n"), "max_cells"),
    "zero conductivity": (case("[electrolyte]\nconductivity_mS_cm = 0\n"),
                          "electrolyte.conductivity_mS_cm"),
    "both resistance and i0": (case("[kinetics]\ninterfacial_resistance_ohm_cm2 = 5\n"
                                    "exchange_current_density_mA_cm2 = 2\n"),
                               "interfacial_resistance_ohm_cm2"),
    "alpha without i0": (case("[kinetics]\nalpha_a = 0.3\n"), "kinetics.alpha_a"),
    "resistance with primary": (case("[kinetics]\ndistribution = 'primary'\n"
                                     "interfacial_resistance_ohm_cm2 = 5\n"),
                                "kinetics.interfacial_resistance_ohm_cm2"),
    "exponent too large": (case("[creep]\nexponent = 30\n"), "creep.exponent"),
    "unknown slip": (case("[creep]\nslip = 'partial'\n"), "creep.slip"),
    "negative stack pressure": (case("[operating]\nstack_pressure_MPa = -1\n"),
                                "operating.stack_pressure_MPa"),
    "temperature 1 K": (case("[operating]\ntemperature_K = 1\n"), "operating.temperature_K"),
    "k in physical mode": (case("[criterion]\nmode = 'physical'\nk_per_MPa = 0.1\n"),
                           "criterion.k_per_MPa"),
    "crack depth in calibrated mode": (case("[criterion]\ncrack_depth_um = 50\n"),
                                       "criterion.crack_depth_um"),
    "creep degree 4": (case("[solver]\ncreep_degree = 4\n"), "solver.creep_degree"),
    "zero regularisation": (case("[solver]\nregularisation = 0\n"), "solver.regularisation"),
    "zero Newton steps": (case("[solver]\nnewton_max_it = 0\n"), "solver.newton_max_it"),
    "coupling without kinetics": (case("[kinetics]\ndistribution = 'primary'\n"
                                       "[solver]\ncoupling = true\n"), "coupling"),
    "name with a path": ("name = '../../x'\n" + GOOD, "name"),
    "absolute name": ("name = '/tmp/x'\n" + GOOD, "name"),
    "name is a dot": ("name = '.'\n" + GOOD, "name"),
    "malformed TOML": ("[geometry\ntopography = 'eggbox'\n", "malformed TOML"),
}

VERBS = ("mesh", "solve", "convergence")


def snapshot(root: Path) -> dict[str, str]:
    """Every file below ``root`` with a hash of its content (folders as entries too)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_file():
            with open(path, "rb") as fh:  # not Path.read_bytes: one test patches it
                out[rel] = hashlib.sha256(fh.read()).hexdigest()
        else:
            out[rel] = "<dir>"
    return out


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A working folder holding a user's files; default outputs would land in it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("a user's notes\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "keep.csv").write_text("1,2,3\n")
    return tmp_path


def run_bad(argv: list[str], root: Path, capsys, names: str) -> None:
    before = snapshot(root)
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, (argv, err)
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert names in err, (names, err)
    assert snapshot(root) == before, "something was written or changed"


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("what", sorted(BAD_CASES))
def test_bad_case_files(workdir, capsys, verb, what):
    text, names = BAD_CASES[what]
    cfg = workdir / "bad.toml"
    cfg.write_text(text)
    run_bad([verb, str(cfg)], workdir, capsys, names)
    run_bad([verb, str(cfg), "--out", str(workdir / "out")], workdir, capsys, names)


MAP = "[geometry]\ntopography = 'heightmap'\nfile = 'map.csv'\npixel_um = {pixel}\n"
GRID = "\n".join(",".join(f"{(i * j) % 5:g}" for i in range(8)) for j in range(8)) + "\n"
RANDOM = ("[geometry]\ntopography = 'random'\nseparation_um = 100\nrms_height_um = 1\n"
          "correlation_length_um = {lam}\n")

# (case text, map file content or None, what the message must name)
BAD_SURFACES = {
    "nan in the map": (MAP.format(pixel=2), GRID.replace("1,", "nan,", 1), "map.csv"),
    "infinite height": (MAP.format(pixel=2), GRID.replace("1,", "inf,", 1), "map.csv"),
    "map of 2 x 2": (MAP.format(pixel=2), "1,2\n3,4\n", "map.csv"),
    "ragged map": (MAP.format(pixel=2), GRID + "1,2\n", "map.csv"),
    "not square": (MAP.format(pixel=2), "\n".join(["1,2,3,4,5"] * 4) + "\n", "map.csv"),
    "text in the map": (MAP.format(pixel=2), GRID.replace("1,", "x,", 1), "map.csv"),
    "missing map": (MAP.format(pixel=2), None, "map.csv"),
    "nan pixel": (MAP.format(pixel="nan"), GRID, "geometry.pixel_um"),
    "negative pixel": (MAP.format(pixel=-1), GRID, "geometry.pixel_um"),
    "heights far taller than the map": (MAP.format(pixel=1e-3), GRID.replace("1,", "9e9,", 1),
                                        "height"),
    "no file key": ("[geometry]\ntopography = 'heightmap'\npixel_um = 2\n", None,
                    "geometry.file"),
    "correlation longer than the cell": (RANDOM.format(lam=150), None, "correlation_length"),
    "unknown spectrum": (RANDOM.format(lam=20) + "spectrum = 'pink'\n", None,
                         "geometry.spectrum"),
}


@pytest.mark.parametrize("what", sorted(BAD_SURFACES))
def test_bad_measured_and_random_surfaces(workdir, capsys, what):
    text, content, names = BAD_SURFACES[what]
    if content is not None:
        (workdir / "map.csv").write_text(content)
    cfg = workdir / "bad.toml"
    cfg.write_text(text)
    for verb in VERBS:
        run_bad([verb, str(cfg)], workdir, capsys, names)


def _unreadable(workdir: Path) -> Path:
    path = workdir / "locked.toml"
    path.write_text(GOOD)
    return path


BAD_FILES = {
    "missing file": (lambda w: w / "nothing.toml", "not found"),
    "a folder": (lambda w: w / "data", "is a folder"),
    "not UTF-8": (lambda w: (w / "latin1.toml").write_bytes(
        GOOD.encode() + "# caf\xe9\n".encode("latin-1")) and w / "latin1.toml", "not UTF-8"),
    "empty path": (lambda w: "", "path is empty"),
}


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("what", sorted(BAD_FILES))
def test_unreadable_case_files(workdir, capsys, verb, what):
    make, names = BAD_FILES[what]
    path = make(workdir)
    run_bad([verb, str(path)], workdir, capsys, names)


def test_permission_denied_names_the_file(workdir, capsys, monkeypatch):
    # Root reads any file, so the denial is simulated where the package reads it.
    path = _unreadable(workdir)
    real = Path.read_bytes

    def deny(self):
        if self.name == "locked.toml":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", deny)
    run_bad(["solve", str(path)], workdir, capsys, "permission denied")


def test_a_byte_order_mark_is_accepted(workdir):
    cfg = workdir / "bom.toml"
    cfg.write_bytes(b"\xef\xbb\xbf" + ("name = 'bom'\n" + GOOD
                                       + "[mesh]\nresolution = 'lean'\n").encode())
    from contour_fem import config

    assert config.load(cfg)["name"] == "bom"


def _outputs(workdir: Path) -> dict[str, tuple[list[str], str]]:
    """Bad output locations: name → (extra arguments, what the message must name)."""
    (workdir / "a_file").write_text("x")
    (workdir / "theirs").mkdir()
    (workdir / "theirs" / "thesis.tex").write_text("\\chapter{}")
    sub = workdir / "cases" / "deep"
    sub.mkdir(parents=True)
    return {
        "an existing file": (["--out", "a_file"], "is a file"),
        "below a file": (["--out", "a_file/out"], "a file"),
        "the working folder": (["--out", "."], "working folder"),
        "a parent of the working folder": (["--out", ".."], "working folder"),
        "a folder with someone's files": (["--out", "theirs"], "did not write"),
        "the input file's folder": (["--out", "cases/deep"], "input file"),
        "a parent of the input's folder": (["--out", "cases"], "input file"),
        "an empty path": (["--out", ""], "empty"),
    }


@pytest.mark.parametrize("verb", ["mesh", "solve", "convergence"])
def test_bad_output_locations_are_refused_before_any_work(workdir, capsys, verb):
    outputs = _outputs(workdir)
    cfg = workdir / "cases" / "deep" / "good.toml"
    cfg.write_text(GOOD + "[mesh]\nresolution = 'lean'\n")
    for extra, names in outputs.values():
        run_bad([verb, str(cfg), *extra], workdir, capsys, names)


def test_outputs_of_the_tool_are_replaced_only_when_asked(workdir, capsys):
    cfg = workdir / "flat.toml"
    cfg.write_text("[geometry]\ntopography = 'flat'\nseparation_um = 150\n"
                   "[mesh]\nresolution = 'lean'\n")
    assert main(["-q", "mesh", str(cfg)]) == 0
    mesh_out = workdir / "out" / "flat-mesh"
    assert (mesh_out / "mesh.msh").is_file()
    # solve and mesh have different default folders: solving keeps the mesh just made.
    assert main(["-q", "solve", str(cfg)]) == 0
    assert (mesh_out / "mesh.msh").is_file()
    assert (workdir / "out" / "flat" / "result.json").is_file()
    capsys.readouterr()
    # The same command again needs --overwrite; another command's folder is refused.
    run_bad(["solve", str(cfg)], workdir, capsys, "--overwrite")
    run_bad(["solve", str(cfg), "--out", str(mesh_out)], workdir, capsys, "contour-fem mesh")
    assert main(["-q", "solve", str(cfg), "--overwrite"]) == 0
    # A file the user put in the tool's folder makes it theirs: it is never replaced.
    (workdir / "out" / "flat" / "my_plot.png").write_bytes(b"png")
    run_bad(["solve", str(cfg), "--overwrite"], workdir, capsys, "my_plot.png")
    assert (workdir / "out" / "flat" / "my_plot.png").read_bytes() == b"png"


def test_files_follow_the_umask(workdir):
    cfg = workdir / "flat.toml"
    cfg.write_text("[geometry]\ntopography = 'flat'\nseparation_um = 150\n"
                   "[mesh]\nresolution = 'lean'\n[output]\nfields = false\n")
    old = os.umask(0o002)
    try:
        assert main(["-q", "solve", str(cfg), "--out", "shared"]) == 0
    finally:
        os.umask(old)
    for name in ("result.json", "run.json", "interface.csv"):
        assert (workdir / "shared" / name).stat().st_mode & 0o777 == 0o664, name


def test_tables_hold_no_infinities(tmp_path):
    from contour_fem.io.files import write_csv

    write_csv(tmp_path / "t.csv", ["a", "b"], [(1.0, float("inf")), (float("nan"), 2.0)])
    assert (tmp_path / "t.csv").read_text() == "a,b\n1.0,\n,2.0\n"


BAD_SWEEPS = {
    "unknown top-level key": ("name = 'm'\nvarry = 1\n", "varry"),
    "unknown dotted key": ("[base.geometry]\ntopography = 'flat'\nseparation_um = 150\n"
                           "[vary]\n'geometry.hieght_um' = [1]\n", "geometry.hieght_um"),
    "empty list": ("[base.geometry]\ntopography = 'flat'\n[vary]\n"
                   "'geometry.separation_um' = []\n", "geometry.separation_um"),
    "zip lengths": ("[base.geometry]\ntopography = 'flat'\n[zip]\n"
                    "'geometry.separation_um' = [1, 2]\n'creep.exponent' = [3.0]\n", "zip"),
    "missing base file": ("base = 'nowhere.toml'\n", "nowhere.toml"),
    "base is a folder": ("base = 'data'\n", "is a folder"),
    "cases CSV not UTF-8": ("cases = 'latin1.csv'\n", "not UTF-8"),
    "no case resolves": ("[base.geometry]\ntopography = 'eggbox'\n[vary]\n"
                         "'geometry.height_um' = [5, 25]\n", "geometry.separation_um"),
    "malformed TOML": ("[vary\n", "malformed TOML"),
}


@pytest.mark.parametrize("what", sorted(BAD_SWEEPS))
def test_bad_sweep_files(workdir, capsys, what):
    latin1 = "geometry.separation_um\n150 # caf\xe9\n".encode("latin-1")
    (workdir / "latin1.csv").write_bytes(latin1)
    text, names = BAD_SWEEPS[what]
    sweep = workdir / "bad_sweep.toml"
    sweep.write_text(text)
    run_bad(["sweep", str(sweep), "--out", "sweep_out"], workdir, capsys, names)


@pytest.mark.parametrize("argv, names", [
    (["sweep", "missing.toml"], "not found"),
    (["sweep", "data"], "is a folder"),
    (["sweep", "ok.toml", "--ranks-per-case", "0"], "--ranks-per-case"),
    (["sweep", "ok.toml", "--task-index", "2", "--task-count", "2"], "--task-index"),
    (["sweep", "ok.toml", "--out", "notes.txt"], "is a file"),
    (["sweep", "ok.toml", "--out", "data"], "did not write"),
    (["benchmark", "nobody2099"], "experiment"),
    (["benchmark", "zhang2024", "--out", "notes.txt"], "is a file"),
    (["solve", "ok.toml", "--set", "mesh.resolution"], "--set"),
    (["solve", "ok.toml", "--set", "mesh.bogus=1"], "mesh.bogus"),
    (["solve", "ok.toml", "--set", "mesh.resolution=ultra"], "mesh.resolution"),
])
def test_bad_options(workdir, capsys, argv, names):
    (workdir / "ok.toml").write_text("[base.geometry]\ntopography = 'flat'\nseparation_um = 150\n"
                                     if argv[0] == "sweep" else GOOD)
    run_bad(argv, workdir, capsys, names)


def test_argparse_errors_exit_2(workdir, capsys):
    before = snapshot(workdir)
    assert main(["solve", "x.toml", "--resolution", "ultra"]) == 2
    assert main(["frobnicate"]) == 2
    assert snapshot(workdir) == before
