# The few verbs a user needs. Everything installs into .venv inside the repository.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
TORCH   ?= torch==2.13.0
RUNS    ?= runs
SAMPLE  ?= ../shared/corpus

.PHONY: setup demo test lint clean

setup: $(VENV)/.installed

# torch goes first and pinned: a looser requirement would pull the CUDA build and gigabytes with it.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: setup
	$(BIN)/python -m policytheme.demo --runs $(RUNS) --sample $(SAMPLE)

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(RUNS) build *.egg-info
