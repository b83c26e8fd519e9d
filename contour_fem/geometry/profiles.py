"""Piecewise-linear height profiles with circular fillets (numpy only).

A square pyramid or frustum is a profile P(t) of the in-plane "square radius" t = max(|x|, |y|):
flat top, a sloped flank, flat gap. Sharp edges are kinks of P; a corner radius r replaces each
kink by a circular arc of radius r tangent to both lines (C¹, exact fillet in the t–z section).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from contour_fem.core.errors import InputError

#: Distance from a sharp kink, relative to the profile's length, that counts as on it (the
#: last bits of mesh coordinates must not pick a side).
KINK_TOLERANCE = 1e-12


@dataclass(frozen=True)
class _Arc:
    """A circular fillet between slopes s1 (left) and s2 (right) of a kink."""

    t_start: float
    t_end: float
    tc: float  # arc centre, t
    zc: float  # arc centre, z
    radius: float
    convex: bool  # True: valley (centre above), False: ridge (centre below)


def _make_arc(tk: float, zk: float, s1: float, s2: float, r: float) -> _Arc:
    """Return the fillet of radius ``r`` of the kink at (tk, zk) between slopes s1 and s2."""
    convex = s2 > s1
    sign = 1.0 if convex else -1.0
    # Work with the convex case: mirror z for a ridge.
    a1, a2 = sign * s1, sign * s2
    q1, q2 = np.hypot(1.0, a1), np.hypot(1.0, a2)
    tc = r * (q1 - q2) / (a2 - a1)
    zc = a1 * tc + r * q1
    return _Arc(
        t_start=tk + tc + r * a1 / q1,
        t_end=tk + tc + r * a2 / q2,
        tc=tk + tc,
        zc=zk + sign * zc,
        radius=r,
        convex=convex,
    )


class FilletedProfile:
    """Even, piecewise-linear profile on [0, L] mirrored at both ends, with rounded kinks.

    Args:
        knots_t: Increasing breakpoints, first 0 and last ``L``.
        knots_z: Profile values at the breakpoints.
        radius: Fillet radius of every kink (0 keeps them sharp).
        name: Used in error messages.

    """

    def __init__(self, knots_t: list[float], knots_z: list[float], radius: float, name: str):
        t = np.asarray(knots_t, dtype=float)
        z = np.asarray(knots_z, dtype=float)
        self.t, self.z = t, z
        self.slopes = np.diff(z) / np.diff(t)
        self.length = float(t[-1])
        self.arcs: list[_Arc] = []
        if radius <= 0.0:
            return
        # Kinks: interior breakpoints, and the ends where the mirror image meets a slope.
        s_ext = np.concatenate([[-self.slopes[0]], self.slopes, [-self.slopes[-1]]])
        spans = []
        for k, (tk, zk) in enumerate(zip(t, z, strict=True)):
            s1, s2 = s_ext[k], s_ext[k + 1]
            if abs(s2 - s1) < 1e-14:
                continue
            arc = _make_arc(tk, zk, s1, s2, radius)
            self.arcs.append(arc)
            spans.append((arc.t_start, arc.t_end))
            if 0 < k < len(t) - 1:  # end arcs are their own mirror images
                length = self.length
                spans += [(-arc.t_end, -arc.t_start),
                          (2 * length - arc.t_end, 2 * length - arc.t_start)]
        spans.sort()
        tol = 1e-12 * self.length
        for (_, e0), (s1_, _) in itertools.pairwise(spans):
            if s1_ < e0 - tol:
                raise InputError(
                    f"corner_radius {radius:g} m is too large for {name}: rounded edges overlap; "
                    "use a smaller corner_radius"
                )

    def __call__(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the profile and its derivative at ``t`` (``0 ≤ t ≤ L``)."""
        t = np.asarray(t, dtype=float)
        seg = np.clip(np.searchsorted(self.t, t, side="right") - 1, 0, len(self.slopes) - 1)
        dz = self.slopes[seg]
        z = self.z[seg] + dz * (t - self.t[seg])
        dz = np.array(dz, dtype=float, copy=True)
        if not self.arcs:
            # Exactly at a sharp kink the slope is undefined: take the mean of both sides (0 at
            # the mirrored ends), the same on every side of a symmetry plane whatever the last
            # bit of the coordinate, so mirror-symmetric data stay symmetric.
            ext = np.concatenate([[-self.slopes[0]], self.slopes, [-self.slopes[-1]]])
            near = np.abs(t[..., None] - self.t) <= KINK_TOLERANCE * self.length
            for k in range(len(self.t)):
                dz = np.where(near[..., k], 0.5 * (ext[k] + ext[k + 1]), dz)
        # Arcs at the ends are symmetric about them, so no mirrored lookup is needed.
        for arc in self.arcs:
            m = (t > arc.t_start) & (t < arc.t_end)
            if not np.any(m):
                continue
            d = t[m] - arc.tc
            root = np.sqrt(np.maximum(arc.radius**2 - d**2, 0.0))
            sign = 1.0 if arc.convex else -1.0
            z[m] = arc.zc - sign * root
            dz[m] = sign * d / np.maximum(root, 1e-300)
        return z, dz


def fillet_half_width(slope: float, radius: float) -> float:
    """Half-width in ``d`` of the fillet of :func:`rounded_abs` (where the arc meets the lines)."""
    return radius * slope / np.hypot(1.0, slope)


def rounded_abs(d: np.ndarray, slope: float, radius: float,
                tolerance: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Return a C¹ version of ``|d|`` whose graph ``slope·|d|`` has a fillet of ``radius``.

    The fillet is measured in the section where ``slope·|d|`` is the height, so an edge between
    two facets of that slope gets a circular rounding of the requested radius. With no fillet
    the derivative at the kink (|d| ≤ ``tolerance``) is 0, the mean of both sides.
    """
    d = np.asarray(d, dtype=float)
    shape = d.shape
    d = np.atleast_1d(d)
    val, der = np.abs(d), np.sign(d)
    if radius <= 0.0 or slope <= 0.0:
        der = np.where(np.abs(d) <= tolerance, 0.0, der)
        return val.reshape(shape), der.reshape(shape)
    q = np.hypot(1.0, slope)
    t0 = fillet_half_width(slope, radius)
    inside = np.abs(d) < t0
    di = d[inside]
    root = np.sqrt(radius**2 - di**2)
    val[inside] = (radius * q - root) / slope
    der[inside] = di / root / slope
    return val.reshape(shape), der.reshape(shape)
