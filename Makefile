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
	$(VENV)/bin/gunicorn archive.wsgi:application --bind $(HOST):$(PORT) --workers $(WORKERS) --access-logfile - --graceful-timeout 10

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) var/test.sqlite3 .pytest_cache
