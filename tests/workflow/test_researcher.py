"""The researcher's workflow: overrides, parameter listing, checks, citations, results as Python
objects, plots, and outputs that meshio, ADIOS2 and ParaView read."""

import json
from pathlib import Path

import numpy as np
import pytest

from contour_fem import load_result, load_sweep
from contour_fem.cli import main
from contour_fem.config.describe import key_markdown, key_rows

ROOT = Path(__file__).resolve().parents[2]
FLAT = "[geometry]\ntopography = 'flat'\nseparation_um = 150\n"


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    """One egg-box case with fields in µm coordinates, solved with overrides from the CLI."""
    root = tmp_path_factory.mktemp("solved")
    out = root / "h25"
    argv = ["solve", str(ROOT / "geometries" / "eggbox_H25S150.toml"), "--out", str(out),
            "--resolution", "lean", "--set", "kinetics.interfacial_resistance_ohm_cm2=30",
            "--set", "output.coordinates=um", "-q"]  # a global flag after the verb
    assert main(argv) == 0
    return out


def test_overrides_reach_the_case(solved):
    case = load_result(solved)
    assert case.run["config"]["kinetics"]["interfacial_resistance_ohm_cm2"] == 30
    assert case.run["config"]["mesh"]["resolution"] == "lean"
    assert case.result["wagner_number"] == pytest.approx(3.0, rel=1e-9)


def test_results_come_back_as_objects_in_the_units_of_the_files(solved):
    case = load_result(solved)
    assert case.result["converged"] is True
    table = case.interface
    assert set(table) == {"x_um", "y_um", "z_um", "current_ratio", "excess_pressure_MPa",
                          "critical_current_ratio_to_flat"}
    # The table samples the current's (P2) nodes; Δp_max is over the creep space's (P3) nodes,
    # which include the P2 ones: the table's maximum is at most Δp_max, and close to it.
    dp_max = case.result["max_excess_pressure_MPa"]
    assert dp_max * (1 - 2e-3) < np.nanmax(table["excess_pressure_MPa"]) <= dp_max * (1 + 1e-12)
    assert table["x_um"].max() == pytest.approx(75.0)  # the quarter cell, in µm
    assert {"current.bp", "creep.bp", "interface.bp", "mesh.vtu"} <= set(case.fields)


def test_meshio_reads_the_meshes_with_named_tags(solved):
    import meshio

    mesh = meshio.read(solved / "mesh.vtu")
    assert set(np.unique(mesh.cell_data["region"][0])) == {1, 2}
    assert mesh.points[:, 0].max() == pytest.approx(75.0)  # coordinates in µm as asked
    faces = meshio.read(solved / "boundaries.vtu")
    tags = json.loads((solved / "run.json").read_text())["mesh"]["tags"]
    boundaries = {t for name, t in tags.items() if name not in ("electrolyte", "lithium")}
    found = set(np.unique(faces.cell_data["boundary"][0]))
    # The default (auto) cell of a symmetric egg-box is the eighth cell: its diagonal face (17)
    # stands for the faces x = 0 and y = S/2.
    assert found == boundaries - {tags["side_x0"], tags["side_y1"]}
    # P2 cells in VTK's node order: node 4 is (up to curvature) the midpoint of the edge 0–1.
    p, cells = mesh.points, mesh.cells[0].data
    mid = 0.5 * (p[cells[:, 0]] + p[cells[:, 1]])
    edge = np.linalg.norm(p[cells[:, 1]] - p[cells[:, 0]], axis=1)
    assert (np.linalg.norm(p[cells[:, 4]] - mid, axis=1) < 0.1 * edge).all()  # not 0.5


def test_adios2_reads_the_fields_with_units_in_their_names(solved):
    adios2 = pytest.importorskip("adios2")  # the dev extra installs it
    with adios2.FileReader(str(solved / "interface.bp")) as reader:
        names = set(reader.available_variables())
        dp = reader.read("excess_pressure_MPa")
    assert {"current_ratio", "current_density_mA_cm2", "critical_current_ratio_to_flat"} <= names
    dp_max = load_result(solved).result["max_excess_pressure_MPa"]
    assert dp_max * (1 - 2e-3) < dp.max() <= dp_max * (1 + 1e-12)  # P2 nodes of a P3 field
    with adios2.FileReader(str(solved / "creep.bp")) as reader:
        assert {"velocity_um_h", "pressure_MPa"} <= set(reader.available_variables())
        # The mean plating speed is i·V_Li/F = 4.85 µm/h at 1 mA/cm².
        assert 3.0 < np.abs(reader.read("velocity_um_h")).max() < 10.0


def test_every_output_folder_has_a_log(solved):
    text = (solved / "log.txt").read_text()
    assert "Newton" in text and "mesh ready" in text


def test_plot_writes_figures_of_a_case_and_a_sweep(solved, tmp_path, capsys):
    assert main(["plot", str(solved)]) == 0
    assert {p.name for p in (solved / "plots").iterdir() if not p.name.startswith(".")} == {
        "interface_maps.png", "profiles.png"}
    marker = json.loads((solved / ".contour-fem.json").read_text())
    assert "plots" in marker["entries"]  # the case folder can still be replaced as a whole
    sweep = tmp_path / "s.toml"
    sweep.write_text("[base.geometry]\ntopography = 'flat'\n[base.mesh]\nresolution = 'lean'\n"
                     "[base.output]\nfields = false\n[vary]\n"
                     "'geometry.separation_um' = [100, 150]\n"
                     "'kinetics.interfacial_resistance_ohm_cm2' = [10, 30]\n")
    assert main(["-q", "sweep", str(sweep)]) == 0
    table = load_sweep(tmp_path / "s")
    assert len(table) == 4 and table.ok().all()
    assert table.keys == ["geometry.separation_um", "kinetics.interfacial_resistance_ohm_cm2"]
    assert np.allclose(table["critical_current_ratio_to_flat"], 1.0)
    assert main(["plot", str(tmp_path / "s")]) == 0
    assert (tmp_path / "s" / "plots" / "sweep.png").stat().st_size > 0


def test_params_lists_every_key_with_default_unit_range_and_source(capsys):
    assert main(["params"]) == 0
    text = capsys.readouterr().out
    for key in ("geometry.height_um", "kinetics.interfacial_resistance_ohm_cm2",
                "creep.prefactor_per_s_MPa_n", "criterion.k_per_MPa", "solver.creep_degree"):
        assert key in text
    rows = {f"{r['section']}.{r['key']}": r for r in key_rows()}
    assert rows["electrolyte.conductivity_mS_cm"]["default"] == "1.5"
    assert rows["electrolyte.conductivity_mS_cm"]["unit"] == "mS/cm"
    assert "Singh" in rows["electrolyte.conductivity_mS_cm"]["source"]
    assert rows["geometry.corner_radius_um"]["applies"] == "topography = pyramid | frustum"


def test_the_parameter_page_in_the_docs_is_current():
    assert (ROOT / "docs" / "parameters.md").read_text() == key_markdown(), \
        "regenerate it: contour-fem params --markdown > docs/parameters.md"


def test_check_prints_the_resolved_case_and_its_cost(capsys):
    assert main(["check", str(ROOT / "geometries" / "eggbox_H25S150.toml"),
                 "--resolution", "lean", "--set", "solver.creep_degree=3",
                 "--set", "mesh.domain=quarter"]) == 0
    out = capsys.readouterr().out
    assert '"resolution": "lean"' in out
    assert "33,179 creep DOFs" in out  # exact for structured meshes


def test_check_a_sweep_counts_its_cases(tmp_path, capsys):
    sweep = tmp_path / "s.toml"
    sweep.write_text("[base.geometry]\ntopography = 'eggbox'\nseparation_um = 150\n"
                     "[vary]\n'geometry.height_um' = [5, 25, -1]\n")
    assert main(["check", str(sweep)]) == 0
    out = capsys.readouterr().out
    assert "3 cases" in out and "invalid" in out and "geometry.height_um" in out


def test_cite_names_the_tool_and_the_works_a_result_uses(solved, capsys):
    assert main(["cite", str(solved)]) == 0
    out = capsys.readouterr().out
    assert "contour_fem" in out and "10.1039/d3ee03322h" in out and "Masias" in out
    assert "[monroe2004]" not in out  # the coupling was off


def test_global_flags_work_before_and_after_the_verb(tmp_path, capsys):
    cfg = tmp_path / "flat.toml"
    cfg.write_text(FLAT + "[mesh]\nresolution = 'lean'\n")
    assert main(["check", str(cfg), "--debug", "-q"]) == 0
    assert main(["-v", "check", str(cfg)]) == 0
