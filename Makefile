# Shiori: `make run` for the demo on http://127.0.0.1:8000 (`make run PORT=8010` for another
# port), `make test` for the whole suite.
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
# It runs as production does (DJANGO_DEBUG=0: the shop's own error pages, never Django's
# debug pages with server paths), with what a local, plain-HTTP demo needs and nothing more:
# a secret key generated once under var/, the local host names, cookies and redirects
# without HTTPS (the production defaults stay secure), static files served by runserver
# (--insecure: this server only), mail printed on the console instead of sent.
PORT ?= 8000
DEMO_SECRET_KEY := $(or $(BOOKSHOP_VAR_DIR),var)/demo-secret-key
run: export DJANGO_DEBUG = 0
run: export DJANGO_SECRET_KEY_FILE ?= $(DEMO_SECRET_KEY)
run: export DJANGO_ALLOWED_HOSTS ?= 127.0.0.1,localhost
run: export DJANGO_SECURE_COOKIES = 0
run: export DJANGO_SECURE_SSL_REDIRECT = 0
run: export DJANGO_HSTS_SECONDS = 0
run: export DJANGO_EMAIL_BACKEND ?= django.core.mail.backends.console.EmailBackend
run: export BOOKSHOP_OPENING_HOURS ?= 00:00-24:00
run: export BOOKSHOP_DEMO_REGISTERS_TERMINAL = 1
run: $(STAMP)
	test -s $(DEMO_SECRET_KEY) || (mkdir -p $(dir $(DEMO_SECRET_KEY)) && umask 077 && $(PY) -c 'import secrets; print(secrets.token_urlsafe(64))' > $(DEMO_SECRET_KEY))
	test -f $${BOOKSHOP_KEYRING:-var/keyring.json} || $(PY) manage.py keys init
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --customers $${DEMO_CUSTOMERS:-40} --if-empty
	@echo "Demo: business hours widened to $$BOOKSHOP_OPENING_HOURS (the shop's default is 08:00-23:00)."
	@echo "Demo: open http://127.0.0.1:$(PORT) and log in with an account above."
	@echo "Demo: customer data is shown only on the shop's registered terminals; the demo registers the browser you log in with (as 「デモのブラウザ」, listed at 端末) and says so. In a shop, the manager registers each computer."
	$(PY) manage.py send_outbox --loop --interval 10 & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver --insecure 127.0.0.1:$(PORT)

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
