# The two set-up commands (see README.md): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: run test lint format bench clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

## make run [PORT=8123]: SQLite + eager tasks by default; set DATABASE_URL / CELERY_BROKER_URL to use
## services. Links in emails follow the port served unless SITE_URL is set.
run: $(STAMP)
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} PORT=$(PORT) $(PY) manage.py bootstrap
	DEBUG=$${DEBUG:-1} PORT=$(PORT) $(PY) manage.py runserver 127.0.0.1:$(PORT)

## make test: DATABASE_URL if set, else local PostgreSQL if it answers, else SQLite (with visible skips).
test: $(STAMP)
	@if [ -z "$$DATABASE_URL" ]; then \
	  if $(PY) -c "import socket; socket.create_connection(('127.0.0.1', 5432), 1)" 2>/dev/null; then \
	    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/privacyops; \
	    echo "make test: using the local PostgreSQL at 127.0.0.1:5432"; \
	  else \
	    echo "make test: no PostgreSQL at 127.0.0.1:5432 and no DATABASE_URL: using SQLite; PostgreSQL tests are skipped"; \
	  fi; \
	else echo "make test: using DATABASE_URL"; fi; \
	DEBUG=$${DEBUG:-1} $(PY) -m pytest $(PYTEST_ARGS)

## make lint: ruff (rules and format) and the layer contracts (import-linter, pyproject.toml).
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache
