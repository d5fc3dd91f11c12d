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
# Unlabeled text for the offline encoder: the real documents when present, else the shipped corpus.
PRETRAIN_CORPUS ?= $(if $(wildcard ../shared/corpus/*.txt),../shared/corpus,data/corpus.jsonl)
# A smoke-sized encoder (about 1M parameters) that pretrains and fine-tunes in a few minutes on 2 cores.
MINI_ENCODER ?= --vocab-size 4000 --hidden-size 128 --layers 2 --heads 2 --intermediate-size 256 \
                --max-length 64 --max-steps 300 --batch-size 32
MINI_FINETUNE ?= --epochs 3 --max-length 128 --batch-size 16 --learning-rate 1e-3
RUN_NAMES := $(MODELS) transformer-mini

.PHONY: setup demo test lint clean

setup: $(VENV)/.installed

# torch goes first and pinned: a looser requirement would pull the CUDA build and gigabytes with it.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# The main job: train every baseline on the shipped corpus (each is evaluated on its test split), pretrain a
# small encoder offline and fine-tune it, evaluate on real paragraphs when available, compare, and
# batch-label sample documents.
demo: setup
	@for m in $(MODELS); do $(BIN)/policytheme train --model $$m --out $(RUNS)/$$m --overwrite || exit 1; done
	$(BIN)/policytheme pretrain --corpus $(PRETRAIN_CORPUS) --out $(RUNS)/mini-encoder --overwrite $(MINI_ENCODER)
	$(BIN)/policytheme train --model transformer --backbone $(RUNS)/mini-encoder --out $(RUNS)/transformer-mini \
		--overwrite $(MINI_FINETUNE)
	@for m in $(RUN_NAMES); do [ -z "$(REALDEV)" ] || $(BIN)/policytheme evaluate $(RUNS)/$$m --data $(REALDEV) || exit 1; done
	$(BIN)/policytheme compare $(addprefix $(RUNS)/,$(RUN_NAMES)) --out $(RUNS)/compare.md
	$(BIN)/policytheme label --model $(RUNS)/tfidf-logreg $(SAMPLE) --out $(RUNS)/sample-labels.jsonl

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(RUNS) build *.egg-info
