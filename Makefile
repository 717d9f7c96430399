# smallfirst — two commands do everything on a fresh machine:
#   make run    install (into .venv) and serve the gateway with the embedded local model
#   make test   install (into .venv) and run ruff, mypy --strict and the whole test suite
#   (make test-fast: unit tests and the CLI's error paths only, for the inner loop)
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# llama-cpp-python builds from source (CPU, ~6 min once per venv). On x86_64 it targets x86-64-v3
# (AVX2/FMA/F16C) rather than -march=native: a wheel built natively on a newer CPU (AMX, AVX512-BF16)
# and reused from pip's cache segfaults in decode on an older one. Never taken from the wheel cache.
ifeq ($(shell uname -m),x86_64)
LLAMA_CPU_FLAGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
else
LLAMA_CPU_FLAGS := -DGGML_NATIVE=ON
endif
export CMAKE_ARGS ?= -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_BLAS=OFF $(LLAMA_CPU_FLAGS)
export FORCE_CMAKE ?= 1

.PHONY: install system-deps run test test-fast lint typecheck unit bench clean

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import llama_cpp" 2>/dev/null || \
		$(BIN)/python -m pip install -q --no-cache-dir "llama-cpp-python[server]>=0.3.7"
	$(BIN)/python -m pip install -q -e ".[embedded,embeddings,dev,finetune]"
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

test-fast: install  # the inner loop (under 2 minutes): unit tests and the CLI's error paths, no slow ones
	$(BIN)/pytest -q -m "not slow" tests/unit tests/integration/cli $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/gateway_overhead.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
