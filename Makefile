# The two commands of the README: `make demo` (the main job on the embedded default) and `make test`.
# Each does its own set-up in .venv (idempotent).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.air_nb-installed
DEMO_DIR ?= runs/demo
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export MPLBACKEND := Agg
export PYTHONUNBUFFERED := 1

.PHONY: setup demo test sync-check bench lab

setup: $(STAMP)

$(STAMP): setup.py settings.ini
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The exact torch pair lies on this machine's disk; a looser pin downloads several GB.
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[dev]'
	# The offline 64 px face DCGAN (weights inside the wheel); its own requirements would pull a second torch.
	$(PY) -m pip install -q --no-deps gan-face-generate==1.1.1
	# The browser tests drive Debian's Chromium (playwright's own browser download is not used).
	command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "warning: the browser tests need Chromium and will fail without it: run 'sudo apt-get install chromium' (Debian/Ubuntu)"
	touch $(STAMP)

# Photo -> Sketch in the shapes world, NADA and AIR side by side; each run folder gets an executed report notebook.
DEMO_PRESET ?= shapes-photo-to-sketch
demo: setup
	@mkdir -p $(DEMO_DIR)
	@for m in nada air; do \
	  echo "== $(DEMO_PRESET), method $$m -> $(DEMO_DIR)/$$m"; \
	  $(BIN)/papermill nbs/train.ipynb $(DEMO_DIR)/$$m.ipynb -k python3 --progress-bar \
	    -p preset $(DEMO_PRESET) -p method $$m -p out_dir $(DEMO_DIR)/$$m || exit 1; \
	done
	@echo "reports: $(DEMO_DIR)/nada.ipynb $(DEMO_DIR)/air.ipynb; run folders: $(DEMO_DIR)/nada $(DEMO_DIR)/air"

# notebooks and library must agree: exporting and cleaning may not change the tree
sync-check: setup
	@before="$$(git status --porcelain | sort; git diff | md5sum)"; \
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean && $(PY) tools/readme.py; \
	after="$$(git status --porcelain | sort; git diff | md5sum)"; \
	if [ "$$before" != "$$after" ]; then \
	  echo "notebooks and library out of sync: run nbdev_export and nbdev_clean, then commit"; \
	  git status --short; exit 1; fi; \
	echo "notebooks and library in sync"

test: setup
	@set -o pipefail; rc=0; \
	$(MAKE) --no-print-directory sync-check || rc=1; \
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --junitxml=.pytest-report.xml tests/ || rc=1; \
	$(PY) tests/summary.py .pytest-report.xml $$rc; exit $$rc

bench: setup
	$(PY) -m air_nb.scale.bench

# JupyterLab on the notebooks (installed by the set-up's dev extra); LAB_ARGS e.g. "--no-browser --port 8890".
# Jupyter refuses to run as root without --allow-root (containers often are root).
lab: setup
	$(BIN)/jupyter-lab --notebook-dir=nbs $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)
