# Caspen: one command to run it, one to test it. `make help` lists the targets.
#
# Without DATABASE_URL, both start a project-local PostgreSQL (data in .devdb/, socket
# only, no TCP port; see .ci/devdb.sh). With DATABASE_URL set, that database is used.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
PY := $(VENV)/bin/python
# Holds the hash of the pyproject.toml last installed, so `pip install` runs only when
# the dependencies may have changed.
STAMP := $(VENV)/.caspen-installed
DEVDB := .ci/devdb.sh
ARGS ?=
PYTEST_ARGS ?=
# pytest-xdist processes for the tests that are not browser tests ("auto": one per core).
TEST_WORKERS ?= auto

IS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo yes)
HAS_APT := $(shell command -v apt-get >/dev/null 2>&1 && echo yes)

# Shell snippet: use DATABASE_URL when set, otherwise the local cluster.
# The local cluster has two roles: the app's (DATABASE_URL) and the tables' owner, who
# runs the migrations (DATABASE_OWNER_URL; README: Deployment).
define with_db
if [ -z "$${DATABASE_URL:-}" ]; then \
	DATABASE_URL="$$($(DEVDB) start)"; DATABASE_OWNER_URL="$$($(DEVDB) owner-url)"; \
	export DATABASE_OWNER_URL; \
fi; \
export DATABASE_URL; echo "Database: $${DATABASE_URL}";
endef

.PHONY: help run test stop lint fmt venv pdflibs chromium pgbouncer bench

help: ## list the targets
	@echo "Caspen: practice management for clinics"
	@echo
	@awk -F ':.*## ' '/^[a-z]+:.*## / { printf "  make %-10s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo
	@echo "  Without DATABASE_URL, run and test use a local PostgreSQL in .devdb/."
	@echo "  Run part of the suite: make test ARGS=\"tests/packages\" or ARGS=\"-m 'not browser'\""
	@echo "  Benchmark: make bench ARGS=\"--quick\" or ARGS=\"--only calendar\"; BENCH_SIZE=large"

# The job worker (webhooks, emails; kernel/jobs.py) runs beside the web server; Ctrl-C
# (or the server stopping) stops both.
run: venv pdflibs ## set up everything, then serve on http://127.0.0.1:8000 (DEBUG on) with a job worker
	@$(with_db) \
	export DEBUG=true; \
	$(PY) manage.py migrate --no-input; \
	$(PY) manage.py seed_demo --if-empty; \
	login="$$($(PY) manage.py ensure_admin)"; \
	echo; echo "$$login"; echo; \
	$(PY) manage.py procrastinate worker & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null || true; wait $$worker 2>/dev/null || true' EXIT; \
	trap 'exit 130' INT TERM; \
	$(PY) manage.py runserver 127.0.0.1:8000

# The whole suite runs in two passes, and fails if either fails: every test but the
# browser tests spread over TEST_WORKERS processes (pytest-xdist; the `concurrency` tests
# stay together in one of them, see tests/conftest.py), then the browser tests one at a
# time. With ARGS or PYTEST_ARGS, one pytest run with those options instead (add `-n 2`
# to spread it). Locally the test databases are kept between runs (--reuse-db; rebuilt
# when a migration or a package changed, see tests/conftest.py); CI (CI=true) builds
# them afresh.
test: venv pdflibs chromium pgbouncer ## run the test suite (ARGS="..." or PYTEST_ARGS="..." pass options to pytest)
	@$(with_db) \
	export CASPEN_ALLOW_INSECURE_KEY=1 CASPEN_PLAIN_STATIC=1; \
	if [ "$${CI:-}" = true ]; then keep=""; else keep="--reuse-db"; fi; \
	if [ -n "$(strip $(PYTEST_ARGS) $(ARGS))" ]; then \
		exec $(PY) -m pytest $$keep $(PYTEST_ARGS) $(ARGS); \
	fi; \
	failed=0; \
	echo "== Tests but the browser tests, in parallel (-n $(TEST_WORKERS))"; \
	$(PY) -m pytest $$keep -n $(TEST_WORKERS) --dist loadgroup -m "not browser" || failed=$$?; \
	echo "== Browser tests"; \
	$(PY) -m pytest $$keep -m browser || failed=$$(( failed ? failed : $$? )); \
	if [ "$$failed" != 0 ]; then echo "make test: FAILED (see above)" >&2; fi; \
	exit "$$failed"

stop: ## stop the local PostgreSQL (its data stays in .devdb/)
	@$(DEVDB) stop

# mypy's Django plugin reads caspen.settings, which wants a DATABASE_URL: any will do, no
# database is reached.
lint: venv ## ruff, the layering contract (import-linter) and type checking (mypy)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	DATABASE_URL="$${DATABASE_URL:-postgres://lint@/lint}" CASPEN_ALLOW_INSECURE_KEY=1 \
		$(PY) -m mypy

fmt: venv ## format the code and apply ruff's safe fixes
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

venv: ## create .venv and install the project with its dev tools (when pyproject.toml changed)
	@if [ ! -x "$(PY)" ]; then \
		if [ -z "$(PYTHON)" ]; then \
			echo "Python 3.11 not found: install it (Debian 12: apt-get install python3 python3-venv)" >&2; \
			exit 1; \
		fi; \
		if ! "$(PYTHON)" -c "import ensurepip, venv" 2>/dev/null; then \
			if [ "$(IS_ROOT)" = yes ] && [ "$(HAS_APT)" = yes ]; then \
				echo "Installing python3-venv with apt-get"; \
				DEBIAN_FRONTEND=noninteractive apt-get update; \
				DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv; \
			else \
				echo "$(PYTHON) cannot create virtual environments: install python3-venv" \
					"(Debian/Ubuntu: sudo apt-get install python3-venv)" >&2; \
				exit 1; \
			fi; \
		fi; \
		echo "Creating $(VENV) with $(PYTHON)"; \
		"$(PYTHON)" -m venv $(VENV); \
	fi
	@want="$$($(PY) -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')"; \
	if [ "$$(cat $(STAMP) 2>/dev/null)" != "$$want" ]; then \
		echo "Installing dependencies (pyproject.toml changed)"; \
		$(PY) -m pip install -e ".[dev]"; \
		echo "$$want" > $(STAMP); \
	fi

# WeasyPrint (the PDFs of invoices, receipts and statements) needs Pango and a font.
PDF_LIBS := libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
pdflibs: ## install the system libraries WeasyPrint needs for PDFs (Debian), if missing
	@if ! ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0' \
		|| [ ! -d /usr/share/fonts/truetype/dejavu ]; then \
		if [ "$(IS_ROOT)" = yes ] && [ "$(HAS_APT)" = yes ]; then \
			echo "Installing $(PDF_LIBS) for the PDFs"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y $(PDF_LIBS) \
				|| { DEBIAN_FRONTEND=noninteractive apt-get update \
					&& DEBIAN_FRONTEND=noninteractive apt-get install -y $(PDF_LIBS); }; \
		else \
			echo "WARNING: Pango or the DejaVu fonts are missing, so PDFs cannot be made." >&2; \
			echo "  Install them with: sudo apt-get install $(PDF_LIBS)" >&2; \
		fi; \
	fi

chromium: ## install Debian's chromium for the browser tests, if missing
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$(IS_ROOT)" = yes ] && [ "$(HAS_APT)" = yes ]; then \
			echo "Installing chromium for the browser tests"; \
			DEBIAN_FRONTEND=noninteractive apt-get update; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
		else \
			echo "WARNING: /usr/bin/chromium is missing, so the browser tests will fail." >&2; \
			echo "  Install it with: sudo apt-get install chromium" >&2; \
			echo "  or leave those tests out: make test ARGS=\"-m 'not browser'\"" >&2; \
		fi; \
	fi

pgbouncer: ## install Debian's pgbouncer for the race tests through a pooler, if missing
	@if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then \
		if [ "$(IS_ROOT)" = yes ] && [ "$(HAS_APT)" = yes ]; then \
			echo "Installing pgbouncer for the race tests through a connection pooler"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y pgbouncer \
				|| { DEBIAN_FRONTEND=noninteractive apt-get update \
					&& DEBIAN_FRONTEND=noninteractive apt-get install -y pgbouncer; }; \
		else \
			echo "WARNING: pgbouncer is missing, so the race tests through it will fail." >&2; \
			echo "  Install it with: sudo apt-get install pgbouncer" >&2; \
		fi; \
	fi

# The benchmark (bench/README.md): the app with production settings and a minimal Django
# "floor" app, each under gunicorn (1 sync worker) pinned to core 0, wrk on core 1; prints
# requests/s, latency and the ratio to the floor of every page, partial and API list,
# and the client search percentiles, and writes bench/results/latest.md. An empty database
# is seeded first (seed_demo's default size; BENCH_SIZE=large for the large practice).
# ARGS pass options to bench/run.py: --quick, --duration N, --rounds N, --only NAME.
bench: venv ## measure every page against a minimal Django floor (ARGS="--quick")
	@if ! command -v wrk >/dev/null 2>&1; then \
		if [ "$(IS_ROOT)" = yes ] && [ "$(HAS_APT)" = yes ]; then \
			echo "Installing wrk for the benchmark"; \
			DEBIAN_FRONTEND=noninteractive apt-get update; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y wrk; \
		else \
			echo "wrk is missing: install it with: sudo apt-get install wrk" >&2; \
			exit 1; \
		fi; \
	fi
	@$(with_db) \
	if [ -z "$${SECRET_KEY:-}" ]; then export CASPEN_ALLOW_INSECURE_KEY=1; fi; \
	$(PY) manage.py migrate --no-input; \
	size=""; \
	if [ "$${BENCH_SIZE:-}" = large ]; then \
		if $(PY) manage.py seed_demo --help | grep -q -- "--size"; then size="--size large"; \
		else echo "seed_demo has no --size option yet: seeding 100,000 clients" >&2; \
			size="--clients 100000"; fi; \
	fi; \
	$(PY) manage.py seed_demo --if-empty $$size; \
	exec $(PY) bench/run.py $(ARGS)
