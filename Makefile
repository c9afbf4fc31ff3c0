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
.PHONY: help install stack-up stack-down stack-status test soak lint run run-demo run-urls down

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

soak: install stack-up ## Seal restart-under-backlog soak rounds (SOAK_* knobs: see the test).
	$(PY) -m pytest -m soak tests/integration/test_seal_backlog_soak.py $(PYTEST_ARGS)

lint: install ## ruff check + mypy.
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

run: install stack-up ## Stack, migrations, topics, fake Square, all processes, demo; where to look.
	$(CLI) db upgrade
	$(CLI) topics create
	CANARY_FAKE_SQUARE=1 CANARY_FAKE_SQUARE_SEED=1 CANARY_FAKE_SQUARE_MERCHANTS=3 \
	  CANARY_FAKE_SQUARE_START=$(DEMO_START) CANARY_FAKE_SQUARE_RATE=$(DEMO_RATE) \
	  CANARY_FAKE_SQUARE_EVENTS=$(FAKE_EVENTS) \
	  CANARY_DRAWER_POLL_INTERVAL_SECONDS=$(DRAWER_POLL_SECONDS) $(CLI) up
	@$(MAKE) --no-print-directory run-square
	@$(MAKE) --no-print-directory run-demo DEMO_START=$(DEMO_START)
	@$(MAKE) --no-print-directory run-urls

# The demo's business start, fixed once per `make run`: the fake Square seeds the history the
# simulator is about to send (same seed, sellers, start and rate; FAKE_EVENTS = rate x
# seconds), so it serves every order the simulator's thin order.* events name.
ifndef DEMO_START
DEMO_START := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
endif
# run-square: the fake Square's sellers onboarded and connected (OAuth through the fake),
# its webhook subscription registered for the ingress, FAKE_ORDERS sales per seller (thin
# order events → the fetch loop → SALE rows). `up` above started the fake and the parse
# workers with a DRAWER_POLL_SECONDS cash-drawer poll, so drawer rows arrive within a minute.
DRAWER_POLL_SECONDS ?= 10
FAKE_ORDERS         ?= 3
FAKE_EVENTS         ?= $(shell n=$$(( $(DEMO_RATE) * $(DEMO_SECONDS) )) 2>/dev/null; \
                         [ "$${n:-0}" -gt 0 ] && echo $$n || echo 3000)
run-square:
	@CLI='$(CLI)' PY='$(PY)' FAKE_ORDERS='$(FAKE_ORDERS)' scripts/run-square.sh

# run-demo: a demo signature key in the keyring, three simulated merchants onboarded, and a
# minute of signed webhooks through the running pipeline (DEMO_SECONDS=0 skips the traffic),
# starting at DEMO_START (the fake Square's seeded history; default: now).
DEMO_KEY     ?= canary-demo-signature-key
DEMO_SECONDS ?= 60
DEMO_RATE    ?= 50
run-demo:
	@printf '%s' '$(DEMO_KEY)' | $(CLI) webhooks add \
	  --notification-url "$$($(PY) -c 'from canary_stream.settings import get_settings as g; print(g().notification_url)')" \
	  2>/dev/null || echo "demo key already in the keyring"
	@if [ "$(DEMO_SECONDS)" != "0" ]; then \
	  $(CLI) simulate --rate $(DEMO_RATE) --merchants 3 --duration $(DEMO_SECONDS) --seed 1 \
	    --start $(DEMO_START) --onboard --signature-key '$(DEMO_KEY)'; \
	  $(CLI) merchants list; \
	  for m in $$($(PY) -c 'from canary_stream.simulate.payloads import merchant_ids; print(*merchant_ids(1, 3))'); do \
	    $(CLI) verify chain --merchant $$m; done; \
	fi

run-urls:
	@$(PY) -c 'from canary_stream.settings import get_settings; s = get_settings(); \
	print(); \
	print("canary-stream is running:"); \
	print(f"  webhook URL    {s.notification_url}"); \
	print(f"  health         http://{s.ingress_host}:{s.ingress_port}/health/ready  (and /metrics)"); \
	print(f"  kafka          {s.kafka_bootstrap}"); \
	print(f"  fake Square    {s.square_base_url}  (sellers: GET /_fake/merchants; see docs/fake-square.md)"); \
	print(f"  identity MCP   http://{s.web_host}:{s.mcp_port}/mcp/identity  (token: $(CLI) tokens create --scope mcp --merchant M)"); \
	print(f"  status page    http://{s.ingress_host}:{s.ingress_port}/"); \
	print(f"  lag            $(CLI) lag"); \
	print(f"  verify a chain $(CLI) verify chain --merchant <square merchant id>"); \
	print(f"  dead letters   $(CLI) dead-letters list"); \
	print(f"  more traffic   $(CLI) simulate --rate 200 --merchants 5 --duration 60 --onboard --signature-key $(DEMO_KEY)"); \
	print(f"  processes      $(CLI) ps"); \
	print(f"  local stack    $(STACK) status"); \
	print(f"  settings       eval \"$$($(STACK) env)\""); \
	print(f"  stop all       make down")'

down: ## Stop the application processes, then the local stack.
	-@if [ -x $(CLI) ]; then $(CLI) down; fi
	@$(MAKE) --no-print-directory stack-down
