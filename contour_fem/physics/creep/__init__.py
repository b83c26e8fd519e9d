"""Power-law creep of lithium and the interfacial excess pressure (docs/model.md §3).

- :mod:`~.law`: the J2 Norton law as stateless UFL functions (scaled variables);
- :mod:`~.primal_dual`: the dual variable of primal–dual Newton;
- :mod:`~.boundary`: interface, mirror-plane and bottom conditions, the pressure pin;
- :mod:`~.stress`: the excess pressure and its datum, :class:`CreepResult`;
- :mod:`~.preconditioner`: the block preconditioner of the iterative solver;
- :mod:`~.problem`: :class:`CreepProblem`, its forms and its solve;
- :mod:`~.continuation`: Newton in n, and starts from other cases' solutions (:class:`CreepStart`).
"""

from contour_fem.physics.creep.continuation import CreepStart
from contour_fem.physics.creep.law import (
    dissipation_density,
    norton_viscosity,
    scaled_strain_rate2,
    strain_rate,
)
from contour_fem.physics.creep.problem import (
    CREEP_DEGREES,
    NEWTON_CHOICES,
    NEWTON_VARIANTS,
    CreepProblem,
    newton_variant,
)
from contour_fem.physics.creep.stress import (
    DEFAULT_STRESS_RECOVERY,
    LEGACY_STRESS_RECOVERY,
    STRESS_RECOVERIES,
    CreepResult,
)

__all__ = [
    "CREEP_DEGREES",
    "DEFAULT_STRESS_RECOVERY",
    "LEGACY_STRESS_RECOVERY",
    "NEWTON_CHOICES",
    "NEWTON_VARIANTS",
    "STRESS_RECOVERIES",
    "CreepProblem",
    "CreepResult",
    "CreepStart",
    "dissipation_density",
    "newton_variant",
    "norton_viscosity",
    "scaled_strain_rate2",
    "strain_rate",
]
