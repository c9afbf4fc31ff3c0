# canary-stream — `make run` (everything, locally) and `make test` (the whole suite).
# Override variables on the command line, e.g.  make test PYTEST_ARGS='-k stack -x'

SHELL       := /bin/bash
PYTHON      ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
CLI         := $(VENV)/bin/canary-stream
STACK       := $(PY) -m canary_stream.cli.stack
PYTEST_ARGS ?=
PIP_ARGS    ?= --disable-pip-version-check -q
STAMP       := $(VENV)/.canary-installed

.DEFAULT_GOAL := help
.PHONY: help install stack-up stack-down stack-status test lint run run-demo run-urls down

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv and install the project with dev extras (quick when done).

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_ARGS) --upgrade pip
	$(PY) -m pip install $(PIP_ARGS) -e '.[dev]'
	@touch $@

stack-up: install ## Start local Kafka + PostgreSQL (idempotent; waits until both answer).
	$(STACK) up

stack-down: ## Stop local Kafka + PostgreSQL (by pid file).
	@if [ -x $(PY) ]; then $(STACK) down; else echo "no $(VENV): nothing to stop"; fi

stack-status: install ## Show what the local stack runs where.
	$(STACK) status

test: install stack-up ## Run the whole suite against the local stack (no tests = failure).
	@set +e; $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5)" >&2; exit 1; fi; \
	exit $$rc

lint: install ## ruff check + mypy.
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

run: install stack-up ## Stack, migrations, topics, all processes, demo; then print where to look.
	$(CLI) db upgrade
	$(CLI) topics create
	$(CLI) up
	@$(MAKE) --no-print-directory run-demo
	@$(MAKE) --no-print-directory run-urls

# ============================================================================================
# run-demo — EXTEND HERE: fake Square, onboard the demo merchant, simulate for a minute, …
# (called by `make run` after `canary-stream up`; keep each step idempotent)
run-demo:
	@true
# ============================================================================================

run-urls:
	@$(PY) -c 'from canary_stream.settings import get_settings; s = get_settings(); \
	print(); \
	print("canary-stream is running:"); \
	print(f"  webhook URL    {s.notification_url}"); \
	print(f"  status page    http://{s.ingress_host}:{s.ingress_port}/"); \
	print(f"  kafka          {s.kafka_bootstrap}"); \
	print(f"  lag            $(CLI) lag"); \
	print(f"  processes      $(CLI) ps"); \
	print(f"  local stack    $(STACK) status"); \
	print(f"  settings       eval \"$$($(STACK) env)\""); \
	print(f"  stop all       make down")'

down: ## Stop the application processes, then the local stack.
	-@if [ -x $(CLI) ]; then $(CLI) down; fi
	@$(MAKE) --no-print-directory stack-down
