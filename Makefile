# The README's commands. `setup` is idempotent and works offline where the pinned wheels are on disk.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test demo bench lint

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

test: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/python -m pytest

demo: setup
	$(BIN)/srgan demo --out out

bench: setup
	$(BIN)/python benchmarks/upscale.py

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts
