"""One case end to end: mesh → current distribution → creep → criterion (MODEL.md §2–5)."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mpi4py import MPI

import dolfinx
import numpy as np
from scipy.optimize import brentq

from contour_fem.constants import FARADAY, MA_PER_CM2
from contour_fem.creep import CreepProblem, CreepResult
from contour_fem.criterion import (
    FlatReference,
    flat_reference,
    growth_current,
    pointwise_critical_current,
)
from contour_fem.current import CurrentProblem, CurrentResult
from contour_fem.errors import ConvergenceError, InputError
from contour_fem.fem_utils import global_argmax, owned
from contour_fem.geometry.cell import CellSpec
from contour_fem.geometry.topography import Topography
from contour_fem.mesh import CellMesh, create_cell_mesh
from contour_fem.parameters import Creep, Criterion, Electrolyte, Kinetics, Operating
from contour_fem.provenance import atomic_write_text, platform_info, versions, write_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SolverSettings:
    """Numerical settings of a case (see :mod:`contour_fem.solvers` for the presets)."""

    current_solver: str = "cg_gamg"
    creep_solver: str = "mumps"
    current_degree: int = 2
    creep_degree: int = 2  # velocity degree of the Taylor–Hood pair (pressure one lower)
    quadrature_degree: int | None = None  # creep quadrature; None: 2 × creep_degree
    regularisation: float = 1e-3  # ε̂₀ relative to the flow's strain-rate scale
    newton_max_it: int = 40  # creep Newton iterations per continuation step
    newton: str = "primal-dual"  # creep Newton linearisation (or "standard")
    coupling: bool = False  # pressure–kinetics coupling (MODEL.md §4)
    coupling_tol: float = 1e-4  # relative change of i_loc that ends the Picard iteration
    coupling_max_it: int = 60
    root_finding: bool = False  # also solve the criterion by re-solving at trial currents
    primary_reference: bool = True  # also report f_max of the primary distribution
    root_rtol: float = 1e-9

    def __post_init__(self):
        if self.coupling_tol <= 0 or self.root_rtol <= 0 or self.regularisation <= 0:
            raise InputError("solver tolerances and regularisation must be > 0")


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


@dataclass
class CaseResult:
    """Outcome of :func:`run_case`; :meth:`to_json` is the ``result.json`` contract."""

    case: Case
    cell: CellMesh
    current: CurrentResult
    creep: CreepResult
    flat: FlatReference
    critical_current: float  # A/m²
    criterion_location: list[float]
    hotspot_distance: float  # m, between the current and the pressure maxima
    coupling_current_change: dict | None  # relative changes of f_max and pointwise, at i_ref
    coupling_iterations: int
    root_critical_current: float | None
    interface_table: np.ndarray | None  # rank 0: x, y, z (m), f, Δp1 (Pa), i_crit/i0 per node
    primary_current_ratio: float | None  # f_max of the primary distribution, same mesh
    timings: dict[str, float]
    ranks: int

    def to_json(self) -> dict:
        """The ``result.json`` record (keys are a contract for sweeps and users)."""
        topo = self.case.topography

        def um(x: float) -> float:
            # In µm, rounded to 1e-9 µm: drops SI round-off (24.999999999999996), far below h.
            return round(x * 1e6, 9)

        return {
            "name": self.case.name,
            "topography": topo.kind,
            "height_um": um(topo.height),
            "separation_um": um(topo.period),
            "area_ratio": self.current.area_ratio,
            "area_ratio_exact": topo.area_ratio(),
            "max_current_ratio": self.current.f_max,
            "primary_max_current_ratio": self.primary_current_ratio,
            "max_excess_pressure_MPa": self.creep.dp_max / 1e6,
            "min_excess_pressure_MPa": self.creep.dp_min / 1e6,
            "current_hotspot_um": [um(c) for c in self.current.f_max_location],
            "pressure_hotspot_um": [um(c) for c in self.creep.dp_max_location],
            "hotspot_distance_um": um(self.hotspot_distance),
            "critical_current_mA_cm2": self.critical_current / MA_PER_CM2,
            "critical_current_ratio_to_flat": self.critical_current / self.flat.flat_current,
            "criterion_location_um": [um(c) for c in self.criterion_location],
            "criterion_k_per_MPa": self.flat.k * 1e6,
            "flat_critical_current_mA_cm2": self.flat.flat_current / MA_PER_CM2,
            "root_finding_critical_current_mA_cm2": (
                None if self.root_critical_current is None
                else self.root_critical_current / MA_PER_CM2),
            # Relative change of the maximum local current caused by the coupling (the quantity
            # the paper reports as < 1 %); the largest pointwise change is reported beside it.
            "coupling_current_change": (None if self.coupling_current_change is None
                                        else self.coupling_current_change["max_current"]),
            "coupling_current_change_pointwise": (
                None if self.coupling_current_change is None
                else self.coupling_current_change["pointwise"]),
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

    def write(self, outdir: Path, *, config: dict | None = None, fields: bool = True) -> None:
        """Write ``result.json``, ``run.json`` (inputs, versions, ranks, timing) and VTX fields.

        Collective (VTX writing); JSON files are written by rank 0 only, atomically.
        """
        outdir = Path(outdir)
        comm = self.cell.comm
        if fields:
            self.current.write(outdir / "current.bp")
            self.creep.write(outdir / "creep.bp")
        if comm.rank == 0:
            write_json(outdir / "run.json", {
                "config": config,
                "case": _case_record(self.case),
                "mesh": {**self.cell.cell, **self.cell.counts()},
                "current": self.current.summary(),
                "creep": self.creep.summary(),
                "platform": platform_info(comm.size),
                "versions": versions(),
                "timings_s": self.timings,
            })
            if self.interface_table is not None:
                _write_interface_csv(outdir / "interface.csv", self.interface_table)
            write_json(outdir / "result.json", self.to_json())


def _case_record(case: Case) -> dict:
    out = {k: asdict(v) for k, v in vars(case).items() if k not in ("topography", "name")}
    out["topography"] = case.topography.describe()
    out["name"] = case.name
    return out


def run_case(case: Case, comm: MPI.Comm, *, mesh: CellMesh | None = None) -> CaseResult:
    """Run one case on ``comm``: mesh, current at i_ref, creep at i_ref, criterion.

    Args:
        case: The case.
        comm: Communicator the case runs on (all its ranks must call this).
        mesh: A mesh already built for ``case`` (sweeps reuse meshes across physics).

    Returns:
        The result, identical on every rank.

    Raises:
        InputError, MeshError, ConvergenceError: On every rank of ``comm``.

    """
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    ref = flat_reference(case.criterion, case.creep, case.operating)  # validates before work
    if not case.topography.mirror_symmetric:
        # The side planes carry mirror conditions; an asymmetric surface needs periodic ones.
        raise InputError("geometry: the physics needs a mirror-symmetric topography (periodic "
                         "side constraints are not available); this one can only be meshed")

    t0 = time.perf_counter()
    cell = mesh if mesh is not None else create_cell_mesh(comm, case.topography, case.cell)
    timings["mesh"] = time.perf_counter() - t0
    log.info("%s: mesh ready (%s)", case.name, cell.counts())

    t0 = time.perf_counter()
    current = CurrentProblem(cell, case.electrolyte, case.kinetics, case.operating.temperature,
                             degree=case.solver.current_degree, solver=case.solver.current_solver)
    creep = None
    try:
        creep = CreepProblem(cell, case.creep, case.operating,
                             degree=case.solver.creep_degree,
                             quadrature_degree=case.solver.quadrature_degree,
                             regularisation=case.solver.regularisation,
                             solver=case.solver.creep_solver, max_it=case.solver.newton_max_it,
                             newton=case.solver.newton)
        timings["setup"] = time.perf_counter() - t0
        return _run(case, comm, cell, current, creep, ref, timings, t_start)
    finally:
        # PETSc objects hold their Python callbacks (a cycle the GC cannot see): free them here,
        # or a sweep of hundreds of cases runs out of MPI communicators.
        current.destroy()
        if creep is not None:
            creep.destroy()


def _run(case, comm, cell, current, creep, ref, timings, t_start) -> CaseResult:
    i_ref = case.operating.reference_current
    n = case.creep.exponent
    t0 = time.perf_counter()
    cur, crp, coupling_change, coupling_its = _solve_at(current, creep, case, i_ref, timings)
    log.info("%s: f_max = %.5f, Δp_max = %.4f MPa (%d Newton iterations)", case.name, cur.f_max,
             crp.dp_max / 1e6, crp.newton_iterations)
    timings["solve"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    f, dp1, pts = _interface_pairs(current, cur, crp)
    icrit = pointwise_critical_current(f, dp1, ref, n, i_ref)
    neg, where = global_argmax(comm, -icrit, pts)
    critical = -neg
    table = _gather_table(comm, pts, f, dp1, icrit / ref.flat_current)
    timings["criterion"] = time.perf_counter() - t0

    primary_f_max = None
    if case.solver.primary_reference and not case.kinetics.primary:
        # The paper's Fig. 1e/2b maxima: the same geometry without interface kinetics.
        t0 = time.perf_counter()
        primary = CurrentProblem(cell, case.electrolyte, Kinetics(primary=True),
                                 case.operating.temperature, degree=case.solver.current_degree,
                                 solver=case.solver.current_solver, prefix="current_primary_")
        try:
            primary_f_max = primary.solve(i_ref).f_max
        finally:
            primary.destroy()
        timings["primary_current"] = time.perf_counter() - t0

    root = None
    if case.solver.root_finding:
        t0 = time.perf_counter()
        root = _root_find(current, creep, case, ref, critical)
        timings["root_finding"] = time.perf_counter() - t0

    distance = case.topography.equivalent_distance(cur.f_max_location, crp.dp_max_location)
    timings["total"] = time.perf_counter() - t_start
    return CaseResult(
        case=case, cell=cell, current=cur, creep=crp, flat=ref, critical_current=critical,
        criterion_location=where, hotspot_distance=distance, interface_table=table,
        primary_current_ratio=primary_f_max,
        coupling_current_change=coupling_change, coupling_iterations=coupling_its,
        root_critical_current=root, timings=timings, ranks=comm.size,
    )


INTERFACE_COLUMNS = ("x_um", "y_um", "z_um", "current_ratio", "excess_pressure_MPa",
                     "critical_current_ratio_to_flat")


def _gather_table(comm, pts, f, dp1, ratio) -> np.ndarray | None:
    """Interface nodes with f, Δp1 and i_crit/i0, gathered on rank 0 (None elsewhere)."""
    local = np.column_stack([pts, f, dp1, ratio]) if len(f) else np.zeros((0, 6))
    parts = comm.gather(local, root=0)
    return None if parts is None else np.concatenate(parts)


def _write_interface_csv(path: Path, table: np.ndarray) -> None:
    """CSV of the interface fields at the reference current, units in the headers."""
    scale = np.array([1e6, 1e6, 1e6, 1.0, 1e-6, 1.0])
    rows = table * scale
    rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
    lines = [",".join(INTERFACE_COLUMNS)]
    lines += [",".join(f"{v:.10g}" for v in row) for row in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")


def _to_electrolyte(current: CurrentProblem, field_li: dolfinx.fem.Function) -> np.ndarray:
    """Values of a Li-side interface field at the electrolyte's interface dofs."""
    return current.cell.transfer(field_li, current.V).x.array


def _interface_pairs(current: CurrentProblem, cur: CurrentResult, crp: CreepResult):
    """F and Δp at the same (owned) electrolyte interface dofs, with their coordinates."""
    V = current.V
    own = owned(V, current.dofs)
    dp = _to_electrolyte(current, crp.excess_pressure)
    f = cur.interface_current.x.array[own] / cur.geometric_current
    return f, dp[own], V.tabulate_dof_coordinates()[own]


def own_mask(current: CurrentProblem) -> np.ndarray:
    """Mask of the interface dofs (``current.dofs``) that this rank owns."""
    return current.dofs < current.V.dofmap.index_map.size_local


def _solve_at(current: CurrentProblem, creep: CreepProblem, case: Case, i_geo: float,
              timings: dict | None = None):
    """Current and creep at ``i_geo``; with coupling, Picard iterations of the two.

    Returns:
        (current result, creep result, relative changes of i_loc caused by the coupling — of its
        maximum and the largest pointwise change, both relative to the uncoupled maximum — or
        None, coupling iterations).

    """
    current.shift.x.array[:] = 0.0
    t0 = time.perf_counter()
    cur = current.solve(i_geo)
    t1 = time.perf_counter()
    crp = creep.solve(cur.interface_current, i_geo)
    if timings is not None:
        timings["current"] = t1 - t0
        timings["creep"] = time.perf_counter() - t1
    if not case.solver.coupling:
        return cur, crp, None, 0
    comm = current.comm
    own = owned(current.V, current.dofs)
    base = cur.interface_current.x.array.copy()
    f_max_uncoupled = cur.f_max
    scale = comm.allreduce(float(np.abs(base[own]).max(initial=0.0)), op=MPI.MAX)
    r_int = current.r_int
    shift = current.shift.x.array
    mask = own_mask(current)
    r_prev, relax = None, 0.5
    for it in range(case.solver.coupling_max_it + 1):
        dp = _to_electrolyte(current, crp.excess_pressure)
        # Pressure shifts the equilibrium potential by V_Li·Δp/F (MODEL.md §4). The fixed-point
        # residual is the current that the not-yet-applied part of that shift would move.
        r = case.creep.molar_volume * dp[current.dofs] / FARADAY - shift[current.dofs]
        residual = comm.allreduce(float(np.abs(r[mask]).max(initial=0.0)), op=MPI.MAX)
        residual /= r_int * scale
        log.debug("coupling iteration %d: fixed-point residual %.2e (relative current)", it,
                  residual)
        if residual <= case.solver.coupling_tol:
            new = cur.interface_current.x.array
            total = comm.allreduce(float(np.abs(new[own] - base[own]).max(initial=0.0)),
                                   op=MPI.MAX)
            change = {"max_current": abs(cur.f_max - f_max_uncoupled) / f_max_uncoupled,
                      "pointwise": total / scale}
            return cur, crp, change, it
        if r_prev is not None:
            # Aitken's dynamic relaxation: the map's eigenvalue nears −1 at low current.
            dr = (r - r_prev)[mask]
            num = comm.allreduce(float(np.dot(r_prev[mask], dr)))
            den = comm.allreduce(float(np.dot(dr, dr)))
            if den > 0:
                relax = float(np.clip(-relax * num / den, 0.02, 1.0))
        r_prev = r
        shift[current.dofs] += relax * r
        cur = current.solve(i_geo)
        crp = creep.solve(cur.interface_current, i_geo)
    raise ConvergenceError(
        f"pressure–kinetics coupling did not converge in {case.solver.coupling_max_it} iterations"
    )


def _root_find(current: CurrentProblem, creep: CreepProblem, case: Case, ref: FlatReference,
               guess: float) -> float:
    """Critical current by brentq on g(i) = max_x (i_loc − i_g(Δp)) / i, re-solving at each i."""
    comm = current.comm
    n = case.creep.exponent

    def margin(log_i: float) -> float:
        i_geo = math.exp(log_i)
        cur_i, crp_i, _, _ = _solve_at(current, creep, case, i_geo)
        f, dp, _ = _interface_pairs(current, cur_i, crp_i)
        local = f * i_geo - growth_current(dp, ref, n)
        value = comm.allreduce(float(local.max(initial=-np.inf)), op=MPI.MAX) / i_geo
        log.debug("root finding: i_geo = %.6g A/m², margin %.3e", i_geo, value)
        return value

    if not math.isfinite(guess):
        raise ConvergenceError("root finding: no point of the interface can grow a crack")
    # The closed form is exact without coupling and close with it: bracket tightly around it.
    lo, hi = math.log(guess) - 0.05, math.log(guess) + 0.05
    while margin(lo) > 0:
        lo -= 0.2
    while margin(hi) < 0:
        hi += 0.2
    return math.exp(brentq(margin, lo, hi, xtol=case.solver.root_rtol, rtol=case.solver.root_rtol))
