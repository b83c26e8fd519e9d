"""The dual variable of primal–dual (stress-based) Newton (Rudi, Shih & Stadler 2020).

In the Jacobian of the viscous term the unit strain-rate direction D̂ = D/|D| is replaced by an
independent tensor S stored at the quadrature points. It starts as D̂ of the initial iterate and
is updated after every Newton step from the linearisation of ψ(D)·S = D
(:func:`contour_fem.physics.creep.law.dual_update`). Near the solution S → D̂, so the method
converges to the same discrete solution as standard Newton, in fewer damped steps.
"""

from __future__ import annotations

from mpi4py import MPI  # noqa: F401  (must load before PETSc/DOLFINx)

import basix.ufl
import dolfinx
import ufl
from petsc4py import PETSc

from contour_fem.physics.creep import law


class DualDirection:
    """S at the quadrature points of ``w``'s mesh, with its start and update expressions.

    Args:
        w: The mixed (velocity, pressure) iterate.
        eps0: Regularisation constant ε̂₀.
        length: Length scale of the scaling.
        quadrature_degree: Degree of the quadrature the viscous forms use.
    """

    def __init__(self, w: dolfinx.fem.Function, eps0, length: float, quadrature_degree: int):
        msh = w.function_space.mesh
        element = basix.ufl.quadrature_element(msh.basix_cell(), value_shape=(3, 3),
                                               degree=quadrature_degree)
        space = dolfinx.fem.functionspace(msh, element)
        self.dual = dolfinx.fem.Function(space, name="dual_strain_direction")
        #: The Newton update δw of the step being taken (set by :meth:`update`).
        self.step = dolfinx.fem.Function(w.function_space)
        self.alpha = dolfinx.fem.Constant(msh, PETSc.ScalarType(1.0))
        u = ufl.split(w)[0]
        points = space.element.interpolation_points
        d_hat, _ = law.strain_direction(u, eps0, length)
        self._start = dolfinx.fem.Expression(d_hat, points)
        self._next = dolfinx.fem.Expression(
            law.dual_update(u, ufl.split(self.step)[0], self.dual, self.alpha, eps0, length),
            points)

    def start(self) -> None:
        """S = D̂ of the current iterate (before the first step of a Newton solve)."""
        self.dual.interpolate(self._start)

    def update(self, du: dolfinx.fem.Function, alpha: float) -> None:
        """S += α·δS for the step ``du`` of length ``alpha`` (the iterate is still the old one)."""
        self.step.x.array[:] = du.x.array
        self.alpha.value = alpha
        self.dual.interpolate(self._next)
