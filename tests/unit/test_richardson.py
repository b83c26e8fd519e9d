"""Richardson extrapolation recovers a known order, and says why when there is none."""



import pytest

from contour_fem.studies.convergence import richardson


def test_richardson_recovers_a_known_order():
    sizes = (0.4, 0.2, 0.1)
    conv = richardson(sizes, tuple(3.0 + 0.5 * h**2 for h in sizes))
    assert conv.order == pytest.approx(2.0, rel=1e-8)
    assert conv.extrapolated == pytest.approx(3.0, rel=1e-12)


def test_no_order_says_why():
    sizes = (0.4, 0.2, 0.1)
    oscillating = richardson(sizes, (1.0, 1.2, 1.1))
    assert oscillating.order is None and oscillating.no_order == "not_monotone"
    # Monotone, but the increment does not shrink although the step halves: order 0.
    diverging = richardson(sizes, (1.0, 0.9, 0.8))
    assert diverging.order is None and diverging.no_order == "not_shrinking"
    assert diverging.relative_error == pytest.approx(0.2 / 0.8)
    stalled = richardson(sizes, (1.0, 0.5, 0.5 - 1e-12))
    assert stalled.order is None and stalled.no_order == "too_fast"
    converging = richardson(sizes, tuple(2.0 + h for h in sizes))
    assert converging.no_order is None
    assert converging.order == pytest.approx(1.0, rel=1e-8)
