"""Command line: ``contour-fem {mesh,solve,convergence,sweep,benchmark,bench} …``.

A thin layer: it parses arguments, configures logging (rank 0 only by default), calls the
drivers, and turns every expected error into one line on stderr and a non-zero exit code.
Outputs are staged in a hidden folder and moved into place only when the command succeeded.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from mpi4py import MPI

from contour_fem import __version__
from contour_fem.errors import ContourFemError

log = logging.getLogger("contour_fem.cli")


def _setup_logging(comm: MPI.Comm, verbose: int, quiet: bool, all_ranks: bool) -> None:
    root = logging.getLogger("contour_fem")
    root.handlers.clear()
    root.propagate = False
    if comm.rank != 0 and not all_ranks:
        root.addHandler(logging.NullHandler())
        return
    level = logging.WARNING if quiet else logging.DEBUG if verbose > 0 else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    prefix = f"[{comm.rank}] " if all_ranks else ""
    handler.setFormatter(logging.Formatter(f"{prefix}%(asctime)s %(message)s", "%H:%M:%S"))
    root.addHandler(handler)
    root.setLevel(level)


@contextlib.contextmanager
def staged_output(out: Path, comm: MPI.Comm) -> Iterator[Path]:
    """Yield a hidden staging folder; on success it replaces ``out``, on failure it is removed."""
    out = Path(out)
    name = comm.bcast(f".{out.name}.partial-{uuid.uuid4().hex[:8]}" if comm.rank == 0 else None)
    stage = out.parent / name
    if comm.rank == 0:
        stage.mkdir(parents=True)
    comm.barrier()
    ok = False
    try:
        yield stage
        ok = True
    finally:
        ok = comm.allreduce(ok, op=MPI.LAND)
        if comm.rank == 0:
            if ok:
                if out.exists():
                    shutil.rmtree(out)
                stage.rename(out)
            else:
                shutil.rmtree(stage, ignore_errors=True)
        comm.barrier()


def _cmd_mesh(args, comm) -> int:
    from contour_fem import config
    from contour_fem.mesh import create_cell_mesh
    from contour_fem.provenance import platform_info, versions, write_json

    cfg = config.load(args.config)
    case = config.build_case(cfg)
    out = Path(args.out or Path("out") / cfg["name"])
    with staged_output(out, comm) as stage:
        t0 = time.perf_counter()
        cm = create_cell_mesh(comm, case.topography, case.cell, msh_path=stage / "mesh.msh")
        elapsed = time.perf_counter() - t0
        cm.write_xdmf(stage / "mesh.xdmf")
        area = cm.interface_area()
        info = {
            "inputs": {"geometry": cfg["geometry"], "mesh": cfg["mesh"], "name": cfg["name"]},
            "cell": cm.cell,
            **cm.counts(),
            "interface_area_um2": area * 1e12,
            "projected_area_um2": cm.projected_area * 1e12,
            "area_ratio": area / cm.projected_area,
            "area_ratio_exact": case.topography.area_ratio(),
            "min_jacobian": cm.min_jacobian(),
            "wall_time_s": elapsed,
            "platform": platform_info(comm.size),
            "versions": versions(),
        }
        if comm.rank == 0:
            write_json(stage / "info.json", info)
    if comm.rank == 0:
        print(f"{cfg['name']}: {info['cells']} cells, {info['nodes']} nodes, area ratio "
              f"{info['area_ratio']:.6f} (exact {info['area_ratio_exact']:.6f}), "
              f"{elapsed:.2f} s -> {out}")
    return 0


def _cmd_solve(args, comm) -> int:
    from contour_fem import config
    from contour_fem.case import run_case

    cfg = config.load(args.config)
    case = config.build_case(cfg)
    out = Path(args.out or Path("out") / cfg["name"])
    result = run_case(case, comm)
    with staged_output(out, comm) as stage:
        result.write(stage, config=cfg, fields=cfg["output"]["fields"])
    if comm.rank == 0:
        r = result.to_json()
        print(f"{cfg['name']}: f_max {r['max_current_ratio']:.4f}, Δp_max "
              f"{r['max_excess_pressure_MPa']:.4f} MPa, critical current "
              f"{r['critical_current_mA_cm2']:.4g} mA/cm² "
              f"({r['critical_current_ratio_to_flat']:.3f} × flat), "
              f"{r['wall_time_s']:.1f} s -> {out}")
    return 0


def _cmd_convergence(args, comm) -> int:
    from contour_fem import config
    from contour_fem.convergence import mesh_study
    from contour_fem.provenance import versions, write_json

    cfg = config.load(args.config)
    case = config.build_case(cfg)
    quantities = {
        "max_current_ratio": lambda r: r.current.f_max,
        "max_excess_pressure_MPa": lambda r: r.creep.dp_max / 1e6,
        "critical_current_ratio_to_flat": lambda r: r.critical_current / r.flat.flat_current,
    }
    study = mesh_study(case, comm, quantities)
    out = Path(args.out or Path("out") / f"{cfg['name']}-convergence")
    record = {name: study[name].as_dict() for name in quantities}
    record["ndofs"] = [r.to_json()["ndofs"] for r in study["results"]]
    record["versions"] = versions()
    with staged_output(out, comm) as stage:
        if comm.rank == 0:
            write_json(stage / "convergence.json", {"config": cfg, **record})
    if comm.rank == 0:
        print(f"{'quantity':34s} {'coarse':>10s} {'medium':>10s} {'fine':>10s} {'order':>6s} "
              f"{'extrapolated':>12s} {'rel. error':>10s}")
        for name in quantities:
            c = study[name]
            order = "-" if c.order is None else f"{c.order:.2f}"
            ext = "-" if c.extrapolated is None else f"{c.extrapolated:.5g}"
            print(f"{name:34s} " + " ".join(f"{v:10.5g}" for v in c.values)
                  + f" {order:>6s} {ext:>12s} {c.relative_error:10.2e}")
    return 0


def _cmd_benchmark(args, comm) -> int:
    from contour_fem.benchmark import run_benchmark

    out = Path(args.out or Path("runs") / args.name)
    summary = run_benchmark(args.name, out, comm, resolution=args.resolution,
                            coarse=args.coarse, ranks_per_case=args.ranks_per_case,
                            sensitivity=not args.no_sensitivity)
    if comm.rank == 0:
        facts = [f for f in summary["facts"] if f["passed"] is not None]
        passed = sum(f["passed"] for f in facts)
        print(f"{args.name}: {passed}/{len(facts)} facts reproduced with k = "
              f"{summary['calibration']['k_per_MPa']:.3g} /MPa, {summary['wall_time_s']:.0f} s "
              f"-> {out / 'report.md'}")
        for f in summary["facts"]:
            mark = "n/a " if f["passed"] is None else ("pass" if f["passed"] else "FAIL")
            print(f"  {mark} {f['id']:4s} {f['detail']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    p = argparse.ArgumentParser(prog="contour-fem", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"contour_fem {__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0, help="debug logging")
    p.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    p.add_argument("--log-all-ranks", action="store_true", help="log from every MPI rank")
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = p.add_subparsers(dest="command", required=True)

    m = sub.add_parser("mesh", help="mesh a unit cell: mesh.msh, mesh.xdmf, info.json")
    m.add_argument("config", help="case TOML (only [geometry] and [mesh] are used)")
    m.add_argument("--out", help="output folder (default out/<name>)")
    m.set_defaults(func=_cmd_mesh)

    s = sub.add_parser("solve", help="run one case: result.json, run.json, VTX fields")
    s.add_argument("config", help="case TOML, e.g. geometries/eggbox_H25S150.toml")
    s.add_argument("--out", help="output folder (default out/<name>)")
    s.set_defaults(func=_cmd_solve)

    c = sub.add_parser("convergence", help="run a case at three resolutions, Richardson table")
    c.add_argument("config")
    c.add_argument("--out", help="output folder (default out/<name>-convergence)")
    c.set_defaults(func=_cmd_convergence)

    from contour_fem import config, sweep

    sweep.add_parser(sub)

    b = sub.add_parser("benchmark", help="run a published experiment's samples, check its facts, "
                       "write the report")
    b.add_argument("name", help="benchmark name, e.g. zhang2024")
    b.add_argument("--out", help="output folder (default runs/<name>)")
    presets = config.SCHEMA["mesh"]["resolution"].choices
    b.add_argument("--resolution", default="medium-lean", choices=presets)
    b.add_argument("--coarse", default="lean", choices=presets,
                   help="second resolution for the mesh error bars and the sensitivity runs")
    b.add_argument("--ranks-per-case", type=int, default=1)
    b.add_argument("--no-sensitivity", action="store_true", help="skip the sensitivity variants")
    b.set_defaults(func=_cmd_benchmark)

    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``contour-fem``; returns the process exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage and the error
        return int(exc.code or 0)
    comm = MPI.COMM_WORLD
    _setup_logging(comm, args.verbose, args.quiet, args.log_all_ranks)
    try:
        return args.func(args, comm)
    except ContourFemError as exc:
        if comm.rank == 0:
            print(f"contour-fem: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            raise
        if comm.rank == 0:
            print(f"contour-fem: internal error: {type(exc).__name__}: {exc} "
                  "(rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
