"""Richardson extrapolation recovers a known order."""



import pytest

from contour_fem.studies.convergence import richardson


def test_richardson_recovers_a_known_order():
    sizes = (0.4, 0.2, 0.1)
    conv = richardson(sizes, tuple(3.0 + 0.5 * h**2 for h in sizes))
    assert conv.order == pytest.approx(2.0, rel=1e-8)
    assert conv.extrapolated == pytest.approx(3.0, rel=1e-12)
