"""Experiments as data, checked against the model: facts, measurements, identification.

exp = load_experiment("zhang2024")            # or a user's experiment file
summary = run_benchmark("zhang2024", out, comm)  # identify, predict, report
"""

from contour_fem.studies.experiment.facts import (
    FACT_FIELDS,
    QUANTITIES,
    FactResult,
    evaluate_fact,
    misfit,
)
from contour_fem.studies.experiment.identify import (
    FieldRecords,
    Point,
    evaluate_point,
    pareto_front,
    ratio_at,
    search,
    summarise,
)
from contour_fem.studies.experiment.run import run_benchmark
from contour_fem.studies.experiment.schema import (
    POST_KEYS,
    Experiment,
    Unknown,
    builtin_experiments,
    load_experiment,
    parse_experiment,
    sample_config,
)

__all__ = [
    "FACT_FIELDS",
    "POST_KEYS",
    "QUANTITIES",
    "Experiment",
    "FactResult",
    "FieldRecords",
    "Point",
    "Unknown",
    "builtin_experiments",
    "evaluate_fact",
    "evaluate_point",
    "load_experiment",
    "misfit",
    "pareto_front",
    "parse_experiment",
    "ratio_at",
    "run_benchmark",
    "sample_config",
    "search",
    "summarise",
]
