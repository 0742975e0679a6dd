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

SIM_PORT ?= 0

## Install, seed the embedded SQLite database, start the microservice simulator (so every
## dashboard section has data) on a free port (or SIM_PORT) and serve on
## http://$(HOST):$(PORT)/graphql; Ctrl-C stops both. The simulator prints the variables that
## point the server at it once it holds its port, or exits saying the port is taken.
run: install
	$(BIN)/python server.py seed --demo
	@$(BIN)/python -m services.simulator --port $(SIM_PORT) > .simulator.env 2> .simulator.log & \
	  simulator=$$!; trap 'kill $$simulator 2>/dev/null' EXIT INT TERM; \
	  until [ "$$(wc -l < .simulator.env)" -ge 16 ]; do \
	    kill -0 $$simulator 2>/dev/null || { cat .simulator.log >&2; exit 1; }; sleep 0.1; \
	  done; \
	  echo "microservice simulator on $$(sed -n 's|^TALENTSCOPE_API_URL=\(.*\)/talentscope$$|\1|p' .simulator.env) (log: .simulator.log)"; \
	  env $$(cat .simulator.env) $(BIN)/python server.py serve --host $(HOST) --port $(PORT)

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
