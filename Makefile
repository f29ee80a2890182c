# Two commands for a new user: `make demo` (set up + main job) and `make test`.
# Everything installs into .venv from PyPI; nothing is downloaded at run time.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out
# DeepRacer's track files beside the repository (tests and CI); optional for the demo.
SHARED_TRACKS := $(abspath ../shared/tracks)
ifneq ($(wildcard $(SHARED_TRACKS)),)
export RACERL_TRACK_PATH ?= $(SHARED_TRACKS)
endif

.PHONY: demo test test-fast lint setup sandbox-tools browser-tools clean

setup: sandbox-tools $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test,car,ray]'
	touch $@

# The reward sandbox's isolation on Linux: bubblewrap and libseccomp (Debian/Ubuntu names),
# installed when missing and this is root; otherwise it says what to install.
sandbox-tools:
	@if [ "$$(uname -s)" != Linux ]; then echo "sandbox: no OS isolation on $$(uname -s)"; \
	elif command -v bwrap >/dev/null && ldconfig -p | grep -q libseccomp.so.2; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get install -y -qq bubblewrap libseccomp2 >/dev/null || \
	  { apt-get update -qq && apt-get install -y -qq bubblewrap libseccomp2 >/dev/null; }; \
	else echo "sandbox: install bubblewrap and libseccomp2 (sudo apt install bubblewrap)"; fi

# The web console's browser tests (tests/web/test_browser.py) drive Debian's Chromium through
# Playwright: installed when missing and this is root; otherwise it says what to install.
browser-tools:
	@if command -v chromium >/dev/null || [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get install -y -qq chromium >/dev/null || \
	  { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; \
	else echo "browser tests: install Chromium (sudo apt install chromium)"; fi

# The main job: train a racer on the default track with the racing preset (the progress
# reward, 1-4 m/s), evaluate it under DeepRacer's evaluation rules (train does it when it
# stops), save its training chart and maps of the evaluated laps, export it for the car and
# drive the exported model (onnxruntime, no torch) round the track; last, its laps on video
# and beside the centre-line driver's and the race line's.
DEMO_MINUTES ?= 5
demo: setup
	$(BIN)/racerl tracks
	$(BIN)/racerl train --name demo --preset racing --minutes $(DEMO_MINUTES) --force
	$(BIN)/racerl plot demo --out $(OUT)/training_chart.png
	$(BIN)/racerl plot demo --evaluation --out $(OUT)/evaluation_chart.png
	$(BIN)/racerl export demo --out $(OUT)/demo-export
	$(BIN)/racerl drive $(OUT)/demo-export/demo.tar.gz --source sim
	$(BIN)/racerl evaluate demo --trials 3 --video $(OUT)/demo.mp4 --limits

# ruff, then the import contract of pyproject.toml: the layers of docs/architecture.md.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -q --durations=15

test-fast: setup
	$(BIN)/pytest -q -m "not slow"

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache
