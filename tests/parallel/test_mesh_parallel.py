"""Meshes on several ranks: serial equals parallel, each region spread evenly."""

from mpi4py import MPI

import pytest

from contour_fem.geometry import CellSpec, EggBox
from contour_fem.mesh import create_cell_mesh

S = 150e-6
UM = 1e-6


@pytest.mark.ranks3
def test_serial_and_parallel_meshes_agree():
    comm = MPI.COMM_WORLD
    if comm.size < 2:
        pytest.skip("needs mpirun -n 2")
    topo = EggBox(height=25 * UM, period=S)
    spec = CellSpec(resolution="coarse")
    par = create_cell_mesh(comm, topo, spec)
    ser = create_cell_mesh(MPI.COMM_SELF, topo, spec)
    assert par.counts() == ser.counts()
    assert par.interface_area() == pytest.approx(ser.interface_area(), rel=1e-12)
    assert par.volume("lithium") == pytest.approx(ser.volume("lithium"), rel=1e-12)
    # Each rank holds part of the mesh.
    assert par.mesh.topology.index_map(3).size_local < ser.mesh.topology.index_map(3).size_local


@pytest.mark.ranks3
def test_each_region_is_spread_evenly_over_the_ranks():
    comm = MPI.COMM_WORLD
    if comm.size < 2:
        pytest.skip("needs mpirun -n 2")
    cm = create_cell_mesh(comm, EggBox(height=25 * UM, period=S), CellSpec(resolution="coarse"))
    for region in ("lithium", "electrolyte"):
        owned = comm.allgather(cm.submesh(region).mesh.topology.index_map(3).size_local)
        # A graph partitioner put 93 % of the lithium cells on one of two ranks.
        assert max(owned) <= 1.05 * sum(owned) / comm.size, (region, owned)
