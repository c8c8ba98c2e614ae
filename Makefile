# fanpin: `make run` starts the app on the demo county, `make test` runs the whole suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DB := data/fanpin.db
# A small demo province (10 synthetic counties in 2 cities, 5,000 households each, 36 months) for the
# province and city pages; a bureau's own store is `fanpin snapshot sync` into FANPIN_STORE_DIR.
STORE := data/store

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

$(STORE)/_manifest.json: | $(STAMP)
	$(BIN)/fanpin demo --province --counties 10 --households-per-county 5000 --store $(STORE)

run: setup system-deps $(DB) $(STORE)/_manifest.json
	$(BIN)/fanpin db upgrade
	$(BIN)/fanpin user first-admin
	$(BIN)/streamlit run app.py --server.address 127.0.0.1 --server.port 8501 --server.headless true

# `make test`: the suite as three pytest processes side by side (`.venv/bin/pytest` alone runs it all
# in one): the browser tests, which mostly wait on the app server and Chromium (about a quarter of a
# core), AppTest with the demo and report tests, and the rest, each of the other two keeping about
# one core busy.  On two cores the three end about when the longest alone would.  The rest's report
# is shown as it runs, the other parts' after it; the status is 0 only if every part passed.
TEST_SIDE := tests/browser tests/app+tests/demo+tests/report

test: setup system-deps
	$(BIN)/ruff check .
	@dir=$$(mktemp -d); pids=""; i=0; \
	for part in $(TEST_SIDE); do \
	  i=$$((i + 1)); $(BIN)/pytest -p no:cacheprovider $$(echo $$part | tr + ' ') >$$dir/$$i.log 2>&1 & pids="$$pids $$!"; \
	done; \
	$(BIN)/pytest $(addprefix --ignore=,$(subst +, ,$(TEST_SIDE))); status=$$?; \
	for pid in $$pids; do wait $$pid || status=1; done; \
	i=0; for part in $(TEST_SIDE); do \
	  i=$$((i + 1)); printf '\n======== %s (run beside the rest)\n' "$$part"; cat $$dir/$$i.log; \
	done; \
	rm -rf $$dir; exit $$status

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) data/cache .pytest_cache .hypothesis
