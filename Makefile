# contour_fem — everything a fresh machine needs, from nothing.
#   make test   create .venv (Python 3.12, DOLFINx wheel), lint, serial tests, MPI tests
#               (2 ranks, and the rank-count-dependent ones on 3)
#   make demo   the main job on built-in defaults: the Zhang 2024 identification (a subset of its
#               grid: R_int 17 and 70 Ω·cm², n 1 and 6.56, no slip; k and m in full) and report
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
MPI_TIMEOUT ?= 2700

.PHONY: install lint test test-serial test-mpi demo perf clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "Python >= 3.12 is needed (pyenv reads .python-version); set PYTHON=python3.12")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[wheel,dev]"
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check contour_fem tests benchmarks examples

test-serial: install
	$(BIN)/python -m pytest -m "not mpi" $(PYTEST_ARGS)

# MPI tests under a hard time limit, so a deadlock fails fast instead of eating CI (45 min a
# tier: the 2-rank tier ran past 20 min on a slow day of the development machine). Three ranks
# oversubscribe a 2-core machine; that is fine for the small rank-count-dependent tests.
test-mpi: install
	timeout $(MPI_TIMEOUT) $(BIN)/mpirun -n 2 $(BIN)/python -m mpi4py -m pytest -m mpi -p no:cacheprovider $(PYTEST_ARGS)
	timeout $(MPI_TIMEOUT) $(BIN)/mpirun -n 3 $(BIN)/python -m mpi4py -m pytest -m ranks3 -p no:cacheprovider $(PYTEST_ARGS)

test: lint test-serial test-mpi

# The full grid (5 R_int × 3 n × 2 slips) is `contour-fem benchmark zhang2024` (docs/performance.md).
DEMO_GRID := --identify 'kinetics.interfacial_resistance_ohm_cm2=[17, 70]' \
	--identify 'creep.exponent=[1, 6.56]' --identify 'creep.slip=["no-slip"]'

demo: install
	$(BIN)/mpirun -n 2 $(BIN)/python -m mpi4py -m contour_fem benchmark zhang2024 \
		--out runs/zhang2024 $(DEMO_GRID)

perf: install
	$(BIN)/python benchmarks/perf.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
