# callagent: the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export CALLAGENT_DATABASE_URL ?= sqlite:///./callagent.db

.PHONY: install run migrate test test-fast lint format bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

migrate: install
	$(BIN)/callagent migrate

run: migrate
	$(BIN)/callagent serve

# PostgreSQL tests run when CALLAGENT_TEST_POSTGRES_URL is set (CI sets it; with CI=true
# they fail instead of skipping when it is missing).
test: install
	$(BIN)/pytest -q -n auto --maxprocesses=4

lint: install
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix src tests bench migrations
	$(BIN)/ruff format src tests bench migrations

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/routing.py
	$(BIN)/python bench/dialer.py
	$(BIN)/python bench/api_load.py
	$(BIN)/python bench/hostile_files.py
	$(BIN)/python bench/held_wait.py
	$(BIN)/python bench/reconcile.py 100 1000
	$(BIN)/python bench/wallboard.py
	$(BIN)/python bench/reports_aggregates.py
	$(BIN)/python bench/planning.py
	$(BIN)/python bench/planning_simulation.py
	$(BIN)/python bench/quality.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache artifacts
