# hqtrack: two commands open the README, `make demo` and `make test`; both set up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.hqtrack-setup

.PHONY: setup browser demo test bench soak notebooks clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements-nodeps.txt Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	@touch $(STAMP)

# Chromium for the player's browser tests (tests/test_player.py; Playwright itself comes with the dev extra):
# Debian's package, installed only when absent and running as root with apt-get; never fails the build (the
# browser tests skip without it).
browser: setup
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && \
	    apt-get install -y -q chromium >/dev/null 2>&1; }; }; } || \
	  echo "make browser: no chromium installed; the browser tests will be skipped"

demo: setup
	@mkdir -p build
	$(PY) -m papermill --log-output notebooks/00_quickstart.ipynb build/00_quickstart.ipynb

test: setup browser
	$(PY) -m pytest

bench: setup
	$(PY) -m hqtrack_core.bench all

soak: setup
	$(PY) -m hqtrack_core.bench soak

# Re-execute every notebook in place (stores the outputs that nbval checks) and refresh the committed figures
# (other runs write them to build/figures).
notebooks: setup
	for nb in notebooks/[0-9]*.ipynb; do HQTRACK_FIGURES=$(CURDIR)/figures $(PY) -m papermill "$$nb" "$$nb" || exit 1; done

clean:
	rm -rf build .pytest_cache
