"""Meshes: exact and curved interface areas, volumes, quarter and full cells, periodic side
faces, no inverted cells, coordinate bisection."""

from mpi4py import MPI

import numpy as np
import pytest

from contour_fem.core.errors import InputError
from contour_fem.geometry import CellSpec, EggBox, Flat, Frustum, Pyramid
from contour_fem.mesh import _bisect, create_cell_mesh

S = 150e-6
UM = 1e-6


def mean_height(topo, quarter=True, points=1024):
    """Mean of h over the cell by the midpoint rule (spectral for the egg-box)."""
    lo = 0.0 if quarter else -S / 2
    xs = lo + (np.arange(points) + 0.5) * (S / 2 - lo) / points
    x, y = np.meshgrid(xs, xs)
    return float(topo.h(x, y).mean())


@pytest.mark.parametrize("topo", [
    Pyramid(height=25 * UM, period=S),
    Frustum(height=25 * UM, period=S, top_width=S / 4, gap=S / 4),
    Flat(period=S),
], ids=lambda t: t.kind)
def test_faceted_area_is_exact(topo):
    # Kinks lie on mesh edges, so flat facets are represented exactly.
    cm = create_cell_mesh(MPI.COMM_SELF, topo, CellSpec(resolution="coarse"))
    assert cm.interface_area() / cm.projected_area == pytest.approx(topo.area_ratio(), rel=1e-12)


@pytest.mark.parametrize("ratio", [1 / 6, 1 / 2])
def test_curved_eggbox_area_to_1e5(ratio):
    topo = EggBox(height=ratio * S, period=S)
    cm = create_cell_mesh(MPI.COMM_SELF, topo, CellSpec(resolution="medium"))
    curved = cm.interface_area() / cm.projected_area
    assert curved == pytest.approx(topo.area_ratio(), rel=1e-5)
    straight = create_cell_mesh(MPI.COMM_SELF, topo, CellSpec(resolution="medium", order=1))
    err1 = abs(straight.interface_area() / straight.projected_area - topo.area_ratio())
    # Second-order geometry cuts the area error by orders of magnitude (docs/model.md: ~500×).
    assert err1 > 100 * abs(curved - topo.area_ratio())


@pytest.mark.parametrize("topo", [EggBox(height=25 * UM, period=S),
                                  Pyramid(height=25 * UM, period=S)], ids=lambda t: t.kind)
def test_volumes_match_their_integrals(topo):
    cm = create_cell_mesh(MPI.COMM_SELF, topo, CellSpec(resolution="coarse"))
    area = cm.projected_area
    hbar = mean_height(topo)
    assert cm.volume("lithium") == pytest.approx(area * (hbar - cm.z_bottom), rel=1e-6)
    assert cm.volume("electrolyte") == pytest.approx(area * (cm.z_top - hbar), rel=1e-6)


@pytest.mark.parametrize("structured", [True, False])
def test_quarter_and_full_cells_agree(structured):
    topo = Frustum(height=25 * UM, period=S, top_width=S / 4, gap=S / 4)
    q = create_cell_mesh(MPI.COMM_SELF, topo, CellSpec(resolution="coarse", domain="quarter",
                                                       structured=structured))
    f = create_cell_mesh(MPI.COMM_SELF, topo, CellSpec(resolution="coarse", domain="full",
                                                       structured=structured))
    assert f.projected_area == pytest.approx(4 * q.projected_area)
    assert f.interface_area() / f.projected_area == pytest.approx(
        q.interface_area() / q.projected_area, rel=1e-12)
    assert f.volume("lithium") == pytest.approx(4 * q.volume("lithium"), rel=1e-10)


@pytest.mark.parametrize("structured", [True, False])
def test_full_cell_side_faces_match_periodically(structured):
    topo = Pyramid(height=25 * UM, period=S)
    cm = create_cell_mesh(MPI.COMM_SELF, topo, CellSpec(resolution="coarse", domain="full",
                                                        structured=structured))
    x = cm.mesh.geometry.x
    for axis in (0, 1):
        lo = np.round(np.delete(x[np.isclose(x[:, axis], -S / 2)], axis, axis=1) / UM, 6)
        hi = np.round(np.delete(x[np.isclose(x[:, axis], S / 2)], axis, axis=1) / UM, 6)
        assert len(lo) > 0
        assert sorted(map(tuple, lo)) == sorted(map(tuple, hi))


@pytest.mark.parametrize("topo", [
    EggBox(height=75 * UM, period=S),
    EggBox(height=150 * UM, period=900 * UM),
    Pyramid(height=25 * UM, period=S),
    Frustum(height=25 * UM, period=S, top_width=S / 4, gap=S / 4, corner_radius=2 * UM),
], ids=lambda t: t.kind)
@pytest.mark.parametrize("structured", [True, False])
def test_no_inverted_cells(topo, structured):
    cm = create_cell_mesh(MPI.COMM_SELF, topo, CellSpec(resolution="coarse",
                                                        structured=structured))
    assert cm.min_jacobian() > 0
    tags = set(np.unique(cm.facet_tags.values))
    # The eighth cell (auto, structured) has the diagonal (17) for the faces x = 0 and y = S/2.
    assert tags == ({10, 11, 12, 14, 15, 17} if cm.spec.domain == "eighth"
                    else {10, 11, 12, 13, 14, 15, 16})


def test_input_errors_are_raised_before_gmsh():
    from contour_fem.geometry import HeightFunction

    asym = HeightFunction(lambda x, y: 5 * UM * np.sin(2 * np.pi * x / S), period=S)
    with pytest.raises(InputError, match="quarter"):
        create_cell_mesh(MPI.COMM_SELF, asym, CellSpec(domain="quarter"))


@pytest.mark.parametrize("nparts", [2, 3, 5])
def test_coordinate_bisection_gives_equal_compact_parts(nparts):
    pts = np.random.default_rng(1).uniform(size=(1000, 3)) * [1.0, 1.0, 4.0]
    dest = _bisect(pts, nparts)
    sizes = np.bincount(dest, minlength=nparts)
    assert sizes.max() - sizes.min() <= 1
    if nparts == 2:  # one cut across the longest (z) extent
        assert pts[dest == 0, 2].max() <= pts[dest == 1, 2].min()


@pytest.mark.parametrize("topo", [
    EggBox(height=25 * UM, period=S),
    Pyramid(height=25 * UM, period=S, corner_radius=2 * UM),
    Frustum(height=25 * UM, period=S, top_width=S / 4, gap=S / 4, corner_radius=2 * UM),
], ids=lambda t: t.kind)
def test_the_eighth_cell_is_half_of_the_quarter_cell(topo):
    # Symmetric about x = y, the quarter cell's mesh is the eighth cell's and its mirror image.
    e = create_cell_mesh(MPI.COMM_SELF, topo, CellSpec(resolution="coarse", domain="eighth"))
    q = create_cell_mesh(MPI.COMM_SELF, topo, CellSpec(resolution="coarse", domain="quarter"))
    assert 2 * e.counts()["cells"] == q.counts()["cells"]
    assert 2 * e.projected_area == pytest.approx(q.projected_area, rel=1e-14)
    assert 2 * e.interface_area() == pytest.approx(q.interface_area(), rel=1e-12)
    assert 2 * e.volume("lithium") == pytest.approx(q.volume("lithium"), rel=1e-12)
    assert e.min_jacobian() > 0
