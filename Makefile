# smallfirst — two commands do everything on a fresh machine:
#   make run    install (into .venv) and serve the gateway with the embedded local model
#   make test   install (into .venv) and run ruff, mypy --strict and the whole test suite
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# llama-cpp-python builds from source (CPU, ~6 min once per venv).
export CMAKE_ARGS ?= -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_BLAS=OFF -DGGML_NATIVE=ON
export FORCE_CMAKE ?= 1

.PHONY: install system-deps run test lint typecheck unit bench clean

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e ".[embedded,dev,finetune]"
	touch $@

install: $(VENV)/.installed

system-deps:  # PostgreSQL + chromium for the store and browser tests (apt-get, when possible)
	bash scripts/system-deps.sh

run: install
	$(BIN)/smallfirst serve $(ARGS)

lint: install
	$(BIN)/ruff check smallfirst tests bench

typecheck: install
	$(BIN)/mypy

test: system-deps lint typecheck
	$(BIN)/pytest -q $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/gateway_overhead.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
