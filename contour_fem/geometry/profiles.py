"""Piecewise-linear height profiles with rounded kinks (numpy only).

A square pyramid or frustum is a profile P(t) of the in-plane "square radius" t = max(|x|, |y|):
flat top, a sloped flank, flat gap. Sharp edges are kinks of P; a corner radius r rounds each
kink in one of two :data:`CORNER_PROFILES`:

* ``circular``: an arc of radius r tangent to both lines (C¹: the curvature jumps from 0 to 1/r
  where the arc meets a line);
* ``smooth``: a blend over [t_k − w, t_k + w] whose slope goes from s1 to s2 as
  s1 + (s2 − s1)·(1/2 + (3u − u³)/4), u = (t − t_k)/w (C²: the curvature rises from 0 and
  falls back to 0), with w chosen so that its smallest radius of curvature is r (at the centre
  when s2 = −s1, where w = (3/2)·|s1|·r; nearer the flatter side otherwise).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from contour_fem.core.errors import InputError

#: Distance from a sharp kink, relative to the profile's length, that counts as on it (the
#: last bits of mesh coordinates must not pick a side).
KINK_TOLERANCE = 1e-12

#: How a corner radius rounds a kink (see the module docstring).
CORNER_PROFILES = ("circular", "smooth")
#: The profile of every rounded result stored before the choice existed, and the default.
LEGACY_CORNER_PROFILE = "circular"


@dataclass(frozen=True)
class _Arc:
    """A rounding between slopes s1 (left) and s2 (right) of a kink, over [t_start, t_end]."""

    t_start: float
    t_end: float
    tc: float  # circular: arc centre, t; smooth: the kink's t
    zc: float  # circular: arc centre, z; smooth: the kink's z
    radius: float  # circular: the radius; smooth: the half-width w
    convex: bool  # True: valley (centre above), False: ridge (centre below)
    s1: float = 0.0
    s2: float = 0.0
    smooth: bool = False


def _make_blend(tk: float, zk: float, s1: float, s2: float, r: float) -> _Arc:
    """The curvature-continuous rounding of the kink at (tk, zk), smallest radius ``r``."""
    # The curvature of the blend of half-width 1; w scales it by 1/w.
    u = np.linspace(-1.0, 1.0, 20001)
    slope = s1 + (s2 - s1) * (0.5 + (3.0 * u - u**3) / 4.0)
    w = r * float(np.max(0.75 * abs(s2 - s1) * (1.0 - u**2) / (1.0 + slope**2) ** 1.5))
    return _Arc(t_start=tk - w, t_end=tk + w, tc=tk, zc=zk, radius=w, convex=s2 > s1,
                s1=s1, s2=s2, smooth=True)


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
        radius: Rounding radius of every kink (0 keeps them sharp): the arc's radius, or the
            smallest radius of curvature of a smooth rounding.
        name: Used in error messages.
        shape: One of :data:`CORNER_PROFILES`.

    """

    def __init__(self, knots_t: list[float], knots_z: list[float], radius: float, name: str,
                 shape: str = LEGACY_CORNER_PROFILE):
        if shape not in CORNER_PROFILES:
            raise InputError(f"corner profile must be one of {', '.join(CORNER_PROFILES)}, "
                             f"got {shape!r}")
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
            arc = (_make_blend if shape == "smooth" else _make_arc)(tk, zk, s1, s2, radius)
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
            if arc.smooth:
                w, ds = arc.radius, arc.s2 - arc.s1
                u = (t[m] - arc.tc) / w
                dz[m] = arc.s1 + ds * (0.5 + (3.0 * u - u**3) / 4.0)
                # The line s1 through the kink plus ds·w·∫_{-1}^{u} of the blend's weight.
                z[m] = arc.zc + w * (arc.s1 * u + ds * (u / 2 + 3 * u**2 / 8 - u**4 / 16
                                                        + 3 / 16))
                continue
            d = t[m] - arc.tc
            root = np.sqrt(np.maximum(arc.radius**2 - d**2, 0.0))
            sign = 1.0 if arc.convex else -1.0
            z[m] = arc.zc - sign * root
            dz[m] = sign * d / np.maximum(root, 1e-300)
        return z, dz


def fillet_half_width(slope: float, radius: float, shape: str = LEGACY_CORNER_PROFILE) -> float:
    """Half-width in ``d`` of the rounding of :func:`rounded_abs` (where it meets the lines)."""
    if shape == "smooth":
        return 1.5 * radius * slope
    return radius * slope / np.hypot(1.0, slope)


def rounded_abs(d: np.ndarray, slope: float, radius: float, tolerance: float = 0.0,
                shape: str = LEGACY_CORNER_PROFILE) -> tuple[np.ndarray, np.ndarray]:
    """Return a rounded version of ``|d|`` whose graph ``slope·|d|`` has a rounding ``radius``.

    The rounding is measured in the section where ``slope·|d|`` is the height, so an edge between
    two facets of that slope gets a rounding of the requested radius: a circular arc (C¹), or
    with ``shape="smooth"`` the blend of the module docstring (C², smallest radius of curvature
    ``radius`` at d = 0). With no rounding the derivative at the kink (|d| ≤ ``tolerance``) is
    0, the mean of both sides.
    """
    d = np.asarray(d, dtype=float)
    shape_of = d.shape
    d = np.atleast_1d(d)
    val, der = np.abs(d), np.sign(d)
    if radius <= 0.0 or slope <= 0.0:
        der = np.where(np.abs(d) <= tolerance, 0.0, der)
        return val.reshape(shape_of), der.reshape(shape_of)
    t0 = fillet_half_width(slope, radius, shape)
    inside = np.abs(d) < t0
    di = d[inside]
    if shape == "smooth":
        u = di / t0
        val[inside] = t0 * (3.0 / 8.0 + 0.75 * u**2 - u**4 / 8.0)
        der[inside] = 0.5 * (3.0 * u - u**3)
        return val.reshape(shape_of), der.reshape(shape_of)
    q = np.hypot(1.0, slope)
    root = np.sqrt(radius**2 - di**2)
    val[inside] = (radius * q - root) / slope
    der[inside] = di / root / slope
    return val.reshape(shape_of), der.reshape(shape_of)
