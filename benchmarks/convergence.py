"""Mesh convergence of many samples at once: how far a configuration is from converged.

    mpirun -n 2 python -m mpi4py benchmarks/convergence.py geometries/eggbox_*.toml \
        --levels 0.667 1 1.5 2.25 --json benchmarks/results/convergence_eggbox.json

Each case file runs on refinements of its own mesh family (``contour-fem convergence``); the
script prints, per sample and quantity, the value at every level, the observed order of the
three finest levels, the extrapolated value and the error of the level ``--at`` (default 1:
the case as configured) against it, as a Markdown table. ``--set``/``--resolution`` apply to
every case. Times are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from mpi4py import MPI

from contour_fem import config
from contour_fem.cli.logs import setup_logging
from contour_fem.studies.convergence import study_record


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cases", nargs="+", help="case files")
    p.add_argument("--levels", type=float, nargs="+", default=[2 / 3, 1.0, 1.5])
    p.add_argument("--at", type=float, default=1.0, help="the level whose error is reported")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--resolution")
    p.add_argument("--json", help="write every record to this file")
    args = p.parse_args(argv)
    comm = MPI.COMM_WORLD
    setup_logging(comm, verbose=0, quiet=False, all_ranks=False)  # progress at INFO
    overrides = config.parse_overrides(args.set)
    if args.resolution:
        overrides["mesh.resolution"] = args.resolution
    records = {}
    for path in args.cases:
        cfg = config.load(path, overrides=overrides)
        t0 = time.perf_counter()
        records[cfg["name"]] = study_record(config.build_case(cfg), comm, args.levels)
        if comm.rank == 0:
            print(f"{cfg['name']}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    if comm.rank != 0:
        return 0
    levels = sorted(args.levels)
    print("| sample | quantity | " + " | ".join(f"×{v:.3g}" for v in levels)
          + " | order | extrapolated | error at ×" + f"{args.at:g} |")
    print("|---|---|" + "---|" * (len(levels) + 3))
    for name, rec in records.items():
        solved = rec["levels"]  # a failed level has no value (its reason is a warning)
        at = solved.index(args.at) if args.at in solved else None
        for q, c in rec["quantities"].items():
            by_level = dict(zip(solved, c["all_values"], strict=True))
            vals = " | ".join(f"{by_level[v]:.6g}" if v in by_level else "failed"
                              for v in levels)
            order = "–" if c["order"] is None else f"{c['order']:.2f}"
            ext = "–" if c["extrapolated"] is None else f"{c['extrapolated']:.6g}"
            err = ("–" if c.get("level_errors") is None or at is None
                   else f"{c['level_errors'][at]:.2e}")
            print(f"| {name} | {q} | {vals} | {order} | {ext} | {err} |")
        dofs = ", ".join(str(n["creep"]) for n in rec["ndofs"])
        times = ", ".join(f"{t:.1f}" for t in rec["wall_time_s"])
        print(f"| {name} | creep DOFs; s | {dofs}; {times} |" + " |" * (len(levels) + 1))
        for w in rec["warnings"]:
            print(f"<!-- {name}: {w} -->")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
