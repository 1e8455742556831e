# Two commands for a newcomer: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test bench clean-instance

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

## test: the whole suite on real Redis, SQLite and PostgreSQL
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-dev
	bench/run

clean-instance:
	rm -rf instance
