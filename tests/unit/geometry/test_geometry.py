"""Geometry layer (gmsh and numpy only): topographies, area ratios, input validation, cells."""

import itertools
import math

import gmsh
import numpy as np
import pytest

from contour_fem.core.errors import InputError
from contour_fem.geometry import (
    PHYSICAL_GROUPS,
    CellSpec,
    EggBox,
    Flat,
    Frustum,
    HeightFunction,
    Pyramid,
    build_cell_model,
    make_topography,
)
from contour_fem.geometry.spec import structured_grid

S = 150e-6
UM = 1e-6


def all_topographies():
    return [
        Flat(period=S),
        EggBox(height=25 * UM, period=S),
        EggBox(height=25 * UM, period=S, form="sum", invert=True),
        Pyramid(height=25 * UM, period=S),
        Pyramid(height=25 * UM, period=S, corner_radius=3 * UM),
        Frustum(height=25 * UM, period=S, top_width=S / 4, gap=S / 4),
        Frustum(height=25 * UM, period=S, top_width=S / 4, gap=S / 4, corner_radius=2 * UM,
                invert=True),
        Frustum(height=25 * UM, period=S, top_width=S / 4, gap=S / 4, corner_radius=2 * UM,
                corner_profile="smooth"),
    ]


# docs/model.md §1: product egg-box area ratios (quoted to 4 decimals).
@pytest.mark.parametrize("ratio, expected", [(1 / 30, 1.0027), (1 / 6, 1.0659), (1 / 3, 1.2393),
                                             (1 / 2, 1.4794)])
def test_eggbox_area_ratio_matches_reference(ratio, expected):
    assert EggBox(height=ratio * S, period=S).area_ratio() == pytest.approx(expected, abs=5e-5)


def test_eggbox_quadrature_is_spectral():
    e = EggBox(height=S / 2, period=S)
    assert abs(e.area_ratio_numeric(256) - e.area_ratio_numeric(2048)) < 1e-12


def test_closed_forms_agree_with_quadrature():
    # Midpoint rule over kinked surfaces converges as O(h²): 2048² points reach ~1e-5.
    p = Pyramid(height=25 * UM, period=S)
    assert p.area_ratio() == pytest.approx(math.sqrt(1 + (2 * 25 / 150) ** 2), rel=1e-14)
    assert p.area_ratio_numeric() == pytest.approx(p.area_ratio(), abs=5e-5)
    f = Frustum(height=25 * UM, period=S, top_width=S / 4, gap=S / 4)
    assert f.area_ratio_numeric() == pytest.approx(f.area_ratio(), abs=5e-5)
    assert Flat(period=S).area_ratio() == 1.0


@pytest.mark.parametrize("topo", all_topographies(), ids=lambda t: t.kind)
def test_gradient_matches_finite_differences(topo):
    rng = np.random.default_rng(1)
    x, y = rng.uniform(-S, S, 2000), rng.uniform(-S, S, 2000)
    d = 1e-10
    gx, gy = topo.gradient(x, y)
    fx = (topo.h(x + d, y) - topo.h(x - d, y)) / (2 * d)
    fy = (topo.h(x, y + d) - topo.h(x, y - d)) / (2 * d)
    # Points within d of a sharp kink may differ; there are none in a random sample of 2000.
    assert np.max(np.abs(gx - fx)) < 1e-5
    assert np.max(np.abs(gy - fy)) < 1e-5


@pytest.mark.parametrize("topo", all_topographies(), ids=lambda t: t.kind)
def test_normals_are_unit_and_point_into_electrolyte(topo):
    x, y = np.meshgrid(np.linspace(0, S, 31), np.linspace(0, S, 31))
    n = topo.normal(x, y)
    assert np.allclose(np.linalg.norm(n, axis=-1), 1.0)
    assert np.all(n[..., 2] > 0)


@pytest.mark.parametrize("topo", all_topographies()[1:], ids=lambda t: t.kind)
def test_mirror_symmetry_and_height_range(topo):
    x, y = np.meshgrid(np.linspace(0, S / 2, 17), np.linspace(0, S / 2, 17))
    h = topo.h(x, y)
    assert np.allclose(h, topo.h(-x, y)) and np.allclose(h, topo.h(x, -y))
    assert np.allclose(h, topo.h(S - x, y))
    lo, hi = topo.bounds()
    assert hi - lo == pytest.approx(topo.height)
    fine = np.linspace(-S / 2, S / 2, 301)
    xx, yy = np.meshgrid(fine, fine)
    # Rounded edges can only lower the crests (by less than the radius).
    radius = getattr(topo, "corner_radius", 0.0)
    assert hi - radius - 1e-3 * topo.height <= topo.h(xx, yy).max() <= hi + 1e-15


def test_corner_radius_makes_the_gradient_continuous():
    sharp = Pyramid(height=25 * UM, period=S)
    round_ = Pyramid(height=25 * UM, period=S, corner_radius=5 * UM)
    eps = 1e-12  # inside the fillet the gradient changes by ~eps/radius across the ridge
    x = np.array([30 * UM - eps, 30 * UM + eps])  # across the diagonal ridge x = y
    y = np.array([30 * UM + eps, 30 * UM - eps])
    assert abs(np.diff(sharp.gradient(x, y)[0])[0]) > 0.1
    assert abs(np.diff(round_.gradient(x, y)[0])[0]) < 1e-5
    # Rounding only removes material near the edges: the area shrinks a little.
    assert 0 < sharp.area_ratio() - round_.area_ratio() < 5e-3


@pytest.mark.parametrize("topo", [t for t in all_topographies()[1:]
                                  if getattr(t, "corner_radius", 1.0) > 0], ids=lambda t: t.kind)
def test_the_slope_across_a_mirror_plane_vanishes_on_it(topo):
    # Mirror planes take u·n = 0: a smooth interface must meet them at a right angle (a sharp
    # apex is a point of four facets). A rounded pyramid once kept a kink across x = 0 within
    # ~r/2 of its apex (slope 0.05 on each side).
    eps = 1e-10
    along = np.linspace(0.0, S / 2, 3001)  # includes the apex and 0.05 µm steps near it
    for plane in (0.0, S / 2):
        gx = topo.gradient(np.full_like(along, plane + eps), along)[0]
        gy = topo.gradient(along, np.full_like(along, plane + eps))[1]
        assert np.max(np.abs(gx)) < 1e-4 and np.max(np.abs(gy)) < 1e-4


@pytest.mark.parametrize("kind", ["pyramid", "frustum"])
def test_a_smooth_corner_profile_has_continuous_curvature_of_smallest_radius_r(kind):
    r = 2 * UM
    topo = {p: make_topography(kind, height=25 * UM, period=S, corner_radius=r,
                               corner_profile=p) for p in ("circular", "smooth")}
    # Across the frustum's top and base edges (and the pyramid's base edge) along y = 0.3 x
    # off the diagonal: the second derivative of h along x, by differences of the exact slope.
    edges = [S / 2] if kind == "pyramid" else [S / 8, 3 * S / 8]
    for edge in edges:
        x = np.linspace(edge - 4 * UM, min(edge + 4 * UM, S / 2), 8001)
        curvature = {}
        for p, t in topo.items():
            gx = t.gradient(x, 0.3 * x)[0]
            curvature[p] = np.gradient(gx, x) / (1.0 + gx**2) ** 1.5
        step = x[1] - x[0]
        # The circular arc's curvature jumps from 0 to 1/r at its ends; the blend's rises from 0.
        assert np.max(np.abs(np.diff(curvature["circular"]))) > 0.5 / r
        assert np.max(np.abs(np.diff(curvature["smooth"]))) < 1e3 * step / r**2
        # Both have the smallest radius of curvature r (the blend at its centre).
        for p in ("circular", "smooth"):
            assert np.max(np.abs(curvature[p])) == pytest.approx(1.0 / r, rel=2e-3)
    # The diagonal ridge's rounding and the fillet lines follow the profile.
    assert topo["smooth"].fillet_lines() != topo["circular"].fillet_lines()
    assert topo["smooth"].describe()["corner_profile"] == "smooth"


def test_a_rounded_pyramid_is_smooth_at_its_apex():
    round_ = Pyramid(height=25 * UM, period=S, corner_radius=2 * UM)
    r = np.linspace(0.0, 3 * UM, 61)
    for direction in ((1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.3)):
        x, y = direction[0] * r, direction[1] * r
        gx, gy = round_.gradient(x, y)
        # the slope grows from 0 at the apex, without a jump (|Δslope| ≤ 0.05 per 0.05 µm)
        assert np.hypot(gx[0], gy[0]) < 1e-6
        assert np.max(np.abs(np.diff(np.hypot(gx, gy)))) < 0.05
    # Only the edges and the apex are rounded: on the faces away from them (3 µm and more) the
    # surface is the sharp pyramid's.
    far = np.linspace(3 * UM, S / 2 - 3 * UM, 200)
    sharp = Pyramid(height=25 * UM, period=S)
    assert np.allclose(round_.h(far, 0.3 * far), sharp.h(far, 0.3 * far), atol=1e-12)


def test_invert_flips_the_surface():
    a = Pyramid(height=25 * UM, period=S)
    b = Pyramid(height=25 * UM, period=S, invert=True)
    x = np.linspace(0, S, 13)
    assert np.allclose(a.h(x, x), -b.h(x, x))
    # Default: SE apex at the origin points down into the Li (lowest interface point).
    assert a.h(0.0, 0.0) == pytest.approx(-12.5 * UM)


def test_height_function_symmetry_detection():
    k = 2 * math.pi / S
    sym = HeightFunction(lambda x, y: 5 * UM * np.cos(k * x) * np.cos(k * y), period=S)
    asym = HeightFunction(lambda x, y: 5 * UM * np.sin(k * x) + 2 * UM * np.cos(k * y), period=S)
    assert sym.mirror_symmetric and not asym.mirror_symmetric
    assert sym.height == pytest.approx(10 * UM, rel=1e-3)
    with pytest.raises(InputError, match="periodic"):
        HeightFunction(lambda x, y: x, period=S)


@pytest.mark.parametrize("build, field", [
    (lambda: EggBox(height=0.0, period=S), "height"),
    (lambda: EggBox(height=-1 * UM, period=S), "height"),
    (lambda: EggBox(height=float("nan"), period=S), "height"),
    (lambda: EggBox(height=25 * UM, period=0.0), "period"),
    (lambda: EggBox(height=25 * UM, period=S, form="cosine"), "form"),
    (lambda: Frustum(height=25 * UM, period=S, top_width=100 * UM, gap=60 * UM), "top_width"),
    (lambda: Frustum(height=25 * UM, period=S, top_width=-1 * UM, gap=10 * UM), "top_width"),
    (lambda: Pyramid(height=25 * UM, period=S, corner_radius=500 * UM), "corner_radius"),
    (lambda: make_topography("sinusoid", height=25 * UM, period=S), "topography"),
])
def test_bad_input_names_the_field(build, field):
    with pytest.raises(InputError, match=field) as exc:
        build()
    assert "\n" not in str(exc.value)


def test_quarter_cell_of_asymmetric_surface_is_refused():
    asym = HeightFunction(lambda x, y: 5 * UM * np.sin(2 * math.pi * x / S), period=S)
    gmsh.initialize()
    try:
        with pytest.raises(InputError, match="quarter"):
            build_cell_model(asym, CellSpec(domain="quarter"))
    finally:
        gmsh.finalize()


@pytest.mark.parametrize(("structured", "domain"), [
    (True, "eighth"), (True, "quarter"), (True, "full"), (False, "quarter"), (False, "full")])
def test_cell_has_every_physical_group(structured, domain):
    # The eighth cell 0 ≤ y ≤ x ≤ S/2 has the diagonal plane instead of x = 0 and y = S/2.
    absent = ("side_x0", "side_y1") if domain == "eighth" else ("side_diag",)
    expected = {k: v for k, v in PHYSICAL_GROUPS.items() if k not in absent}
    gmsh.initialize()
    gmsh.option.setNumber("General.Terminal", 0)
    try:
        topo = Frustum(height=25 * UM, period=S, top_width=S / 4, gap=S / 4)
        cm = build_cell_model(topo, CellSpec(domain=domain, resolution="coarse",
                                             structured=structured))
        names = {gmsh.model.getPhysicalName(d, t): (d, t)
                 for d, t in gmsh.model.getPhysicalGroups()}
        assert names == expected
        for dim, tag in expected.values():
            nodes, _ = gmsh.model.mesh.getNodesForPhysicalGroup(dim, tag)
            assert len(nodes) > 0
        assert cm.num_cells > 0 and cm.z_bottom < -topo.height / 2 < topo.height / 2 < cm.z_top
        # Interface nodes lie exactly on the surface.
        nodes, xyz = gmsh.model.mesh.getNodesForPhysicalGroup(*PHYSICAL_GROUPS["interface"])
        xyz = xyz.reshape(-1, 3)
        assert np.allclose(xyz[:, 2], topo.h(xyz[:, 0], xyz[:, 1]), atol=1e-15)
    finally:
        gmsh.finalize()


def test_cell_spec_validation():
    with pytest.raises(InputError, match="resolution"):
        CellSpec(resolution="ultra")
    with pytest.raises(InputError, match="domain"):
        CellSpec(domain="half")
    with pytest.raises(InputError, match="interface_size"):
        CellSpec(interface_size=-1.0)
    with pytest.raises(InputError, match="order"):
        CellSpec(order=3)


def test_equivalent_distance_uses_symmetry():
    e = EggBox(height=25 * UM, period=S)
    # The two crests of the product egg-box in a quarter cell are equivalent.
    assert e.equivalent_distance([0, 0, 12.5 * UM], [75 * UM, 75 * UM, 12.5 * UM]) < 1e-12
    assert e.equivalent_distance([0, 0, 0], [10 * UM, 0, 0]) == pytest.approx(10 * UM)


@pytest.mark.parametrize("topo", [
    Pyramid(height=25 * UM, period=S, corner_radius=2 * UM),
    Frustum(height=25 * UM, period=S, top_width=S / 4, gap=S / 4, corner_radius=2 * UM),
], ids=lambda t: t.kind)
def test_the_eighth_cell_grid_has_a_line_where_each_fillet_ends(topo):
    # The surface's curvature jumps from 0 to 1/r where a fillet meets a facet; a cell across
    # that line would see a non-smooth surface (docs/model.md §1). Each line of
    # fillet_lines() is such a place, and the sheared eighth cell's axis has it.
    lines = topo.fillet_lines()
    assert len(lines) == (2 if topo.kind == "pyramid" else 5)
    axis = structured_grid(topo, CellSpec(resolution="coarse", domain="eighth"))[0]
    r, delta, x0 = topo.corner_radius, 0.005 * UM, 0.3 * S

    def curvature(path, at):  # |h''| along the path t ↦ path(t) at t = at, central differences
        h = [float(topo.h(*map(np.atleast_1d, path(at + u)))[0]) for u in (-delta, 0.0, delta)]
        return abs(h[0] - 2 * h[1] + h[2]) / delta**2

    def across_diagonal(t):  # η = x − y = t at x + y = 2·x0
        return x0 + t / 2, x0 - t / 2

    def along_x(t):  # y = 0, where the profile's t = x
        return t, 0.0

    # The diagonal fillet's end is the first line (the profile's roundings lie further out).
    for i, e in enumerate(lines):
        assert np.min(np.abs(axis - e)) < 1e-12 * S
        path = across_diagonal if i == 0 else along_x
        k = sorted(curvature(path, e + side) for side in (-0.05 * UM, 0.05 * UM))
        assert k[0] < 0.02 / r and k[1] > 0.3 / r


@pytest.mark.parametrize("topo", [
    Pyramid(height=25 * UM, period=S, corner_radius=2 * UM),
    Frustum(height=25 * UM, period=S, top_width=S / 4, gap=S / 4, corner_radius=2 * UM),
], ids=lambda t: t.kind)
@pytest.mark.parametrize("domain", ["eighth", "full"])
def test_refined_crease_meshes_are_one_family(topo, domain):
    # A convergence study needs every cell size divided by the refinement, the graded band
    # between a crease and the far field included: h(d) = crease + (ratio − 1)·d at a distance
    # d must become h(d)/2. With the ratio held at 1.5 the band's lines went 25, 29, 40
    # (frustum, eighth cell) as the refinement went 2, 4, 8 (now 44, 86, 172), and the
    # frustum's Δp_max moved with the levels at order 0.93 (docs/verification.md §4).
    marks = np.array([*topo.crease_positions(), 0.0])
    marks = np.concatenate([marks, -marks])

    def band_lines(level):  # grid lines 0.5–8 µm from the nearest crease
        axis = structured_grid(topo, CellSpec(resolution="coarse", domain=domain,
                                              refinement=level))[0]
        dist = np.abs(axis[:, None] - marks[None, :]).min(axis=1)
        return np.count_nonzero((dist > 0.5 * UM) & (dist < 8 * UM))

    counts = [band_lines(level) for level in (2.0, 4.0, 8.0)]
    # Rounding each interval to whole cells leaves a line or two either way.
    assert all(1.6 < fine / coarse < 2.6 for coarse, fine in itertools.pairwise(counts)), counts
    assert 3.4 < counts[2] / counts[0] < 4.8, counts
