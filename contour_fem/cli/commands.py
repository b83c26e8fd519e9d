"""The verbs of ``contour-fem``: each registers its parser and runs a driver (no physics here)."""

from __future__ import annotations

import argparse
import json
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

from mpi4py import MPI

from contour_fem import config
from contour_fem.case import run_case
from contour_fem.cli.logs import log_file
from contour_fem.config.describe import key_markdown, key_text
from contour_fem.core.errors import InputError, OutputError
from contour_fem.core.files import read_text
from contour_fem.core.parallel import on_root
from contour_fem.geometry.spec import MAX_CELLS
from contour_fem.io import plots
from contour_fem.io.citation import citation_text
from contour_fem.io.fields import tag_names, write_mesh_vtu
from contour_fem.io.files import write_json
from contour_fem.io.output import staged_output
from contour_fem.io.results import mesh_info, write_case_result
from contour_fem.mesh import create_cell_mesh
from contour_fem.studies import convergence
from contour_fem.studies.estimate import estimate
from contour_fem.studies.experiment import run_benchmark
from contour_fem.studies.sweep.grammar import load_sweep
from contour_fem.studies.sweep.runner import run_sweep

Flags = Callable[[argparse.ArgumentParser], None]
RESOLUTIONS = config.SCHEMA["mesh"]["resolution"].meta.choices
#: Longest case name used as a default folder name (file systems allow 255 bytes).
MAX_FOLDER_NAME = 200


def _override_options(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help=f"override a key of the {what} (repeatable), e.g. "
                        "--set kinetics.interfacial_resistance_ohm_cm2=30")
    p.add_argument("--resolution", choices=RESOLUTIONS,
                   help="shorthand for --set mesh.resolution=NAME")


def _case_options(p: argparse.ArgumentParser, default_out: str) -> None:
    p.add_argument("config", help="case file (TOML), e.g. geometries/eggbox_H25S150.toml")
    p.add_argument("--out", help=f"output folder (default {default_out})")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier output of this command in --out")
    _override_options(p, "case file")
    p.add_argument("--allow-large", action="store_true",
                   help=f"allow meshes above mesh.max_cells (default {MAX_CELLS:,} cells)")


def _overrides(args) -> dict:
    overrides = config.parse_overrides(args.set)
    if getattr(args, "resolution", None):
        overrides["mesh.resolution"] = args.resolution
    if getattr(args, "allow_large", False):
        overrides["mesh.max_cells"] = config.SCHEMA["mesh"]["max_cells"].meta.hi
    return overrides


def _load_case(args) -> tuple[dict, object]:
    cfg = config.load(args.config, overrides=_overrides(args))
    return cfg, config.build_case(cfg)


def _out(args, default: Path) -> Path:
    """The output folder: ``--out``, or the default named after the case."""
    if args.out is not None:
        if args.out.strip() == "":
            raise OutputError("--out: the path is empty")
        return Path(args.out)
    if len(default.name) > MAX_FOLDER_NAME:
        raise OutputError(f"the case name is too long for a folder name ({len(default.name)} "
                          f"characters, at most {MAX_FOLDER_NAME}); give --out")
    return default


def _cmd_mesh(args, comm: MPI.Comm) -> int:
    cfg, case = _load_case(args)
    out = _out(args, Path("out") / f"{cfg['name']}-mesh")
    with (staged_output(out, comm, "mesh", inputs=[args.config], overwrite=args.overwrite)
          as stage, log_file(stage / "log.txt", comm)):
        t0 = time.perf_counter()
        cm = create_cell_mesh(comm, case.topography, case.cell, msh_path=stage / "mesh.msh")
        elapsed = time.perf_counter() - t0
        cm.write_xdmf(stage / "mesh.xdmf")
        write_mesh_vtu(cm, stage, cfg["output"]["coordinates"])
        info = {**mesh_info(cm, case, cfg, elapsed), "tags": tag_names()}
        on_root(comm, write_json, stage / "info.json", info)
    if comm.rank == 0:
        print(f"{cfg['name']}: {info['cells']} cells, {info['nodes']} nodes, area ratio "
              f"{info['area_ratio']:.6f} (exact {info['area_ratio_exact']:.6f}), "
              f"{elapsed:.2f} s -> {out}")
    return 0


def _cmd_solve(args, comm: MPI.Comm) -> int:
    cfg, case = _load_case(args)
    out = _out(args, Path("out") / cfg["name"])
    with (staged_output(out, comm, "solve", inputs=[args.config], overwrite=args.overwrite)
          as stage, log_file(stage / "log.txt", comm)):
        result = run_case(case, comm)
        write_case_result(result, stage, config=cfg, fields=cfg["output"]["fields"],
                          coordinates=cfg["output"]["coordinates"])
    if comm.rank == 0:
        r = result.to_json()
        print(f"{cfg['name']}: f_max {r['max_current_ratio']:.4f}, Δp_max "
              f"{r['max_excess_pressure_MPa']:.4f} MPa, critical current "
              f"{r['critical_current_ratio_to_flat']:.3f} × flat with k = "
              f"{r['criterion_k_per_MPa']:g} /MPa as configured, not identified "
              f"({r['critical_current_mA_cm2']:.4g} mA/cm² for a flat value of "
              f"{r['flat_critical_current_mA_cm2']:g}; only ratios to flat are predicted; "
              f"contour-fem benchmark identifies k), {r['wall_time_s']:.1f} s -> {out}")
    return 0


def _cmd_convergence(args, comm: MPI.Comm) -> int:
    cfg, case = _load_case(args)
    out = _out(args, Path("out") / f"{cfg['name']}-convergence")
    with (staged_output(out, comm, "convergence", inputs=[args.config],
                        overwrite=args.overwrite) as stage, log_file(stage / "log.txt", comm)):
        record = convergence.study_record(case, comm, args.levels)
        on_root(comm, write_json, stage / "convergence.json", {"config": cfg, **record})
    if comm.rank == 0:
        print(convergence.format_table(record))
    # Failed levels are recorded and the study goes on; without three solved levels it has
    # no analysis to give.
    return 0 if len(record["levels"]) >= 3 else 1


def _cmd_sweep(args, comm: MPI.Comm) -> int:
    """Returns 0 when every case was processed (failed ones included)."""
    path = Path(args.sweep)
    default = path.with_suffix("") if path.suffix == ".toml" else path.with_name(
        path.name + ".out")
    out = _out(args, default)
    summary = run_sweep(args.sweep, out, comm, ranks_per_case=args.ranks_per_case,
                        task_index=args.task_index, task_count=args.task_count,
                        retry_failed=args.retry_failed, overrides=_overrides(args))
    if comm.rank == 0:
        print(f"{summary['name']}: {summary['done']} done, {summary['failed']} failed, "
              f"{summary['skipped']} skipped in {summary['wall_time_s']:.1f} s; whole sweep "
              f"{summary['ok_total']}/{summary['total']} ok, {summary['failed_total']} failed, "
              f"{summary['pending_total']} pending -> {summary['results_csv']}")
    return 0


def _cmd_benchmark(args, comm: MPI.Comm) -> int:
    stem = Path(args.experiment).stem if args.experiment.endswith(".toml") else args.experiment
    out = _out(args, Path("runs") / stem)
    summary = run_benchmark(args.experiment, out, comm, ranks_per_case=args.ranks_per_case,
                            sensitivity=not args.no_sensitivity, overrides=_overrides(args),
                            identify=False if args.no_identify else
                            config.parse_overrides(args.identify))
    if comm.rank == 0:
        facts = [f for f in summary["facts"] if f["passed"] is not None]
        passed = sum(f["passed"] for f in facts)
        point = ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                          for k, v in summary["point"].items()) or "the base case"
        print(f"{summary['benchmark']}: {passed}/{len(facts)} facts reproduced at {point}; "
              f"{summary['wall_time_s']:.0f} s -> {out / 'report.md'}")
        for f in summary["facts"]:
            mark = "n/a " if f["passed"] is None else ("pass" if f["passed"] else "FAIL")
            print(f"  {mark} {f['id']:4s} {f['detail']}")
    return 0


def _cmd_params(args, comm: MPI.Comm) -> int:
    if comm.rank == 0:
        print(key_markdown() if args.markdown else key_text(), end="" if args.markdown else "\n")
    return 0


def _is_sweep(path: str) -> bool:
    try:
        table = tomllib.loads(read_text(path, "file"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: malformed TOML: {exc}") from None
    return any(k in table for k in ("base", "vary", "zip", "cases"))


def _describe_case(name: str, case) -> str:
    est = estimate(case)
    how = "" if est.exact else " (estimated)"
    return (f"{name}: {est.cells:,} cells{how}, {est.current_dofs:,} current DOFs, "
            f"{est.creep_dofs:,} creep DOFs; about {est.seconds(1):.0f} s on 1 rank, "
            f"{est.seconds(2):.0f} s on 2 (docs/performance.md)")


def _cmd_check(args, comm: MPI.Comm) -> int:
    """Validate a case or sweep file; print the resolved configuration and the cost."""
    overrides = _overrides(args)
    if _is_sweep(args.file):
        sweep = load_sweep(args.file, overrides=overrides)
        lines = [f"sweep {sweep.name}: {len(sweep.cases)} cases"
                 + (f" ({len(sweep.duplicates)} identical ones merged)" if sweep.duplicates
                    else "")]
        total = 0.0
        for case in sweep.cases:
            if case.error is not None:
                lines.append(f"  invalid {case.name}: {case.error[1]}")
                continue
            built = config.build_case(case.config)
            total += estimate(built).seconds(1)
            lines.append("  " + _describe_case(case.name, built))
        lines.append(f"about {total / 60:.1f} min of one rank in all")
    else:
        cfg = config.load(args.file, overrides=overrides)
        lines = [json.dumps(cfg, indent=2), _describe_case(cfg["name"], config.build_case(cfg))]
    if comm.rank == 0:
        print("\n".join(lines))
    return 0


def _cmd_cite(args, comm: MPI.Comm) -> int:
    if comm.rank == 0:
        print(citation_text(args.folder))
    return 0


def _cmd_plot(args, comm: MPI.Comm) -> int:
    folder = Path(args.folder)
    out = _out(args, folder / "plots")
    with staged_output(out, comm, "plot", overwrite=args.overwrite) as stage:
        written = on_root(comm, plots.plot_folder, folder, stage)
    on_root(comm, plots.record_in_marker, folder, out)
    if comm.rank == 0:
        print(f"{folder}: " + ", ".join(p.name for p in written) + f" -> {out}")
    return 0


def _register_case_verbs(sub, flags: Flags) -> None:
    parsers = {}
    for verb, func, default, text in (
            ("mesh", _cmd_mesh, "out/<name>-mesh",
             "mesh a unit cell: mesh.msh, mesh.vtu, boundaries.vtu, mesh.xdmf, info.json"),
            ("solve", _cmd_solve, "out/<name>",
             "run one case: result.json, run.json, interface.csv, fields for ParaView"),
            ("convergence", _cmd_convergence, "out/<name>-convergence",
             "the case on refinements of its own mesh family, Richardson table")):
        p = sub.add_parser(verb, help=text)
        _case_options(p, default)
        flags(p)
        p.set_defaults(func=func)
        parsers[verb] = p
    parsers["convergence"].add_argument(
        "--levels", type=float, nargs="+", default=list(convergence.DEFAULT_LEVELS),
        metavar="R", help="refinements of the case's own mesh family, e.g. 0.667 1 1.5 2.25 "
        "(every size divided by R; default 2/3 1 1.5)")


def _register_sweep(sub, flags: Flags) -> None:
    p = sub.add_parser(
        "sweep", help="run a parameter sweep: OUT/cases/<hash>/, OUT/results.csv",
        description="Run or resume a parameter sweep (file format: docs/sweeps.md).")
    p.add_argument("sweep", help="sweep TOML, e.g. runs/zhang2024_height.toml")
    p.add_argument("--out", help="output folder (default: next to the sweep file, named after "
                   "its stem, e.g. runs/zhang2024_height/)")
    p.add_argument("--ranks-per-case", type=int, default=1, metavar="K",
                   help="MPI ranks per case; the ranks form size/K groups (default 1)")
    p.add_argument("--task-index", type=int, default=0, metavar="I",
                   help="index of this task in a job array, e.g. $SLURM_ARRAY_TASK_ID")
    p.add_argument("--task-count", type=int, default=1, metavar="M",
                   help="number of tasks in the job array, e.g. $SLURM_ARRAY_TASK_COUNT")
    p.add_argument("--retry-failed", action="store_true",
                   help="rerun cases that failed before (default: skip them)")
    _override_options(p, "sweep's base case")
    flags(p)
    p.set_defaults(func=_cmd_sweep)


def _register_benchmark(sub, flags: Flags) -> None:
    p = sub.add_parser("benchmark", help="identify an experiment's unknowns, check its facts "
                       "and measurements at the best point, write the report")
    p.add_argument("experiment", help="built-in experiment (zhang2024) or an experiment file "
                   "(TOML, docs/experiments.md)")
    p.add_argument("--out", help="output folder (default runs/<experiment name>)")
    p.add_argument("--ranks-per-case", type=int, default=1, metavar="K",
                   help="MPI ranks per case (default 1)")
    p.add_argument("--no-sensitivity", action="store_true", help="skip the sensitivity rows")
    p.add_argument("--no-identify", action="store_true",
                   help="ignore [identify]: check the facts at the base case only")
    p.add_argument("--identify", action="append", default=[], metavar="KEY=VALUES",
                   help="search KEY over VALUES (a TOML list or {min, max, scale, count}) "
                        "instead of the file's [identify] entry, e.g. "
                        "--identify creep.exponent=[1,6.56] (repeatable)")
    _override_options(p, "base case of every sample")
    flags(p)
    p.set_defaults(func=_cmd_benchmark)


def _register_tools(sub, flags: Flags) -> None:
    p = sub.add_parser("params", help="list every case-file key: default, unit, range, source")
    p.add_argument("--markdown", action="store_true", help="as Markdown tables")
    flags(p)
    p.set_defaults(func=_cmd_params)

    p = sub.add_parser("check", help="validate a case or sweep file; print the resolved "
                       "configuration and the estimated DOFs and time")
    p.add_argument("file", help="case or sweep file (TOML)")
    _override_options(p, "case file")
    p.add_argument("--allow-large", action="store_true", help="as for solve")
    flags(p)
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("cite", help="what to cite: this tool and the works a result uses")
    p.add_argument("folder", nargs="?", help="a case folder (default: the default case)")
    flags(p)
    p.set_defaults(func=_cmd_cite)

    p = sub.add_parser("plot", help="figures of a case or sweep folder (PNG)")
    p.add_argument("folder", help="a folder written by solve, sweep or benchmark")
    p.add_argument("--out", help="output folder (default FOLDER/plots)")
    p.add_argument("--overwrite", action="store_true", help="replace earlier plots in --out")
    flags(p)
    p.set_defaults(func=_cmd_plot)


#: Every verb's registration, in the order ``--help`` lists them.
REGISTRY = (_register_case_verbs, _register_sweep, _register_benchmark, _register_tools)
