# The two Quick start commands (README): `make run` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint schema install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

## Install, create and seed the embedded SQLite database, and serve on http://127.0.0.1:8000/graphql
run: install
	$(BIN)/python server.py seed --demo
	$(BIN)/python server.py serve --host $(HOST) --port $(PORT)

## Install and run the whole test suite (SQLite and in-process pub/sub unless DATABASE_URL/REDIS_URL are set)
test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

## Rewrite schema.graphql from the code (a test fails when it is out of date)
schema: install
	$(BIN)/python server.py schema > schema.graphql
