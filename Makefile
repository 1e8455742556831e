# Two commands for a newcomer: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test browser bench clean-instance

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

## test: the whole suite on real Redis, SQLite and PostgreSQL (and Chromium for the console)
test: $(VENV)/.installed-dev browser
	$(BIN)/python -m pytest

# Debian's Chromium for the console's browser tests (Playwright drives it; it never
# downloads a browser of its own). Without root or a package mirror the browser
# tests skip with the reason, except with CI=true, where they fail.
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
		|| echo "Chromium could not be installed: the browser tests will skip"; \
	else echo "Chromium is not installed (apt-get install chromium): the browser tests will skip"; fi

bench: $(VENV)/.installed-dev
	bench/run

clean-instance:
	rm -rf instance
