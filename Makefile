# Keras NLP Pipeline. `make train-sentiment` and `make test` work on a fresh clone: they create .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# GPU=1 installs tensorflow[and-cuda] (the CUDA libraries from PyPI) on top of the CPU requirements.
GPU ?= 0
# Local copies of the corpora (see ../shared/data/SOURCES.md); downloads are used when absent.
ifneq ($(wildcard ../shared/data),)
export PIPELINE_DATA_DIR ?= $(abspath ../shared/data)
endif

.PHONY: setup train-sentiment train-lm train-translation test lint bench-sentiment bench-embeddings bench-lm bench-translation bench-serve bench-scale bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@if [ "$(GPU)" = "1" ]; then $(PY) -m pip install --quiet "tensorflow[and-cuda]==2.21.0"; fi
	touch $@

setup: $(VENV)/.installed  ## create .venv and install the pinned requirements

train-sentiment: setup  ## train and evaluate the default neural sentiment model on IMDB
	$(PY) -m pipeline run --config configs/sentiment-transformer.toml

train-lm: setup  ## train and evaluate the character-level language model on tiny Shakespeare
	$(PY) -m pipeline run --config configs/lm-char-gru.toml

train-translation: setup  ## train and evaluate the English -> Spanish Transformer translator (8k shared pieces, placeholders)
	$(PY) -m pipeline run --config configs/translate-transformer-sp8k-ph.toml

test: setup  ## the test suite (small synthetic data; a few tests use the data mirror when present)
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench-sentiment: setup  ## every feature x model on IMDB plus the keras-io reference -> reports/sentiment.md
	$(PY) -m bench.sentiment

bench-embeddings: setup  ## GloVe loading speed, word2vec, intrinsic evaluation, GloVe/word2vec BiGRU -> reports/embeddings.md
	$(PY) -m bench.embeddings

bench-lm: setup  ## language models: perplexity vs n-gram baselines, speed, generation -> reports/lm.md
	$(PY) -m bench.lm

bench-translation: setup  ## translators: BLEU, chrF, BLEU by length, decoding speed, cached vs uncached -> reports/translation.md
	$(PY) -m bench.translation

bench-serve: setup  ## HTTP serving: requests/s and p50/p95/p99 latency at concurrency 1-128, batching on/off, a malformed-request mix -> reports/serve.md
	$(PY) -m bench.serve

bench-scale: setup  ## training as one process, two loopback workers and two JAX host devices: s/epoch, samples/s, bytes per step -> reports/scale.md
	$(PY) -m bench.scale

bench: bench-sentiment bench-embeddings bench-lm bench-translation bench-serve bench-scale

clean:  ## remove caches and run directories (not .venv, not data/cache)
	rm -rf runs .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +
