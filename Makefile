# Two commands matter: `make run` and `make test`. Both create what is missing
# (the two Python environments, the trained model) before they start.
SHELL := /bin/bash
.DEFAULT_GOAL := help

RASA_ENV := .venv-rasa
APP_ENV  := .venv-app
RASA     := $(RASA_ENV)/bin/rasa
RASA_PY  := $(RASA_ENV)/bin/python
APP_PY   := $(APP_ENV)/bin/python
MODEL    := models/current.tar.gz
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL := 2
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# What the model is trained from: a change to any of these retrains on the next run.
TRAINING_INPUTS := config.yml domain.yml $(shell find data/nlu data/rules data/stories -name '*.yml') \
	$(wildcard bot/nlu/*.py) bot/language_detection.py bot/languages.py bot/tokenization.py

.PHONY: help run shell test train envs lint validate story-test bench soak clean lock browser

help:
	@echo "make run     set up, train if needed, start everything and print where to chat"
	@echo "make test    set up, train if needed, run every test"
	@echo "make train   train the model (only when its inputs changed)"
	@echo "make shell   chat in the terminal (rasa shell) with the action server running"
	@echo "make lint    ruff and mypy"
	@echo "make bench   run the benchmarks and rewrite docs/benchmarks.md"
	@echo "make soak    fault and load suite alone: buyers while Rasa, actions and web are killed"

# --- environments -----------------------------------------------------------
# Rasa's own env (its pins: SQLAlchemy 1.4, aiohttp < 3.10, pydantic 1) and the
# app env (rasa-sdk, SQLAlchemy 2, current aiohttp) for the action server and
# the web service. Each is rebuilt when its lock file changes.
$(RASA_ENV)/.installed: requirements/rasa.lock
	@py=$$(scripts/find-python310) && rm -rf $(RASA_ENV) && $$py -m venv $(RASA_ENV)
	$(RASA_PY) -m pip install -q --upgrade "pip==24.0"
	$(RASA_PY) -m pip install -q --no-deps -r requirements/rasa.lock
	@touch $@

$(APP_ENV)/.installed: requirements/app.lock
	@py=$$(scripts/find-python310) && rm -rf $(APP_ENV) && $$py -m venv $(APP_ENV)
	$(APP_PY) -m pip install -q --upgrade "pip==24.0"
	$(APP_PY) -m pip install -q --no-deps -r requirements/app.lock
	@touch $@

envs: $(RASA_ENV)/.installed $(APP_ENV)/.installed

# --- model ------------------------------------------------------------------
$(MODEL): $(TRAINING_INPUTS) | $(RASA_ENV)/.installed
	$(RASA) train --fixed-model-name current --out models --data data/nlu data/rules data/stories
	@touch $@

train: envs $(MODEL)

# --- running ----------------------------------------------------------------
run: envs $(MODEL)
	$(APP_PY) -m bot run --rasa $(RASA)

shell: envs $(MODEL)
	$(APP_PY) -m bot shell --rasa $(RASA)

# --- checks -----------------------------------------------------------------
validate: $(RASA_ENV)/.installed
	$(RASA) data validate --data data/nlu data/rules data/stories

story-test: envs $(MODEL)
	$(RASA_PY) tests/conversations/run_story_tests.py --model $(MODEL)

test: envs $(MODEL) browser
	$(APP_PY) -m pytest tests/unit
	$(RASA_PY) -m pytest tests/rasa
	$(MAKE) --no-print-directory validate
	$(MAKE) --no-print-directory story-test
	$(APP_PY) -m pytest tests/e2e
	$(APP_PY) -m pytest tests/browser

# Browser tests drive Debian's Chromium through Playwright (Playwright's own browser
# download does not work here); CJK fonts make Chinese and Japanese screenshots legible.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/opentype/noto ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -q chromium fonts-noto-cjk >/dev/null || \
	    { apt-get update -q >/dev/null && apt-get install -y -q chromium fonts-noto-cjk >/dev/null; }; \
	  else echo "Browser tests need Chromium and CJK fonts: sudo apt-get install chromium fonts-noto-cjk"; exit 1; fi; \
	fi

lint: $(APP_ENV)/.installed
	$(APP_ENV)/bin/ruff check bot actions tests bench
	$(APP_ENV)/bin/ruff format --check bot actions tests bench
	$(APP_ENV)/bin/mypy bot actions

bench: envs $(MODEL)
	$(APP_PY) bench/run.py

# The fault and load suite on its own (make bench runs it too); writes its section of docs/benchmarks.md.
soak: envs $(MODEL)
	$(APP_PY) bench/soak.py --buyers 50 --seconds 300 $(if $(BENCH_DATABASE_URL),--database postgres)

clean:
	rm -rf $(RASA_ENV) $(APP_ENV) models .rasa results var/logs

# Re-resolve the lock files from requirements/*.in (needs the package index).
lock:
	@py=$$(scripts/find-python310) && for env in rasa app; do \
	  rm -rf /tmp/lock-$$env && $$py -m venv /tmp/lock-$$env && \
	  /tmp/lock-$$env/bin/pip install -q --upgrade "pip==24.0" && \
	  /tmp/lock-$$env/bin/pip install -q -r requirements/$$env.in && \
	  /tmp/lock-$$env/bin/pip freeze --all | grep -v '^pip==' > requirements/$$env.lock; done
