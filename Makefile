# Two commands on a fresh Debian 12 / Ubuntu 24.04 machine: `make demo` and `make test`.
# Every target that runs circuitsim first runs scripts/setup.sh (idempotent, silent when done).

VENV := .venv
PY   := $(VENV)/bin/python

.PHONY: setup demo test lint golden bench clean

setup:
	@bash scripts/setup.sh

# `make demo TECHNOLOGY=sky130 [CORNER=ss]`: the 3T1C cells in SkyWater SKY130
demo: setup
	$(VENV)/bin/circuitsim demo $(if $(TECHNOLOGY),--technology $(TECHNOLOGY)) \
		$(if $(CORNER),--corner $(CORNER))

test: setup
	$(PY) -m pytest -q -p no:cacheprovider -n auto --dist worksteal

lint: setup
	$(VENV)/bin/ruff check .

golden: setup
	$(VENV)/bin/circuitsim golden --update

bench: setup
	$(PY) scripts/bench_harness.py
	$(PY) scripts/bench_surrogates.py
	$(PY) scripts/bench_train.py

clean:
	find . -path ./$(VENV) -prune -o -path ./.git -prune -o \
		-name __pycache__ -type d -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache .mypy_cache .hypothesis build dist
