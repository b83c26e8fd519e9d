"""Local maxima of an interface field are found and followed over levels, each on its own."""

import numpy as np
import pytest

from contour_fem.studies.convergence import moving_maximum, richardson
from contour_fem.studies.peaks import follow_maxima, local_maxima

SIZES = (0.3, 0.2, 0.1)


def _table(n: int, a: float, b: float) -> dict[str, np.ndarray]:
    """Two bumps on [0, 60]², at (10, 10) of height a and at (50, 30) of height b."""
    x, y = (c.ravel() for c in np.meshgrid(np.linspace(0, 60, n), np.linspace(0, 60, n)))
    value = (a * np.exp(-((x - 10) ** 2 + (y - 10) ** 2) / 8.0)
             + b * np.exp(-((x - 50) ** 2 + (y - 30) ** 2) / 8.0))
    return {"x_um": x, "y_um": y, "excess_pressure_MPa": value}


def test_local_maxima_finds_both_bumps_largest_first_and_skips_low_ones():
    t = _table(61, 5.0, 4.5)
    xy = np.column_stack([t["x_um"], t["y_um"]])
    peaks = local_maxima(xy, t["excess_pressure_MPa"], separation=7.5)
    assert [tuple(xy[i]) for i in peaks] == [(10.0, 10.0), (50.0, 30.0)]
    # 4.5 is at 90 % of the range 0 … 5: with a floor of 95 % only the larger bump is followed.
    assert len(local_maxima(xy, t["excess_pressure_MPa"], 7.5, floor=0.95)) == 1


def test_a_plateau_within_the_separation_is_one_maximum():
    xy = np.column_stack([np.arange(10.0), np.zeros(10)])
    plateau = np.where(np.arange(10) < 4, 1.0, 0.0)
    assert local_maxima(xy, plateau, separation=3.0) == [0]
    # Along a longer ridge the maxima are a separation apart: each is followed on its own.
    ridge = np.where(np.arange(10) < 9, 1.0, 0.0)
    assert local_maxima(xy, ridge, separation=3.0) == [0, 4, 8]


def test_each_local_maximum_keeps_its_own_converging_sequence():
    # One bump falls, the other rises: the global maximum switches from the first to the
    # second, and its own sequence is neither's.
    falling = [4.0 + 20.0 * h**2 for h in SIZES]  # 5.8, 4.8, 4.2 → 4
    rising = [5.0 - 10.0 * h**2 for h in SIZES]  # 4.1, 4.6, 4.9 → 5
    tables = [_table(121, a, b) for a, b in zip(falling, rising, strict=True)]
    seqs = follow_maxima(tables, "excess_pressure_MPa", separation=7.5)
    assert [s["location_um"] for s in seqs] == [[50.0, 30.0], [10.0, 10.0]]
    assert seqs[0]["values"] == pytest.approx(rising, rel=1e-12)
    assert seqs[1]["values"] == pytest.approx(falling, rel=1e-12)
    assert seqs[0]["holds_max"] == [False, False, True]
    for seq, limit in zip(seqs, (5.0, 4.0), strict=True):
        conv = richardson(SIZES, tuple(seq["values"]))
        assert conv.order == pytest.approx(2.0, rel=1e-6)
        assert conv.extrapolated == pytest.approx(limit, rel=1e-9)
    # The global maximum 5.8, 4.8, 4.9 is not monotone: the study must say why.
    assert richardson(SIZES, tuple(max(p) for p in zip(falling, rising, strict=True))).order is None
    warning = moving_maximum("max_excess_pressure_MPa", [0.667, 1.0, 1.5], seqs)
    assert warning is not None and "(50, 30) µm" in warning and "(10, 10) µm" in warning


def test_a_maximum_that_stays_put_raises_no_warning():
    tables = [_table(61, 5.0 + h, 3.0) for h in SIZES]
    seqs = follow_maxima(tables, "excess_pressure_MPa", separation=7.5)
    assert len(seqs) == 1  # the other bump is below the floor
    assert moving_maximum("max_excess_pressure_MPa", [0.667, 1.0, 1.5], seqs) is None


def test_a_uniform_field_has_no_local_maxima():
    xy = np.column_stack([np.arange(5.0), np.zeros(5)])
    assert local_maxima(xy, np.full(5, 2.0), separation=1.0) == []
    assert follow_maxima([{"x_um": xy[:, 0], "y_um": xy[:, 1], "p": np.zeros(5)}] * 3, "p",
                         separation=1.0) == []
