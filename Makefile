# Backchannel: install, run, test and lint from a clean clone.
#
#   make run    a local service on http://127.0.0.1:8000 (SQLite under var/, seeded)
#   make test   the whole test suite; PostgreSQL is BACKCHANNEL_TEST_POSTGRES_URL's server or a
#               throwaway one from /usr/lib/postgresql/*/bin, browser tests need /usr/bin/chromium;
#               without them those cases skip (apt-get install chromium postgresql)
#   make lint   ruff and mypy

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
UV_VERSION := 0.13.9
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BIND ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: help install run test screenshots lint clean

help:
	@echo "make install   create $(VENV) from requirements-dev.lock (runtime + test tools; quick when already done)"
	@echo "make run       migrate, seed and serve on http://$(BIND):$(PORT)"
	@echo "make test      run the test suite (PYTEST_ARGS=... to pass options)"
	@echo "make screenshots  refresh docs/screenshots/ from the browser tests (needs /usr/bin/chromium)"
	@echo "make lint      ruff check, ruff format --check, mypy"

install: $(STAMP)

# Re-run only when the lock or the project's metadata changed.
$(STAMP): requirements.lock requirements-dev.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -r requirements-dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@# Compiled once here: where PYTHONDONTWRITEBYTECODE is set, every process would
	@# otherwise compile what it imports again (seconds per CLI run, server, test process).
	@$(BIN)/python -m compileall -q domain infra service
	@touch $@

run: install
	$(BIN)/backchannel migrate
	$(BIN)/backchannel seed
	@token="$${BACKCHANNEL_WRITE_TOKENS:-}"; \
	if [ -z "$$token" ]; then \
		token="dev-$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(24))')"; \
		echo; \
		echo "  BACKCHANNEL_WRITE_TOKENS was not set; this run accepts a development write token:"; \
		echo; \
		echo "      Authorization: Bearer $$token"; \
		echo; \
	fi; \
	echo "  Serving on http://$(BIND):$(PORT)/ (API docs at /docs); Ctrl-C stops."; \
	echo; \
	BACKCHANNEL_WRITE_TOKENS="$$token" exec $(BIN)/backchannel serve --host $(BIND) --port $(PORT)

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

# The browser tests save their screenshots here when told to; a plain `make test` leaves them.
screenshots: install
	BACKCHANNEL_SCREENSHOTS=docs/screenshots BACKCHANNEL_REQUIRE_BROWSER=1 $(BIN)/pytest -q \
		tests/e2e/test_dashboard.py tests/e2e/test_countries_page.py tests/e2e/test_offices_pages.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
