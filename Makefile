# peerplatform: `make up` runs the platform, `make test` runs the whole test suite.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: up test install clean help

help:
	@echo "make up    - install into $(VENV) and run the platform on http://127.0.0.1:8000"
	@echo "make test  - install and run the whole test suite"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the pins or the package metadata change.
.stamp-python: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

.stamp-node: package.json
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

install: .stamp-python .stamp-node

up: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/peerplatform up

test: install
	PATH="$(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) node_modules .stamp-python .stamp-node .pytest_cache
