"""Random rough surfaces: f_max, Δp_max and the critical current against RMS height and
correlation length, over seeds (mean and spread), as a Markdown table and a figure.

    mpirun -n 2 python -m mpi4py benchmarks/random_surfaces.py --out runs/random_surfaces

The cases run as one sweep in ``OUT`` (restartable: a rerun reuses finished cases), each on the
periodic full cell of a Gaussian random surface of period 100 µm, P2/P1 creep on the ``coarse``
preset with the interface size from the surface's feature wavelength (docs/model.md §1.6).
``--rms``, ``--correlation`` and ``--seeds`` change the grid. The table goes to stdout and
``OUT/random_surfaces.md``, the figure to ``OUT/random_surfaces.png``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mpi4py import MPI

import numpy as np

from contour_fem.cli.logs import setup_logging
from contour_fem.io.figures import save
from contour_fem.io.readers import load_sweep
from contour_fem.studies.sweep.runner import run_sweep

QUANTITIES = (("max_current_ratio", "f_max"), ("max_excess_pressure_MPa", "Δp_max (MPa)"),
              ("critical_current_ratio_to_flat", "i_crit / flat (k = 0.2 /MPa)"))


def sweep_table(rms: list[float], correlation: list[float], seeds: int) -> dict:
    return {"name": "random_surfaces",
            "base": {"geometry": {"topography": "random", "separation_um": 100.0},
                     "mesh": {"resolution": "coarse"}, "solver": {"creep_degree": 2},
                     "output": {"fields": False}},
            "vary": {"geometry.rms_height_um": rms,
                     "geometry.correlation_length_um": correlation,
                     "geometry.seed": list(range(seeds))}}


def summarise(out: Path, rms: list[float], correlation: list[float]) -> str:
    table = load_sweep(out)
    ok = table.ok()
    rows = ["| RMS height (µm) | correlation length (µm) | seeds | " +
            " | ".join(label for _, label in QUANTITIES) + " | DOFs (creep) |",
            "|---|---|---|" + "---|" * (len(QUANTITIES) + 1)]
    stats: dict[tuple, dict] = {}
    for s in rms:
        for lam in correlation:
            sel = ok & np.isclose(table["geometry.rms_height_um"], s) & np.isclose(
                table["geometry.correlation_length_um"], lam)
            cells = []
            stats[(s, lam)] = {}
            for key, _ in QUANTITIES:
                v = np.asarray(table[key][sel], dtype=float)
                stats[(s, lam)][key] = (v.mean(), v.std(ddof=1) if v.size > 1 else 0.0)
                cells.append(f"{v.mean():.4g} ± {stats[(s, lam)][key][1]:.2g}")
            dofs = np.asarray(table["ndofs_creep"][sel], dtype=float)
            rows.append(f"| {s:g} | {lam:g} | {int(sel.sum())} | " + " | ".join(cells) +
                        f" | {dofs.mean():.0f} |")
    figure(stats, rms, correlation, out / "random_surfaces.png")
    return "\n".join(rows) + "\n"


def figure(stats: dict, rms: list[float], correlation: list[float], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(QUANTITIES), figsize=(4.2 * len(QUANTITIES), 3.6))
    for ax, (key, label) in zip(axes, QUANTITIES, strict=True):
        for lam in correlation:
            m = [stats[(s, lam)][key][0] for s in rms]
            e = [stats[(s, lam)][key][1] for s in rms]
            ax.errorbar(rms, m, yerr=e, marker="o", capsize=3, label=f"λ = {lam:g} µm")
        ax.set_xlabel("RMS height (µm)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Gaussian random surfaces, S = 100 µm (mean ± standard deviation over seeds)")
    fig.tight_layout()
    save(fig, path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/random_surfaces")
    p.add_argument("--rms", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    p.add_argument("--correlation", type=float, nargs="+", default=[33.0, 50.0])
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args(argv)
    comm = MPI.COMM_WORLD
    setup_logging(comm, verbose=0, quiet=False, all_ranks=False)  # progress at INFO
    out = Path(args.out)
    run_sweep(sweep_table(args.rms, args.correlation, args.seeds), out, comm)
    if comm.rank == 0:
        text = summarise(out, args.rms, args.correlation)
        (out / "random_surfaces.md").write_text(text)
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
