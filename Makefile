# fanpin: `make run` starts the app on the demo county, `make test` runs the whole suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DB := data/fanpin.db

.PHONY: run test bench setup system-deps demo clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip >/dev/null 2>&1 || true
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# Debian chromium (browser tests, screenshots) and CJK fonts (Chinese in charts and documents).
system-deps:
	@bash scripts/system-deps.sh

$(DB): | $(STAMP)
	$(BIN)/fanpin demo

demo: setup
	$(BIN)/fanpin demo

run: setup system-deps $(DB)
	$(BIN)/fanpin db upgrade
	$(BIN)/fanpin user first-admin
	$(BIN)/streamlit run app.py --server.address 127.0.0.1 --server.port 8501 --server.headless true

test: setup system-deps
	$(BIN)/ruff check .
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) data/cache .pytest_cache .hypothesis
