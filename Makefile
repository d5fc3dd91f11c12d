# The few verbs a user needs. Everything installs into .venv inside the repository.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
TORCH   ?= torch==2.13.0
RUNS    ?= runs
MODELS  ?= tfidf-logreg tfidf-svm tfidf-nb
# Real documents to label in the demo when ../shared is there (developers, CI); else the shipped samples.
SAMPLE  ?= $(if $(wildcard ../shared/corpus/*.txt),'../shared/corpus/zh_provincial_gov_work_report_2026_*.txt',data/samples)
REALDEV ?= $(wildcard ../shared/real-dev.jsonl)

.PHONY: setup demo test lint clean

setup: $(VENV)/.installed

# torch goes first and pinned: a looser requirement would pull the CUDA build and gigabytes with it.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# The main job: train every baseline on the shipped corpus (each is evaluated on its test split),
# evaluate on real paragraphs when available, compare, and batch-label sample documents.
demo: setup
	@for m in $(MODELS); do $(BIN)/policytheme train --model $$m --out $(RUNS)/$$m --overwrite || exit 1; done
	@for m in $(MODELS); do [ -z "$(REALDEV)" ] || $(BIN)/policytheme evaluate $(RUNS)/$$m --data $(REALDEV) || exit 1; done
	$(BIN)/policytheme compare $(addprefix $(RUNS)/,$(MODELS)) --out $(RUNS)/compare.md
	$(BIN)/policytheme label --model $(RUNS)/tfidf-logreg $(SAMPLE) --out $(RUNS)/sample-labels.jsonl

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(RUNS) build *.egg-info
