# The README's two commands: `make demo` and `make test`. Each sets up .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: demo test test-fast lint venv browser

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Debian's chromium for the browser tests (playwright's own browser download cannot work here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: browser tests will be skipped (install Debian's chromium)"; fi; }

demo: $(STAMP)
	$(BIN)/trustlab demo

test: $(STAMP) browser
	$(BIN)/python -m pytest -q --durations=15

# Everything but the tests marked `slow` (model training, whole pipelines, simulation sweeps).
test-fast: $(STAMP) browser
	$(BIN)/python -m pytest -q -m "not slow"

# Style (ruff) and the architecture contracts (lint-imports: layers, where sqlalchemy and gradio may be
# imported, no cycles; see ARCHITECTURE.md). Both run offline.
lint: $(STAMP)
	$(BIN)/ruff check trustlab tests benchmarks scripts
	$(BIN)/lint-imports
