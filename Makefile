# peerplatform: `make up` runs the platform, `make test` runs the whole test suite.
# The venv's interpreter must be one that every user can run: pair servers and learner code run
# as unprivileged system users (README, "Security"), so not a Python under /root. Debian's first.
PYTHON ?= $(shell [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)
VENV   ?= .venv
BIN     = $(VENV)/bin
PYTEST_ARGS ?=
LABEXT_SRC   = $(wildcard labextension/src/*.ts labextension/style/*) labextension/tsconfig.json
LABEXT_BUILT = peerplatform_ext/labextension/package.json

.PHONY: up test install clean help check-node

help:
	@echo "make up    - install into $(VENV) and run the platform on http://127.0.0.1:8000"
	@echo "make test  - install and run the whole test suite"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the pins or the package metadata change.
.stamp-python: requirements.txt pyproject.toml $(LABEXT_BUILT) | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

# configurable-http-proxy and the JupyterLab extension's build need Node.js >= 20.19 (rspack).
check-node:
	@command -v npm >/dev/null || { echo "make: Node.js >= 20.19 with npm is needed (configurable-http-proxy, the JupyterLab extension), e.g. apt-get install nodejs npm" >&2; exit 1; }
	@node -e 'const [a, b] = process.versions.node.split(".").map(Number); if (a < 20 || (a === 20 && b < 19)) { console.error("make: Node.js >= 20.19 is needed, this is " + process.version); process.exit(1); }'

.stamp-node: package.json | check-node
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

# The JupyterLab extension (labextension/ -> peerplatform_ext/labextension/): `pip install`
# builds it when it is missing; this rebuilds it (and reinstalls the package, which copies it
# into the venv) whenever the TypeScript sources change.
.stamp-labext: labextension/package.json | check-node
	cd labextension && npm install --no-audit --no-fund --loglevel=error
	@touch $@

$(LABEXT_BUILT): .stamp-labext $(LABEXT_SRC)
	cd labextension && npm run build

install: .stamp-python .stamp-node

up: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/peerplatform up

test: install
	cd labextension && npm test
	PATH="$(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) node_modules .stamp-python .stamp-node .stamp-labext .pytest_cache \
	  labextension/node_modules labextension/lib labextension/tsconfig.tsbuildinfo \
	  peerplatform_ext/labextension
