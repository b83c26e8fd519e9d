"""One case end to end: mesh → current distribution → creep → criterion (docs/model.md §2–5).

:class:`Case` is everything that defines a computation (SI dataclasses), :func:`run_case` runs it
on a communicator and returns a :class:`CaseResult`, whose :meth:`~CaseResult.to_json` is the
``result.json`` contract. Writing results to files is the ``io`` layer's job.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace

from mpi4py import MPI

import numpy as np

from contour_fem.core.errors import InputError
from contour_fem.core.params import param, validate
from contour_fem.core.provenance import versions
from contour_fem.core.units import MA_CM2, MPA, ONE, PER_MPA, UM, UM_DIGITS, Unit
from contour_fem.fem.petsc import SADDLE_POINT_PRESETS
from contour_fem.fem.utils import global_argmax
from contour_fem.geometry.spec import CellSpec, check_cell_count, concrete
from contour_fem.geometry.topography import Topography
from contour_fem.mesh import CellMesh, create_cell_mesh
from contour_fem.physics.coupling import (
    Coupling,
    interface_pairs,
    root_find,
    solve_current_and_creep,
)
from contour_fem.physics.creep import (
    CREEP_DEGREES,
    DEFAULT_STRESS_RECOVERY,
    NEWTON_CHOICES,
    STRESS_RECOVERIES,
    CreepProblem,
    CreepResult,
    CreepStart,
)
from contour_fem.physics.criterion import FlatReference, flat_reference, pointwise_critical_current
from contour_fem.physics.current import (
    CURRENT_DEGREES,
    CURRENT_SOLVERS,
    CurrentProblem,
    CurrentResult,
)
from contour_fem.physics.parameters import Creep, Criterion, Electrolyte, Kinetics, Operating

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SolverSettings:
    """Numerical settings of a case (presets: :mod:`contour_fem.fem.petsc`)."""

    current_solver: str = param("cg_gamg", key="current", kind=str, choices=CURRENT_SOLVERS,
                                doc="linear solver of the potential")
    creep_solver: str = param("mumps", key="creep", kind=str,
                              choices=tuple(SADDLE_POINT_PRESETS),
                              doc="linear solver inside the creep Newton iteration")
    current_degree: int = param(2, kind=int, choices=CURRENT_DEGREES,
                                doc="Lagrange degree of the potential")
    creep_degree: int = param(3, kind=int, choices=CREEP_DEGREES,
                              doc="velocity degree k of the Taylor–Hood pair Pk/Pk−1",
                              source="P3/P2: Δp_max within 1 % at the standard resolution "
                                     "(docs/verification.md §3)")
    quadrature_degree: int | None = param(None, kind=int, lo=1, hi=12, nullable=True,
                                          default_doc="2 × creep_degree",
                                          doc="quadrature degree of the creep forms")
    stress_recovery: str = param(
        DEFAULT_STRESS_RECOVERY, kind=str, choices=STRESS_RECOVERIES,
        doc="trace space of the Δp projection: the velocity's degree k or the pressure's k − 1",
        source="pressure: the velocity's trace overshoots on fillets at n = 1 by 20–37 % "
               "(docs/verification.md §4)")
    regularisation: float = param(1e-3, unit=ONE, lo=0.0, strict_lo=True, hi=1.0,
                                  doc="ε̂₀ of the viscosity, relative to the strain-rate scale")
    newton_max_it: int = param(40, kind=int, lo=1, hi=500,
                               doc="creep Newton iterations per continuation step")
    newton: str = param("auto", kind=str, choices=NEWTON_CHOICES,
                        doc="linearisation of the creep Newton method (auto: primal-dual; with "
                            "free slip a solve it damps restarts as standard Newton)")
    coupling: bool = param(False, kind=bool, doc="pressure–kinetics coupling (docs/model.md §4)")
    coupling_tol: float = param(1e-4, unit=ONE, lo=0.0, strict_lo=True, hi=0.1,
                                doc="relative change of i_loc that ends the Picard iteration")
    coupling_max_it: int = param(60, kind=int, lo=1, hi=1000,
                                 doc="Picard iterations of the coupling allowed")
    root_finding: bool = param(False, kind=bool,
                               doc="also solve the criterion by re-solving at trial currents")
    primary_reference: bool = param(True, kind=bool,
                                    doc="also report f_max of the primary distribution")
    root_rtol: float = param(1e-9, unit=ONE, lo=0.0, strict_lo=True, hi=1e-2,
                             doc="relative tolerance of the root-finding criterion")

    def __post_init__(self):
        validate(self)


@dataclass(frozen=True)
class Case:
    """Everything that defines one computation (SI units)."""

    topography: Topography
    cell: CellSpec = field(default_factory=CellSpec)
    electrolyte: Electrolyte = field(default_factory=Electrolyte)
    kinetics: Kinetics = field(default_factory=Kinetics)
    creep: Creep = field(default_factory=Creep)
    criterion: Criterion = field(default_factory=Criterion)
    operating: Operating = field(default_factory=Operating)
    solver: SolverSettings = field(default_factory=SolverSettings)
    name: str = "case"

    def __post_init__(self):
        if self.solver.coupling and self.kinetics.primary:
            raise InputError("solver.coupling needs kinetics (distribution = 'secondary')")
        # The cell as it will be built (auto: the smallest exact one), checked before any output
        # is staged.
        cell = self.cell
        if self.solver.creep_solver == "fieldsplit" and cell.domain == "auto":
            # The iterative solver takes no constraints: the largest mirror cell is the quarter.
            cell = replace(cell, domain="quarter" if self.topography.mirror_symmetric
                           else "full")
        object.__setattr__(self, "cell", concrete(self.topography, cell))
        check_cell_count(self.topography, self.cell)


#: Relative spread below which the interface current counts as uniform (a flat interface).
UNIFORM = 1e-9

#: Columns of the interface table (``CaseResult.interface``, ``interface.csv``) and their units.
INTERFACE_COLUMNS: dict[str, Unit] = {
    "x_um": UM,
    "y_um": UM,
    "z_um": UM,
    "current_ratio": ONE,
    "excess_pressure_MPa": MPA,
    "critical_current_ratio_to_flat": ONE,
}


@dataclass
class CaseResult:
    """Outcome of :func:`run_case`; :meth:`to_json` is the ``result.json`` contract.

    Attributes:
        interface: The interface nodes at the reference current, every rank: column name →
            array in the unit its name says (:data:`INTERFACE_COLUMNS`): position, f = i_loc/i_geo,
            Δp and the pointwise critical current over flat (``inf`` where no crack can grow).

    """

    case: Case
    cell: CellMesh
    current: CurrentResult
    creep: CreepResult
    flat: FlatReference
    critical_current: float  # A/m²
    criterion_location: list[float]
    hotspot_distance: float | None  # m, between the current and pressure maxima (None: uniform)
    coupling_current_change: dict | None  # relative changes of f_max and pointwise, at i_ref
    coupling_iterations: int
    root_critical_current: float | None
    interface: dict[str, np.ndarray]
    primary_current_ratio: float | None  # f_max of the primary distribution, same mesh
    timings: dict[str, float]
    ranks: int

    def to_json(self) -> dict:
        """The ``result.json`` record (keys are a contract for sweeps and users)."""
        topo = self.case.topography

        def um(x: float | None) -> float | None:
            return UM.from_si(x, UM_DIGITS)

        def located(point: list[float]) -> list[float] | None:
            # Where a maximum of a uniform field is reached is not defined.
            return None if self.hotspot_distance is None else [um(c) for c in point]

        change = self.coupling_current_change
        return {
            "name": self.case.name,
            "topography": topo.kind,
            "height_um": um(topo.height),
            "separation_um": um(topo.period),
            "area_ratio": self.current.area_ratio,
            "area_ratio_exact": topo.area_ratio(),
            "max_current_ratio": self.current.f_max,
            "primary_max_current_ratio": self.primary_current_ratio,
            "max_excess_pressure_MPa": MPA.from_si(self.creep.dp_max),
            "min_excess_pressure_MPa": MPA.from_si(self.creep.dp_min),
            "current_hotspot_um": located(self.current.f_max_location),
            "pressure_hotspot_um": located(self.creep.dp_max_location),
            "hotspot_distance_um": um(self.hotspot_distance),
            "critical_current_mA_cm2": MA_CM2.from_si(self.critical_current),
            "critical_current_ratio_to_flat": self.critical_current / self.flat.flat_current,
            "criterion_location_um": located(self.criterion_location),
            # Parameters echoed (12 significant digits: 0.2, not 0.19999999999999998).
            "criterion_k_per_MPa": float(f"{PER_MPA.from_si(self.flat.k):.12g}"),
            "flat_critical_current_mA_cm2": float(
                f"{MA_CM2.from_si(self.flat.flat_current):.12g}"),
            "root_finding_critical_current_mA_cm2": MA_CM2.from_si(self.root_critical_current),
            # Relative change of the maximum local current caused by the coupling (the quantity
            # the paper reports as < 1 %); the largest pointwise change is reported beside it.
            "coupling_current_change": None if change is None else change["max_current"],
            "coupling_current_change_pointwise": None if change is None else change["pointwise"],
            "coupling_iterations": self.coupling_iterations,
            "conservation_error": self.current.conservation_error,
            "wagner_number": self.current.wagner,
            "ndofs": {"current": self.current.ndofs, "creep": self.creep.ndofs},
            "newton_iterations": self.creep.newton_iterations,
            "ranks": self.ranks,
            "wall_time_s": self.timings.get("total", math.nan),
            "timings_s": self.timings,
            "converged": True,
            "versions": versions(),
        }


def creep_problem(case: Case, cell: CellMesh) -> CreepProblem:
    """The creep problem of ``case`` on ``cell`` (collective on the mesh's communicator)."""
    sol = case.solver
    return CreepProblem(cell, case.creep, case.operating, degree=sol.creep_degree,
                        quadrature_degree=sol.quadrature_degree,
                        regularisation=sol.regularisation, solver=sol.creep_solver,
                        max_it=sol.newton_max_it, newton=sol.newton,
                        recovery=sol.stress_recovery)


def primary_current(case: Case, cell: CellMesh) -> CurrentResult:
    """The primary current distribution of ``case``'s geometry on ``cell`` at i_ref.

    The same electrolyte, element and solver preset as the case, without interface kinetics
    (the paper's Fig. 1e/2b maxima); collective on the mesh's communicator.
    """
    sol = case.solver
    problem = CurrentProblem(cell, case.electrolyte, Kinetics(distribution="primary"),
                             case.operating.temperature, degree=sol.current_degree,
                             solver=sol.current_solver, prefix="current_primary_")
    try:
        return problem.solve(case.operating.reference_current)
    finally:
        problem.destroy()


def run_case(case: Case, comm: MPI.Comm, *, mesh: CellMesh | None = None,
             start: CreepStart | None = None,
             problem: CreepProblem | None = None) -> CaseResult:
    """Run one case on ``comm``: mesh, current at i_ref, creep at i_ref, criterion.

    Args:
        case: The case.
        comm: Communicator the case runs on (all its ranks must call this).
        mesh: A mesh already built for ``case`` (sweeps reuse meshes across physics).
        start: Creep solutions of earlier cases on the same ``mesh`` object to start Newton
            from (:class:`~contour_fem.physics.creep.continuation.CreepStart`; sweeps).
        problem: A creep problem of an earlier case on the same ``mesh`` object with the same
            creep setting (:func:`creep_problem`), reused through
            :meth:`CreepProblem.prepare`; the caller keeps and frees it.

    Returns:
        The result, identical on every rank.

    Raises:
        InputError, MeshError, ConvergenceError: On every rank of ``comm``.

    """
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    ref = flat_reference(case.criterion, case.creep, case.operating)  # validates before work

    t0 = time.perf_counter()
    cell = mesh if mesh is not None else create_cell_mesh(comm, case.topography, case.cell)
    timings["mesh"] = time.perf_counter() - t0
    log.info("%s: mesh ready (%s)", case.name, cell.counts())

    t0 = time.perf_counter()
    sol = case.solver
    current = CurrentProblem(cell, case.electrolyte, case.kinetics, case.operating.temperature,
                             degree=sol.current_degree, solver=sol.current_solver)
    creep = None
    try:
        creep = (creep_problem(case, cell) if problem is None
                 else problem.prepare(case.creep, case.operating, sol.newton_max_it))
        timings["setup"] = time.perf_counter() - t0
        return _run(case, comm, cell, current, creep, ref, timings, t_start, start)
    finally:
        # PETSc objects hold their Python callbacks (a cycle the GC cannot see): free them here,
        # or a sweep of hundreds of cases runs out of MPI communicators.
        current.destroy()
        if creep is not None and problem is None:
            creep.destroy()


def _coupling(case: Case) -> Coupling:
    return Coupling(enabled=case.solver.coupling, tol=case.solver.coupling_tol,
                    max_it=case.solver.coupling_max_it, molar_volume=case.creep.molar_volume)


def _run(case, comm, cell, current, creep, ref, timings, t_start, start) -> CaseResult:
    i_ref = case.operating.reference_current
    t0 = time.perf_counter()
    sol = solve_current_and_creep(current, creep, i_ref, _coupling(case), timings, start)
    cur, crp = sol.current, sol.creep
    log.info("%s: f_max = %.5f, Δp_max = %.4f MPa (%d Newton iterations)", case.name, cur.f_max,
             MPA.from_si(crp.dp_max), crp.newton_iterations)
    timings["solve"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    f, dp1, pts = interface_pairs(current, cur, crp)
    icrit = pointwise_critical_current(f, dp1, ref)
    neg, where = global_argmax(comm, -icrit, pts)
    critical = -neg
    table = _gather_table(comm, pts, f, dp1, icrit / ref.flat_current)
    timings["criterion"] = time.perf_counter() - t0

    primary_f_max = None
    if case.solver.primary_reference and not case.kinetics.primary:
        # The paper's Fig. 1e/2b maxima: the same geometry without interface kinetics.
        t0 = time.perf_counter()
        primary_f_max = primary_current(case, cell).f_max
        timings["primary_current"] = time.perf_counter() - t0

    root = None
    if case.solver.root_finding:
        t0 = time.perf_counter()
        root = root_find(current, creep, _coupling(case), ref, critical, case.solver.root_rtol)
        timings["root_finding"] = time.perf_counter() - t0

    # A maximum of a uniform field is anywhere: its location and the distance are undefined.
    f_all = table["current_ratio"]
    uniform = bool(f_all.size == 0 or np.ptp(f_all) <= UNIFORM * abs(f_all.max()))
    distance = None if uniform else case.topography.equivalent_distance(cur.f_max_location,
                                                                         crp.dp_max_location)
    timings["total"] = time.perf_counter() - t_start
    return CaseResult(
        case=case, cell=cell, current=cur, creep=crp, flat=ref, critical_current=critical,
        criterion_location=where, hotspot_distance=distance, interface=table,
        primary_current_ratio=primary_f_max,
        coupling_current_change=sol.change, coupling_iterations=sol.iterations,
        root_critical_current=root, timings=timings, ranks=comm.size,
    )


def _gather_table(comm, pts, f, dp1, ratio) -> dict[str, np.ndarray]:
    """The interface table on every rank, in the units of :data:`INTERFACE_COLUMNS`.

    Rows are sorted by x, then y, so serial and parallel runs give the same table.
    """
    local = np.column_stack([pts, f, dp1, ratio]) if len(f) else np.zeros((0, 6))
    rows = np.concatenate(comm.allgather(local))
    units = list(INTERFACE_COLUMNS.values())
    rows = np.column_stack([u.from_si(rows[:, k]) for k, u in enumerate(units)])
    rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
    return {name: rows[:, k].copy() for k, name in enumerate(INTERFACE_COLUMNS)}
