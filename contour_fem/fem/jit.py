"""Form compilation with the project's JIT options (one place for them)."""

from __future__ import annotations

import sys

from mpi4py import MPI  # noqa: F401  (must load before PETSc/DOLFINx)

import dolfinx

# FFCx lets one process compile a form while others wait for it: 10 s by default, too short for
# the creep Jacobian when sweep groups or job-array tasks start together on an empty cache.
JIT_OPTIONS: dict[str, object] = {"timeout": 900}
if not sys.platform.startswith("win32"):
    # Reassociation lets GCC vectorise the quadrature loops: creep Jacobian assembly runs ~1.9x
    # faster (benchmarks/perf.py). Still portable: no -march, so a JIT cache shared between the
    # nodes of a cluster stays valid.
    JIT_OPTIONS["cffi_extra_compile_args"] = ["-O3", "-ffast-math", "-g0"]


def compile_form(form):
    """``dolfinx.fem.form`` with the project's JIT options."""
    return dolfinx.fem.form(form, jit_options=JIT_OPTIONS)
