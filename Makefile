# hqtrack: two commands open the README, `make demo` and `make test`; both set up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.hqtrack-setup

.PHONY: setup browser demo test bench soak notebooks clean ablations ablations-rescore ablation-seeds ablation-seeds-join

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

# The ablation study at full length (figures/ablations/ROW.json; notebooks 09-15 read them): every sequence the
# study's models never trained on (the 4 dev sequences at 480p and the 6 train_holdout ones at 240p, every frame),
# with the committed checkpoints (rows 3-6: hqtrack_teach_v2, the study's baseline). Row 3 runs on 10 long clips
# (600 frames: the target leaves the view or is occluded and comes back, ablation.generators.long_clip), row 4
# with proposals that fail at documented rates (refine.faulty). Each row is resumable: a
# killed `make ablations` started again skips the sequences it finished (OUT/.ROW.sequences). Hours of CPU: it runs
# two sequences at a time, one torch thread each (ABLATE_WORKERS; about 2 GB of memory each): on 2 cores 1.8x faster
# than one worker and 1.3x faster than one worker on 2 threads, with the same scores bit for bit as one worker
# (figures/README.md, "Ablation rows decide with intervals"). Each committed row's JSON records the settings it was
# made with; `make ablations-rescore` recomputes their intervals and verdicts without tracking.
ABLATE_DATA ?= $(or $(HQTRACK_DATA),../shared/data)/davis2016
ABLATE_WORKERS ?= 2
ABLATE_SPLIT ?= dev+train_holdout
ABLATE := OMP_NUM_THREADS=1 $(PY) -m hqtrack_core.cli ablate --workers $(ABLATE_WORKERS)
ABLATE_OUT := figures/ablations
ABLATE_ROWS := backbone multiscale memory threshold refiner joint
ablations: setup
	$(ABLATE) memory --data $(ABLATE_DATA) --split $(ABLATE_SPLIT) --long-clips 10 --long-length 600 \
	    --data-short-edge 240 --out $(ABLATE_OUT)
	$(ABLATE) threshold --data $(ABLATE_DATA) --split $(ABLATE_SPLIT) --refiner-faults default --out $(ABLATE_OUT)
	$(ABLATE) threshold --data $(ABLATE_DATA) --split $(ABLATE_SPLIT) --out $(ABLATE_OUT)/no_faults
	$(ABLATE) refiner --data $(ABLATE_DATA) --split $(ABLATE_SPLIT) --out $(ABLATE_OUT)
	$(ABLATE) joint --data $(ABLATE_DATA) --split $(ABLATE_SPLIT) --composites 10 --data-short-edge 240 \
	    --out $(ABLATE_OUT)
	$(ABLATE) backbone --data $(ABLATE_DATA) --split $(ABLATE_SPLIT) --out $(ABLATE_OUT)
	$(ABLATE) multiscale --data $(ABLATE_DATA) --split $(ABLATE_SPLIT) --out $(ABLATE_OUT)

ablations-rescore: setup
	for row in $(ABLATE_ROWS); do $(PY) -m hqtrack_core.cli ablate $$row --rescore --out $(ABLATE_OUT) || exit 1; done
	$(PY) -m hqtrack_core.cli ablate threshold --rescore --out $(ABLATE_OUT)/no_faults

# Rows 1-2 with training seeds 1 and 2: the recipe and budget of the committed seed-0 checkpoints
# (data/checkpoints/ablation/README.md: stage 1 100 steps of a 160-step schedule, stage 2 300 steps from its EMA,
# batch 4, crop 241, train_fit, bf16), only the seed changes; about 1-2 CPU-hours per variant and seed. The weights
# stay in runs/; only the rows' scores join the committed rows (--seed-run). Resumable (--resume).
# bf16 as seed 0 was trained: a CPU without AMX-BF16 or AVX512-BF16 emulates it, over 10x slower per step than
# fp32 (figures/README.md, bf16 training step with oneDNN capped to AVX2); run the seeds where bf16 is native.
# SEED=1 make ablation-seeds; SEED=2 make ablation-seeds; make ablation-seeds-join
SEED ?= 1
SEED_RUNS := runs/ablation_seeds
SEED_TRAIN := OMP_NUM_THREADS=1 $(PY) -m hqtrack_core.cli train --set seed=$(SEED) --set batch_size=4 \
  --set 'crop=[241,241]' --set data_split=train_fit --set save_every=20 --precision bf16 --data $(ABLATE_DATA) --resume
ablation-seeds: setup
	for v in teach teach_resnet50 teach_internimage_t teach_single_scale teach_fpn_head; do \
	  c=$$(echo $$v | sed 's/^teach_\?/cpu_teach_stage1_/; s/_$$//'); d=$(SEED_RUNS)/$$v/seed$(SEED); \
	  $(SEED_TRAIN) --config $$c --steps 160 --stop-after 100 --out $$d/s1 || exit 1; \
	  $(SEED_TRAIN) --config $$(echo $$c | sed 's/stage1/stage2/') --steps 300 --out $$d/s2 \
	    --init $$d/s1/checkpoints/step_0000100.pt --export $$d/$$v.safetensors || exit 1; done
	S=$(SEED_RUNS); $(ABLATE) backbone --data $(ABLATE_DATA) --split $(ABLATE_SPLIT) --out $$S/rows/seed$(SEED) \
	  --checkpoint mobilenetv2=$$S/teach/seed$(SEED)/teach.safetensors \
	  --checkpoint resnet50=$$S/teach_resnet50/seed$(SEED)/teach_resnet50.safetensors \
	  --checkpoint internimage_t=$$S/teach_internimage_t/seed$(SEED)/teach_internimage_t.safetensors
	S=$(SEED_RUNS); $(ABLATE) multiscale --data $(ABLATE_DATA) --split $(ABLATE_SPLIT) --out $$S/rows/seed$(SEED) \
	  --checkpoint single_scale=$$S/teach_single_scale/seed$(SEED)/teach_single_scale.safetensors \
	  --checkpoint multiscale=$$S/teach/seed$(SEED)/teach.safetensors \
	  --checkpoint multiscale_fpn=$$S/teach_fpn_head/seed$(SEED)/teach_fpn_head.safetensors

ablation-seeds-join: setup
	for row in backbone multiscale; do $(PY) -m hqtrack_core.cli ablate $$row --rescore --out $(ABLATE_OUT) \
	  $$(for f in $(SEED_RUNS)/rows/seed*/$$row.json; do echo --seed-run $$f; done) || exit 1; done
