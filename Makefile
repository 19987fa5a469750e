# hqtrack: two commands open the README, `make demo` and `make test`; both set up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.hqtrack-setup

.PHONY: setup browser demo test bench soak notebooks clean ablations

setup: $(STAMP)

$(STAMP): pyproject.toml requirements-nodeps.txt Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -e '.[dev]'
	SAM2_BUILD_CUDA=0 $(PY) -m pip install --quiet --no-deps --no-build-isolation -r requirements-nodeps.txt
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

# The ablation rows (figures/ablations/ROW.json) with the committed checkpoints; notebooks 09-15 read them.
# Rows 3-6 use the teaching model on small slices (one ping-pong video, 12 frames per dev sequence, one composite:
# the machine they were made on was shared); rows 1-2 score every committed variant checkpoint (the teaching
# model and data/checkpoints/ablation/*) on the 4 full dev sequences, row 2 also on the 6 train_holdout
# sequences. About 20 minutes of CPU in all (bf16, 1 thread). Rerun after replacing a checkpoint.
ABLATE_DATA ?= $(or $(HQTRACK_DATA),../shared/data)/davis2016
ABLATE := OMP_NUM_THREADS=1 $(PY) -m hqtrack_core.cli ablate
ABLATE_OUT := figures/ablations
ablations: setup
	$(ABLATE) memory --data $(ABLATE_DATA) --split dev --sequences blackswan --frame-stride 2 \
	    --pingpong 4 --max-frames 75 --data-short-edge 240 --out $(ABLATE_OUT)
	$(ABLATE) threshold --data $(ABLATE_DATA) --split dev --max-frames 12 --out $(ABLATE_OUT)
	$(ABLATE) refiner --data $(ABLATE_DATA) --split dev --max-frames 12 --out $(ABLATE_OUT)
	$(ABLATE) joint --data $(ABLATE_DATA) --split dev --composites 1 --max-frames 20 --data-short-edge 240 \
	    --out $(ABLATE_OUT)
	$(ABLATE) backbone --data $(ABLATE_DATA) --split dev --out $(ABLATE_OUT)
	$(ABLATE) multiscale --data $(ABLATE_DATA) --split dev --out $(ABLATE_OUT)
	$(ABLATE) multiscale --data $(ABLATE_DATA) --split train_holdout --out $(ABLATE_OUT)/train_holdout
