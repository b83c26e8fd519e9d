"""Studies: many cases at once (sweeps), the experiment benchmark, mesh convergence, reports."""
