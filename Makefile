# Everything a fresh machine needs: `make run` (the quickstart) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean system

# the exact versions CI passed on (constraints.txt; scripts/refresh-constraints.sh renews it)
CONSTRAINTS ?= constraints.txt

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: the CPU build on this disk (anything else pulls a multi-GB CUDA build)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e '.[dev]'
	touch $@

system:
	bash scripts/setup-system.sh

run: $(STAMP)
	$(VENV)/bin/adapex run

# Two xdist workers of one thread each: most tests are single-threaded, so this halves the
# wall time on two cores. tests/conftest.py keeps every test of a module, and every test of
# a shared trained fixture, on one worker: nothing is trained twice.
PYTEST_WORKERS ?= 2

test: $(STAMP) system
	OMP_NUM_THREADS=1 $(VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy hw_builders search_spaces dse

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .adapex_cache studies.db
