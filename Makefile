# Two entry points on a fresh Debian / Raspberry Pi OS machine:
#   make demo   the firmware against the simulator on the default scenario, with a report
#   make test   the test suite (installs mosquitto and node when missing and root is available)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev
TRAIN  := $(VENV)/.installed-train
SCENARIO ?= hw_sim/scenarios/night_leopard.toml
OUT    ?= demo-out

.PHONY: demo test venv sysdeps model bench lint clean

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { tools/ensure-system-deps.sh python3-venv:__none__ && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

venv: $(STAMP)

sysdeps:
	@tools/ensure-system-deps.sh mosquitto:mosquitto nodejs:node

demo: $(STAMP)
	$(VENV)/bin/trailcam sim $(SCENARIO) --out $(OUT) --report $(OUT)/report.json

# the fine-tuning tests need the train extra (torch CPU wheel, litert-torch): installed for the tests
# where those wheels exist (x86-64); elsewhere (a Pi) tests/test_train.py skips saying so
TEST_TRAIN := $(if $(filter x86_64,$(shell uname -m)),$(TRAIN),)

test: $(STAMP) sysdeps $(TEST_TRAIN)
	$(PY) -m pytest -q

$(TRAIN): $(STAMP)
	$(PY) -m pip install -q -e '.[train]'
	@touch $@

model: $(TRAIN)
	$(PY) -m firmware.classify.build --out models

bench: $(STAMP)
	$(PY) bench/run_all.py

lint: $(STAMP)
	$(VENV)/bin/ruff check firmware hw_sim tests bench

clean:
	rm -rf $(OUT) .pytest_cache
