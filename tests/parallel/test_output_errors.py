"""Output errors under MPI: found on rank 0, raised on every rank, quickly (no rank waits)."""

import os
import time
from pathlib import Path

from mpi4py import MPI

import pytest

from contour_fem.cli import main
from contour_fem.core.errors import OutputError
from contour_fem.io import output

WORLD = MPI.COMM_WORLD
CASE = ("[geometry]\ntopography = 'flat'\nseparation_um = 150\n[mesh]\nresolution = 'lean'\n"
        "[output]\nfields = false\n")


@pytest.fixture
def folder(tmp_path_factory) -> Path:
    root = WORLD.bcast(tmp_path_factory.mktemp("out-mpi") if WORLD.rank == 0 else None)
    if WORLD.rank == 0:
        (root / "case.toml").write_text(CASE)
        (root / "a_file").write_text("x")
    WORLD.barrier()
    return root


@pytest.mark.ranks3
@pytest.mark.parametrize("out", ["a_file", "a_file/below", "."])
def test_an_output_error_ends_every_rank_at_once(folder, out):
    t0 = time.perf_counter()
    code = main(["-q", "solve", str(folder / "case.toml"), "--out", str(folder / out)])
    assert WORLD.allgather(code) == [2] * WORLD.size
    assert time.perf_counter() - t0 < 10  # checked before any work, on every rank


@pytest.mark.ranks3
def test_an_error_in_the_final_move_is_raised_on_every_rank(folder, monkeypatch):
    # The staged folder cannot be moved into place (e.g. the disk filled up): rank 0 fails, and
    # every rank must learn it rather than wait in the next collective.
    real = os.rename

    def broken(src, dst):
        if ".partial-" in str(src):
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(output.os, "rename", broken)
    with pytest.raises(OSError, match="No space left"):
        with output.staged_output(folder / "new", WORLD, "solve") as stage:
            assert stage.name.startswith(".new.partial-")
    WORLD.barrier()
    assert not (folder / "new").exists()


@pytest.mark.ranks3
def test_refusals_are_output_errors_on_every_rank(folder):
    with pytest.raises(OutputError, match="is a file"):
        with output.staged_output(folder / "a_file", WORLD, "solve"):
            pass
