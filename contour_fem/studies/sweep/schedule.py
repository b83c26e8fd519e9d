"""Which cases a sweep group solves together, and what one case hands to the next.

A group keeps the creep solutions of its finished cases (:class:`Handover`):

- :func:`creep_key`: a case that differs from an earlier one only in its data (R_int, the
  current) starts Newton at the target exponent from that case's solution (a warm start);
- :func:`newtonian_key`: a case that differs from an earlier one only in the creep exponent
  takes that case's Newtonian (n = 1) solution instead of solving it again, and with free slip
  starts Newton from its solution at the highest lower exponent
  (:class:`~contour_fem.physics.creep.continuation.CreepStart`).

Both need the earlier case on the same group, and cases with the same :func:`problem_key` can
also share the creep problem itself (its compiled forms, matrices and symbolic factorisation),
so cases that can share are run by one group as a *block* (:func:`blocks`): the cases of one
mesh and one creep setting (all but the exponent), by ascending exponent and, within one
exponent, by their data in sweep order. So the n = 1 case of a current comes before the cases
that take its Newtonian solution, n = 3 before n = 6.56, and the Newtonian solves of all the
block's data follow one another: their Jacobian is the same matrix (it depends on neither the
iterate nor the data at n = 1), so they share one factorisation
(:func:`~contour_fem.physics.creep.continuation.solve_at`).
"""

from __future__ import annotations

import copy
from collections import OrderedDict

from contour_fem import config
from contour_fem.physics.creep import CreepResult, CreepStart
from contour_fem.studies.sweep.grammar import SweepCase


def _creep_setting(cfg: dict) -> tuple:
    creep, sol = cfg["creep"], cfg["solver"]
    return (creep["slip"], creep["bottom"], sol["creep_degree"], sol["quadrature_degree"],
            sol["creep"], sol["newton"], sol["regularisation"], sol["stress_recovery"])


def creep_key(cfg: dict) -> tuple:
    """What a creep state carries over between cases: the mesh, the setting and the exponent."""
    return (*problem_key(cfg), cfg["creep"]["exponent"])


def newtonian_key(cfg: dict) -> str:
    """Everything the Newtonian creep solution of a case depends on: all but n and the criterion.

    (In the scaled variables the Newtonian solution depends on neither n nor the creep
    prefactor; the criterion is post-processing.)
    """
    core = copy.deepcopy({k: v for k, v in cfg.items() if k != "criterion"})
    core["creep"].pop("exponent", None)
    return config.config_hash(core)


def problem_key(cfg: dict) -> tuple:
    """The mesh and creep setting: cases with the same key can share one creep problem."""
    return (config.mesh_key(cfg), *_creep_setting(cfg))


def _block_key(case: SweepCase) -> tuple:
    return ("invalid", case.hash) if case.config is None else problem_key(case.config)


def blocks(cases: list[SweepCase]) -> list[list[SweepCase]]:
    """The cases as blocks a group runs in order (blocks in the order of their first case).

    The :class:`Handover` of a group that runs a block must keep the solutions of all its data
    (:func:`data_count`): a block runs every data at one exponent before the next.
    """
    grouped: dict[tuple, list[SweepCase]] = {}
    for case in cases:
        grouped.setdefault(_block_key(case), []).append(case)
    out = []
    for members in grouped.values():
        if members[0].config is None:
            out.append(members)
            continue
        # A stable sort: within one exponent the data stay in sweep order.
        out.append(sorted(members, key=lambda c: float(c.config["creep"]["exponent"])))
    return out


def data_count(block: list[SweepCase]) -> int:
    """How many different data (all but the exponent) a block holds."""
    return len({newtonian_key(c.config) for c in block if c.config is not None})


class Handover:
    """The creep solutions a group's finished cases leave for its next cases on the same mesh.

    Args:
        size: Entries kept of each kind (the least recently used are dropped).
    """

    def __init__(self, size: int):
        self.size = size
        self.states: OrderedDict[tuple, tuple] = OrderedDict()  # creep key → (mesh, w)
        self.solutions: OrderedDict[str, tuple] = OrderedDict()  # data → (mesh, {n: w})

    def reserve(self, count: int) -> None:
        """Keep at least ``count`` entries of each kind (the data of the next block)."""
        self.size = max(self.size, count)

    def _keep(self, store: OrderedDict, key, mesh, value) -> None:
        store[key] = (mesh, value)
        store.move_to_end(key)
        while len(store) > self.size:
            store.popitem(last=False)

    @staticmethod
    def _kept(store: OrderedDict, key, mesh):
        kept = store.get(key)
        return kept[1] if kept is not None and kept[0] is mesh else None

    def start(self, cfg: dict, mesh) -> CreepStart:
        """Where the case ``cfg`` on ``mesh`` (the same object) may start its creep Newton."""
        n = float(cfg["creep"]["exponent"])
        same_data = self._kept(self.solutions, newtonian_key(cfg), mesh) or {}
        below = [m for m in same_data if 1.0 < m < n]
        return CreepStart(newtonian=same_data.get(1.0),
                          other_data=self._kept(self.states, creep_key(cfg), mesh),
                          lower=(max(below), same_data[max(below)]) if below else None)

    def record(self, cfg: dict, mesh, creep: CreepResult) -> None:
        """Keep the solutions of the finished case ``cfg``."""
        if creep.state is not None:
            self._keep(self.states, creep_key(cfg), mesh, creep.state)
        if creep.newtonian is not None:
            data = newtonian_key(cfg)
            same_data = self._kept(self.solutions, data, mesh) or {}
            n = float(cfg["creep"]["exponent"])
            self._keep(self.solutions, data, mesh,
                       {**same_data, 1.0: creep.newtonian, n: creep.state})

    def clear(self) -> None:
        """Forget everything."""
        self.states.clear()
        self.solutions.clear()
