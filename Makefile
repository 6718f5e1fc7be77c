# Shiori: `make run` for the demo on http://127.0.0.1:8000, `make test` for the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test check bench venv demo-env

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Benchmark-only packages (the fernet baseline, the profiler), on top of the dev install.
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# The demo: SQLite under var/, a keyring made on first run, demo staff and customers.
# Business hours are widened to the whole day so the demo works at any hour.
run: export DJANGO_DEBUG = 1
run: export BOOKSHOP_OPENING_HOURS ?= 00:00-24:00
run: $(STAMP)
	test -f $${BOOKSHOP_KEYRING:-var/keyring.json} || $(PY) manage.py keys init
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --customers $${DEMO_CUSTOMERS:-40} --if-empty
	@echo "Demo: business hours widened to $$BOOKSHOP_OPENING_HOURS (the shop's default is 08:00-23:00)."
	@echo "Demo: open http://127.0.0.1:8000 and log in with an account above."
	$(PY) manage.py runserver 127.0.0.1:8000

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

check: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m bandit -q -r bookshop customers privacy -ll -x '*/migrations/*'
	DJANGO_DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/lint-imports

# `make bench BENCH_ARGS="--customers 1000000 --only lookup,rotation,audit"`; see README.
bench: $(BENCH_STAMP)
	$(PY) -m bench $(BENCH_ARGS)
