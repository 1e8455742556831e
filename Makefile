# Two commands for a newcomer: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test system-parts bench clean-instance

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

## run: the service on http://$(HOST):$(PORT) with SQLite, an embedded Redis and the fake WeChat
run: $(VENV)/.installed
	$(FLASK) db upgrade
	$(FLASK) seed-demo
	@echo ""
	@echo "API docs:     http://$(HOST):$(PORT)/api/v1/docs"
	@echo "Staff console: http://$(HOST):$(PORT)/console/"
	@echo "Worker login: curl -X POST http://$(HOST):$(PORT)/api/v1/auth/wechat/login -H 'Content-Type: application/json' -d '{\"code\": \"dev-alice\"}'"
	@echo ""
	@$(BIN)/python -m service.devserver --host $(HOST) --port $(PORT)

## test: lint, then the whole suite on real Redis, SQLite, PostgreSQL with PostGIS, nginx and Chromium,
## then its SQLite half again in a shuffled order (a test that passes only after another one fails
## there; the seed is printed at the top, `-p random_order --random-order-seed=N` replays it)
test: $(VENV)/.installed-dev system-parts
	$(BIN)/ruff check .
	$(BIN)/python -m pytest
	@seed=$$(od -An -N2 -tu2 /dev/urandom | tr -d ' '); echo "shuffled: -p random_order --random-order-seed=$$seed"; \
	$(BIN)/python -m pytest -p random_order --random-order-bucket=global --random-order-seed=$$seed \
		-m "not browser and not postgres"

# The real parts the tests need, from Debian's packages: PostgreSQL 15 with PostGIS,
# nginx (the reverse-proxy tests) and Chromium (the console's browser tests;
# Playwright drives it and never downloads a browser of its own).  Installed when
# run as root; otherwise the tests that need a missing part skip with the reason,
# except with CI=true, where they fail.
SYSTEM_PARTS := /usr/share/postgresql/15/extension/postgis.control /usr/sbin/nginx /usr/bin/chromium
system-parts:
	@missing=""; for f in $(SYSTEM_PARTS); do [ -e $$f ] || missing="$$missing $$f"; done; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing the test parts:$$missing"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			postgresql-15 postgresql-15-postgis-3 nginx chromium fonts-noto-cjk >/dev/null) \
		|| echo "the test parts could not be installed: the tests that need them will skip"; \
	else echo "missing:$$missing (apt-get install postgresql-15-postgis-3 nginx chromium): the tests that need them will skip"; fi

bench: $(VENV)/.installed-dev
	bench/run

clean-instance:
	rm -rf instance
