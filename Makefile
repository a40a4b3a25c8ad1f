# leadflow — two commands from a fresh clone:  `make demo`  and  `make test`.
# Everything installs into .venv from requirements.lock (exact pins); nothing outside the repo is needed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
UV_VERSION := 0.13.9
LEADS  ?= 2000
ARGS   ?=
SCALE  ?= 1

.PHONY: install demo test bench lint lint-python lint-sql format lock warehouse-stop clean help

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# `-e demo`: the demo harness (leadflow_demo: demo data, fake APIs, the Airflow launcher), editable, for `make demo`,
# the tests and the benchmarks; it is a distribution of its own, so the leadflow wheel does not carry it.
# --compile-bytecode: with PYTHONDONTWRITEBYTECODE set (as on our CI machines) every process would
# otherwise recompile Airflow, dbt and GX from source on each start (~20 s of CPU per `airflow` command).
$(BIN)/.installed: requirements.lock pyproject.toml demo/pyproject.toml
	@echo "==> creating $(VENV) and installing the locked dependencies"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e . -e demo
	@touch $@

install: $(BIN)/.installed  ## virtualenv + locked install

demo: install  ## run the whole pipeline on demo data (LEADS=2000) and print a summary
	$(BIN)/leadflow demo --leads $(LEADS) $(ARGS)

lint-python: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# sqlfluff's dbt templater renders every model against a warehouse. It gets a throwaway empty one (never
# the demo's or $$LEADFLOW_WAREHOUSE_URL, where is_incremental() would pick the branch), and lints twice:
# as a full build, then with every incremental branch forced on (macros/is_incremental.sql).
SQL_PATHS ?= dbt_project/models dbt_project/snapshots
LINT_PORT ?= 54359
SQLFLUFF  := $(abspath $(BIN))/sqlfluff lint $(SQL_PATHS)
lint-sql: install
	@scratch=$$(mktemp -d); trap 'rm -rf "$$scratch"' EXIT; \
	env -u LEADFLOW_WAREHOUSE_URL -u PGHOST -u PGDATABASE -u PGPORT -u AIRFLOW_CONN_LEADFLOW_WAREHOUSE \
	    LEADFLOW_HOME="$$scratch" LEADFLOW_EMBEDDED_PORT=$(LINT_PORT) \
	    $(BIN)/leadflow with-warehouse -- sh -c \
	    'echo "==> sqlfluff: full builds" && $(SQLFLUFF) && echo "==> sqlfluff: incremental branches" && LEADFLOW_LINT_INCREMENTAL=1 $(SQLFLUFF)'

lint: lint-python lint-sql  ## ruff (with Airflow AIR rules) and sqlfluff (dbt templater)

test: install lint  ## lint, then the whole pytest suite against the embedded PostgreSQL
	$(BIN)/pytest

bench: install  ## every stage against its floor, and learned scoring on the real datasets (SCALE=1 is 10k demo leads, 10 is 100k); results/ holds the figures
	$(BIN)/python -m bench.run --scale $(SCALE)
	$(BIN)/python -m bench.scoring --demo-scale $(SCALE)

format: install  ## apply ruff formatting and sqlfluff fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# requirements.lock: everything `make install` puts in .venv (runtime, celery, dev). The Docker image installs
# docker/requirements.runtime.lock: the same pins, without the dev extra (tests, lint, benchmarks).
lock:  ## re-resolve requirements.lock (and the image's runtime subset) from pyproject.toml
	$(UV) pip compile pyproject.toml --extra dev --extra celery --python-version 3.11 -o requirements.lock
	$(UV) pip compile pyproject.toml --extra celery --python-version 3.11 --constraint requirements.lock \
	    -o docker/requirements.runtime.lock

warehouse-stop: install  ## stop the embedded PostgreSQL
	$(BIN)/leadflow warehouse stop

clean: warehouse-stop  ## remove generated data (keeps .venv)
	rm -rf .leadflow dbt_project/target dbt_project/logs
