"""Performance figures of one case, per stage, on 1 and 2 ranks, with cold and warm JIT.

    python benchmarks/perf.py            # H25S150 egg-box, medium and fine, 1 and 2 ranks
    python benchmarks/perf.py --resolutions coarse --ranks 1
    python benchmarks/perf.py --benchmark-summary runs/zhang2024/summary.json
    python benchmarks/perf.py --resolutions --paper-benchmark   # only the paper benchmark
    python benchmarks/perf.py --creep-solver fieldsplit --resolutions coarse medium fine --ranks 1
    python benchmarks/perf.py --newton standard     # Newton without the primal-dual linearisation
    python benchmarks/perf.py --creep-degree 3 --resolutions lean --ranks 2 --repeat 5
    python benchmarks/perf.py --creep-solver fieldsplit --resolutions medium \
        --refine 1 1.5 2.25 3.375 --ranks 2 --jit warm    # refinement ladder up to 1.2e6 DOFs

Each configuration runs twice in a fresh process under ``mpirun``: first with an empty FFCx/JIT
cache (cold), then with the cache it filled (warm), ``--repeat`` times (the median of the warm
runs is printed too: on a shared machine single timings scatter by ±10 %). Printed and written to
``benchmarks/results/perf.csv`` and ``perf.json``: wall time per stage (mesh, current, creep,
criterion, and the setup that includes JIT compilation), peak memory per rank, DOFs, Newton and
linear iterations. ``--paper-benchmark`` also runs ``contour-fem benchmark zhang2024`` twice in
fresh folders, with an empty JIT cache and then with the cache it filled, and reports both wall
times. ``--refine F ...`` divides every size of each preset (interface, far field and growth
rate) by F: a uniform refinement of the same mesh family, for iteration counts against DOFs.
Times are measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def worker(args) -> None:
    """Run one case stage by stage on COMM_WORLD and write the timings (rank 0)."""
    import resource

    from mpi4py import MPI

    from contour_fem.geometry import RESOLUTIONS, CellSpec, EggBox
    from contour_fem.mesh import create_cell_mesh
    from contour_fem.physics.coupling import interface_pairs
    from contour_fem.physics.creep import CreepProblem
    from contour_fem.physics.criterion import flat_reference, pointwise_critical_current
    from contour_fem.physics.current import CurrentProblem
    from contour_fem.physics.parameters import Creep, Criterion, Electrolyte, Kinetics, Operating

    comm = MPI.COMM_WORLD
    topo = EggBox(height=25e-6, period=150e-6)
    times = {}

    def stage(name, fn):
        comm.barrier()
        t0 = time.perf_counter()
        out = fn()
        comm.barrier()
        times[name] = time.perf_counter() - t0
        return out

    t_all = time.perf_counter()
    base = RESOLUTIONS[args.resolution]
    r, period = args.refine[0], topo.period
    spec = CellSpec(resolution=args.resolution, interface_size=base.interface * period / r,
                    far_size=base.far * period / r, growth=base.growth / r)
    cm = stage("mesh", lambda: create_cell_mesh(comm, topo, spec))
    op = Operating()
    cur_p = stage("current_setup_jit", lambda: CurrentProblem(cm, Electrolyte(), Kinetics(),
                                                               op.temperature))
    cur = stage("current_solve", lambda: cur_p.solve(op.reference_current))
    crp_p = stage("creep_setup_jit", lambda: CreepProblem(cm, Creep(), op,
                                                           solver=args.creep_solver,
                                                           newton=args.newton,
                                                           degree=args.creep_degree))
    crp = stage("creep_solve", lambda: crp_p.solve(cur.interface_current, op.reference_current))

    def criterion():
        ref = flat_reference(Criterion(), Creep(), op)
        f, dp, _ = interface_pairs(cur_p, cur, crp)
        return pointwise_critical_current(f, dp, ref, Creep().exponent, op.reference_current)

    stage("criterion", criterion)
    times["total"] = time.perf_counter() - t_all
    peak = comm.gather(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, root=0)
    if comm.rank == 0:
        record = {
            "resolution": args.resolution, "refine": r, "ranks": comm.size, "jit": args.jit_state,
            "creep_solver": args.creep_solver,
            "ndofs_current": cur.ndofs, "ndofs_creep": crp.ndofs,
            "current_iterations": cur.iterations, "newton_iterations": crp.newton_iterations,
            "linear_iterations": crp.linear_iterations,
            "linear_iterations_per_step": [h["linear_iterations"] / max(h["iterations"], 1)
                                           for h in crp.history],
            "factorizations": sum(h["factorizations"] for h in crp.history),
            "newton": args.newton, "creep_degree": args.creep_degree,
            "peak_memory_MiB_per_rank": peak, "times_s": times,
            "f_max": cur.f_max, "dp_max_MPa": crp.dp_max / 1e6,
        }
        Path(args.json).write_text(json.dumps(record, indent=1))


def run(resolution: str, refine: float, ranks: int, jit: str, cache: Path, args) -> dict:
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    cmd = [str(BIN / "mpirun"), "-n", str(ranks), sys.executable, "-m", "mpi4py", __file__,
           "--worker", "--resolution", resolution, "--refine", str(refine), "--jit-state", jit,
           "--json", str(out),
           "--creep-solver", args.creep_solver, "--newton", args.newton,
           "--creep-degree", str(args.creep_degree)]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def paper_benchmark(ranks: int) -> dict:
    """Wall time (s) of the whole paper benchmark with a cold and with a warm JIT cache."""
    times = {}
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as runs:
        env = {**os.environ, "XDG_CACHE_HOME": cache}
        for jit in ("cold", "warm"):
            out = Path(runs) / jit  # a fresh folder each time: no case is reused
            cmd = [str(BIN / "mpirun"), "-n", str(ranks), sys.executable, "-m", "mpi4py", "-m",
                   "contour_fem", "-q", "benchmark", "zhang2024", "--out", str(out)]
            subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
            bench = json.loads((out / "summary.json").read_text())
            times[jit] = bench["wall_time_s"]
            print(f"paper benchmark, {jit} JIT: {bench['wall_time_s']:.0f} s on {ranks} rank(s), "
                  f"{bench['resolution']} / {bench['coarse_resolution']}", flush=True)
    return {"ranks": ranks, "wall_time_s": times}


def run_configuration(res: str, refine: float, ranks: int, shared: str, args) -> list[dict]:
    """Cold (unless ``--jit warm``) and warm runs of one configuration, printed as they finish."""
    rows = []
    label = res if refine == 1.0 else f"{res}/{refine:g}"
    with tempfile.TemporaryDirectory() as own:
        cache = shared if args.jit == "warm" else own
        for jit in ["cold"] * (args.jit == "both") + ["warm"] * args.repeat:
            rec = run(res, refine, ranks, jit, Path(cache), args)
            rows.append(rec)
            t = rec["times_s"]
            per_step = ", ".join(f"{x:.0f}" for x in rec["linear_iterations_per_step"])
            print(f"{label:9s} {ranks} rank(s) {jit:4s} JIT: total {t['total']:7.2f} s | "
                  f"mesh {t['mesh']:.2f}, current {t['current_setup_jit']:.2f}+"
                  f"{t['current_solve']:.2f}, creep {t['creep_setup_jit']:.2f}+"
                  f"{t['creep_solve']:.2f}, criterion {t['criterion']:.3f} | DOFs "
                  f"{rec['ndofs_current']}/{rec['ndofs_creep']} | Newton "
                  f"{rec['newton_iterations']} ({rec['factorizations']} factorised), "
                  f"linear {rec['linear_iterations']} ({per_step} per Newton step) | peak "
                  f"{max(rec['peak_memory_MiB_per_rank']):.0f} MiB/rank", flush=True)
    if args.repeat > 1:
        warm = [r["times_s"] for r in rows[-args.repeat:]]
        print(f"{label:9s} {ranks} rank(s) warm JIT, median of {args.repeat}: total "
              f"{statistics.median(t['total'] for t in warm):7.2f} s, creep solve "
              f"{statistics.median(t['creep_solve'] for t in warm):.2f} s "
              f"(range {min(t['creep_solve'] for t in warm):.2f}–"
              f"{max(t['creep_solve'] for t in warm):.2f} s)", flush=True)
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--resolutions", nargs="*", default=["medium", "fine"])
    p.add_argument("--ranks", nargs="+", type=int, default=[1, 2])
    p.add_argument("--creep-solver", default="mumps")
    p.add_argument("--newton", default="primal-dual", help="primal-dual or standard")
    p.add_argument("--creep-degree", type=int, default=2, choices=(2, 3),
                   help="velocity degree of the creep Taylor–Hood pair")
    p.add_argument("--refine", nargs="+", type=float, default=[1.0],
                   help="uniform refinement factors applied to each resolution")
    p.add_argument("--jit", choices=("both", "warm"), default="both",
                   help="warm: fill the JIT cache with an untimed lean run first, no cold run")
    p.add_argument("--repeat", type=int, default=1, help="warm runs per configuration")
    p.add_argument("--out", default=str(HERE / "results"))
    p.add_argument("--benchmark-summary", help="summary.json of a benchmark run, for its time")
    p.add_argument("--paper-benchmark", action="store_true",
                   help="run the paper benchmark with a cold and a warm JIT cache")
    p.add_argument("--paper-benchmark-ranks", type=int, default=2)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--resolution", help=argparse.SUPPRESS)
    p.add_argument("--jit-state", help=argparse.SUPPRESS)
    p.add_argument("--json", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return 0
    if args.repeat < 1:
        p.error(f"--repeat must be >= 1, got {args.repeat}")
    if not all(f > 0 for f in args.refine):
        p.error(f"--refine factors must be > 0, got {args.refine}")
    rows = []
    configs = [(res, f, n) for res in args.resolutions for f in args.refine for n in args.ranks]
    with tempfile.TemporaryDirectory() as shared:
        if args.jit == "warm" and configs:
            run("lean", 1.0, 1, "warm-up", Path(shared), args)  # compiles every form once
        for res, refine, ranks in configs:
            rows += run_configuration(res, refine, ranks, shared, args)
    summary = {"cases": rows}
    if args.benchmark_summary:
        bench = json.loads(Path(args.benchmark_summary).read_text())
        summary["paper_benchmark"] = {k: bench[k] for k in ("wall_time_s", "ranks", "resolution")}
        print(f"paper benchmark: {bench['wall_time_s']:.0f} s on {bench['ranks']} rank(s) "
              f"at {bench['resolution']} resolution")
    if args.paper_benchmark:
        summary["paper_benchmark_run"] = paper_benchmark(args.paper_benchmark_ranks)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "perf.json").write_text(json.dumps(summary, indent=1))
    keys = ["resolution", "refine", "ranks", "jit", "newton", "creep_degree", "ndofs_current",
            "ndofs_creep", "newton_iterations", "factorizations", "linear_iterations"]
    stages = list(rows[0]["times_s"]) if rows else []
    with (out / "perf.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(keys + [f"{s}_s" for s in stages] + ["peak_memory_MiB_max_rank"])
        for r in rows:
            w.writerow([r[k] for k in keys] + [f"{r['times_s'][s]:.4f}" for s in stages]
                       + [f"{max(r['peak_memory_MiB_per_rank']):.1f}"])
    print(f"-> {out / 'perf.csv'}, {out / 'perf.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
