# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv if missing and install posekit with its dev extras. torch==2.13.0 is installed
# first: on the project machines it is a CPU build on local disk, so no CUDA build is pulled.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.posekit-installed

.PHONY: install test demo lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# pytest exits 5 when it collected nothing: report it and fail (make turns any non-zero into 2).
test: $(STAMP)
	$(PY) -m pytest -q || { rc=$$?; [ $$rc -eq 5 ] && echo "make test: pytest collected no tests" >&2; exit $$rc; }

demo: $(STAMP)
	$(VENV)/bin/posekit demo --out runs/demo

lint: $(STAMP)
	$(PY) -m ruff check posekit tests benchmarks

clean:
	rm -rf runs .pytest_cache .ruff_cache
