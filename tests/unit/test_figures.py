"""Colour scales of the interface maps: shared, diverging around zero, logarithmic when wide."""

import numpy as np
from matplotlib.colors import LogNorm, Normalize, TwoSlopeNorm

from contour_fem.io.figures import LOG_SPAN, shared_norm


def test_signed_quantities_diverge_symmetrically_around_zero():
    norm = shared_norm([{"q": np.array([-1.0, 3.0])}, {"q": np.array([0.5, np.inf])}], "q", True)
    assert isinstance(norm, TwoSlopeNorm)
    assert (norm.vmin, norm.vcenter, norm.vmax) == (-3.0, 0.0, 3.0)


def test_a_wide_positive_range_is_logarithmic_and_a_narrow_one_linear():
    wide = shared_norm([{"q": np.array([0.2, 1.0, 0.9 * LOG_SPAN * 0.2 * 10])}], "q", False)
    assert isinstance(wide, LogNorm) and wide.vmin == 0.2
    narrow = shared_norm([{"q": np.array([0.9, 1.1])}, {"q": np.array([np.nan, 1.0])}], "q",
                         False)
    assert type(narrow) is Normalize and (narrow.vmin, narrow.vmax) == (0.9, 1.1)
