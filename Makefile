# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv if missing and install posekit (test: with its dev extras). torch==2.13.0 is
# installed first: on the project machines it is a CPU build on local disk, so no CUDA build is
# pulled.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# --no-compile: no .pyc for all of torch at install time (4× faster install, measured: torch 109 s
# → 28 s); Python compiles the modules it imports on first use.
PIP := $(PY) -m pip install -q --no-compile
BASE := $(VENV)/.posekit-base
DEV := $(VENV)/.posekit-dev

.PHONY: install test demo lint clean

# The demo needs only posekit's own dependencies; tests and lint add the dev extras.
$(BASE): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) torch==2.13.0
	$(PIP) -e .
	touch $(BASE)

$(DEV): $(BASE)
	$(PIP) -e '.[dev]'
	touch $(DEV)

install: $(DEV)

# pytest exits 5 when it collected nothing: report it and fail (make turns any non-zero into 2).
test: $(DEV)
	$(PY) -m pytest -q || { rc=$$?; [ $$rc -eq 5 ] && echo "make test: pytest collected no tests" >&2; exit $$rc; }

demo: $(BASE)
	$(VENV)/bin/posekit demo --out runs/demo

lint: $(DEV)
	$(PY) -m ruff check posekit tests benchmarks

clean:
	rm -rf runs .pytest_cache .ruff_cache
