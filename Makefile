# reviewrnn: `make run` trains and evaluates the default model; `make test` runs the suite.
# Both create .venv and install everything first. torch is installed on its own, pinned, before the
# project: a plain `torch` requirement would pull a multi-GB CUDA build (override TORCH_SPEC for a GPU).
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
# Where pip finds torch: empty for pip's own configuration; on a stock machine whose PyPI gives Linux the
# CUDA build, https://download.pytorch.org/whl/cpu for the CPU wheel.
TORCH_INDEX ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_NAME ?= default
RUN_ARGS ?=
PYTEST_ARGS ?=
ACCURACY_ARGS ?=
BENCH_STAMP := $(VENV)/.installed-bench
STUDY_ARGS ?=
PLOTS_STAMP := $(VENV)/.installed-plots

.PHONY: install run test soak study bench bench-accuracy bench-labels bench-scale bench-busy bench-takeoff lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: install
	$(BIN)/reviewrnn train --name $(RUN_NAME) --force $(RUN_ARGS)
	$(BIN)/reviewrnn evaluate models/$(RUN_NAME)

# The chart tests need matplotlib, so the suite installs the `plots` extra (users need not).
test: $(PLOTS_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The long reliability runs: 20 random SIGKILLs of training and of the corpus fetch, ten times the
# property-based examples, a 50 MB line and 1 GB through predict. `-o addopts=` lifts the default -m 'not soak'.
SOAK_TESTS := tests/test_resume.py::test_random_sigkill_never_corrupts_and_never_loses_a_finished_epoch
SOAK_TESTS += tests/test_corpus.py::test_sigkill_during_fetch_never_leaves_an_unverified_file
SOAK_TESTS += tests/test_bad_input.py tests/test_predict_pipes.py

soak: install
	REVIEWRNN_SOAK_KILLS=20 HYPOTHESIS_PROFILE=soak $(BIN)/python -m pytest -o addopts= $(SOAK_TESTS) $(PYTEST_ARGS)

# The long-dependency study (docs/study/): trains rnn/gru/lstm and the contrast runs, then writes
# models/study/REPORT.md with charts. matplotlib (the `plots` extra) is installed here and by `make test`.
# `make study STUDY_ARGS=--quick` takes a few minutes; add `--threads 1` when the cores are shared.
study: $(PLOTS_STAMP)
	$(BIN)/reviewrnn study $(STUDY_ARGS)

$(PLOTS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[plots]"
	touch $(PLOTS_STAMP)

# Training and forward-pass speed (bench.py), then predict end to end on IMDB text beside the old path,
# evaluate's scoring and fastText/TF-IDF (predict_speed.py; the bench extra). PREDICT_BENCH_ARGS="--reviews 1000"
PREDICT_BENCH_ARGS ?=
bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/bench.py
	$(BIN)/python benchmarks/predict_speed.py $(PREDICT_BENCH_ARGS)

# Peak memory of training on 100k and 1M reviews built from IMDB, in memory against --on-disk
# (about 1.3 GB of CSV is generated once under the cache). Smaller: make bench-scale SCALE_ARGS="--sizes 20000"
SCALE_ARGS ?=
bench-scale: install
	$(BIN)/python benchmarks/scale.py $(SCALE_ARGS)

# Training tokens/s with 0, 1 and 2 busy processes on the same cores: all cores fixed (the old
# default) against the tuned default (issue #11). More variants: BUSY_ARGS="--variants fixed,tuned,one,passive"
BUSY_ARGS ?=
bench-busy: install
	$(BIN)/python benchmarks/busy.py $(BUSY_ARGS)

# How fast training leaves the chance-level plateau: VALID after 250 steps for embedding scales (train's
# --embed-init). Smoke run: make bench-takeoff TAKEOFF_ARGS="--steps 20 --limit 2000 --seeds 0"
TAKEOFF_ARGS ?=
bench-takeoff: install
	$(BIN)/python benchmarks/takeoff.py $(TAKEOFF_ARGS)

# Accuracy beside TF-IDF+LR and fastText (the bench extra); after `install`, so torch stays the pinned build.
# Smoke run: make bench-accuracy ACCURACY_ARGS="--limit 2000 --epochs 1 --reviewrnn gru --threads 1"
# #13's single-model goal: ACCURACY_ARGS="--reviewrnn pretrained --seeds 3" (pretrains an LM first; hours on 2 cores)
bench-accuracy: $(BENCH_STAMP)
	$(BIN)/python benchmarks/accuracy.py $(ACCURACY_ARGS)

# Label efficiency: one LM pretrained on all TRAIN texts, then N = 500 ... all labels for reviewrnn from scratch,
# from the LM's embedding, from the whole LM, and for TF-IDF+LR and fastText bigrams (the bench extra).
# Smoke run: make bench-labels LABELS_ARGS="--sizes 500 --limit 2000 --epochs 1 --lm-epochs 1 --threads 1"
LABELS_ARGS ?=
bench-labels: $(BENCH_STAMP)
	$(BIN)/python benchmarks/labels.py $(LABELS_ARGS)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	touch $(BENCH_STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
