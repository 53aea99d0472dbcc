# Two commands set everything up: `make run` serves the archive, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2

.PHONY: install run test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: install
	$(PY) manage.py check --fail-level ERROR >/dev/null
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_if_empty
	$(PY) manage.py rebuild_index --if-stale
	$(VENV)/bin/gunicorn archive.wsgi:application -c archive/gunicorn.conf.py --bind $(HOST):$(PORT) --workers $(WORKERS)

# Test-only npm tools for the browser tests, in the git-ignored .venv/node: axe-core and the
# Nu HTML Checker (vnu.jar, run with the machine's java; --ignore-scripts: its postinstall
# would download a JDK). Without npm, or offline, this warns and the tests that need the
# tools skip (they fail instead when REQUIRE_BROWSER is set, as in CI).
NODE_DIR := $(VENV)/node
NODE_TOOLS := axe-core@4 vnu-jar@26
NODE_STAMP := $(NODE_DIR)/.installed-axe-core4-vnu-jar26

# The tests run in one pytest-xdist worker per core, four at most (each with its own test
# database and index directories); TEST_WORKERS=0 runs them in this one process.
TEST_WORKERS ?= auto

test: install $(NODE_STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --maxprocesses 4 $(PYTEST_ARGS)

$(NODE_STAMP):
	@if command -v npm >/dev/null 2>&1 && npm install --prefix $(NODE_DIR) --no-audit --no-fund \
	     --ignore-scripts --loglevel=error $(NODE_TOOLS); then touch $@; \
	else echo "make test: could not install $(NODE_TOOLS) with npm: the accessibility and HTML checks will skip" >&2; fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) var/test.sqlite3 .pytest_cache
