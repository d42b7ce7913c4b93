# Sparkify data pipelines: the commands a developer needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ENV := source scripts/env.sh && source $(BIN)/activate &&

# make demo SOURCE=<folder or s3://bucket/prefix> START=<iso> END=<iso>
SOURCE ?= $(CURDIR)/.local/demo-data
START ?= 2018-11-01T00:00:00+00:00
END ?= 2018-11-04T00:00:00+00:00
PYTEST_ARGS ?=
TEST_WORKERS ?= 4
# make test TESTS=tests/integration/test_windows.py [PYTEST_ARGS="-x"]: some tests only
TESTS ?= tests
WORKERS ?= 2
PIP_VERSION := 26.3
# make bench EVENTS=1000000 [SONG_FILES=15000] [LATENCY_MS=30] [BENCH_ARGS="--explain"]
EVENTS ?= 100000
SONG_FILES ?= 15000
LATENCY_MS ?= 30
HISTORY_MONTHS ?= 3
BENCH_ARGS ?=

.PHONY: help venv venv-runtime requirements up demo demo-run data dsn reset down test test-unit lint check analytics airflow \
	airflow-celery bench events-up events-env events-down bench-events

help: ## list the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

# Two layers, each a stamp file: the runtime (what Airflow needs to run the DAG; enough for demo, up,
# airflow, reset) and the dev tools on top (tests, lint, types, moto for bench, the analytics chart).
$(VENV)/.runtime: requirements.txt requirements/runtime.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet pip==$(PIP_VERSION)
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements/dev.txt
	$(BIN)/pip install --quiet -r requirements/runtime.txt -r requirements/dev.txt
	touch $@

venv: $(VENV)/.dev ## the virtualenv for everything: runtime and dev tools (about 1 GB)

venv-runtime: $(VENV)/.runtime ## the virtualenv to run the DAG only (what make demo builds)

requirements: venv ## rewrite requirements/*.txt from pyproject.toml and the installed virtualenv
	@$(BIN)/python scripts/freeze_requirements.py

up: venv-runtime ## start the local warehouse (PostgreSQL) and prepare Airflow's metadata database
	@scripts/pg.sh up
	@$(ENV) airflow db migrate > .local/airflow-db-migrate.log 2>&1 || { cat .local/airflow-db-migrate.log; exit 1; }

.local/demo-data/log_json_path.json: scripts/generate_demo_data.py
	@$(ENV) python scripts/generate_demo_data.py .local/demo-data --songs 400 --users 60 --days 3 --events-per-day 2500

data: .local/demo-data/log_json_path.json ## generate the demo data set (deterministic)

# The demo data is generated only when SOURCE is the default folder: `make demo SOURCE=s3://...` or
# SOURCE=<your folder> reads that source and nothing else.
DEMO_DATA := $(if $(filter $(CURDIR)/.local/demo-data,$(SOURCE)),data)

demo: ## run the DAG with `airflow dags test` for a window and print what it loaded
	@scripts/one_at_a_time.sh .local/demo.lock "make demo" $(MAKE) --no-print-directory demo-run

# one demo at a time in a folder: a second `make demo` waits for the first (Airflow's database set-up and the
# demo's warehouse are shared), rather than crashing inside `airflow db migrate`
demo-run: up $(DEMO_DATA)
	@$(ENV) scripts/demo.sh "$(SOURCE)" "$(START)" "$(END)"

dsn: ## print the local warehouse's libpq URI
	@scripts/pg.sh dsn

reset: venv-runtime ## drop and recreate every table (the seed's create_tables), ledger included
	@scripts/pg.sh up >/dev/null
	@$(ENV) python scripts/create_tables.py --drop

down: ## stop the local services
	@-source scripts/env.sh && scripts/airflow.sh stop
	@-scripts/redis.sh down
	@scripts/pg.sh down

# One pytest session for every layer: the slow tests (marked `slow`, e2e first) start at once and wait on
# Airflow while the other workers run the rest (tests/conftest.py schedules them; docs/testing.md).
test: venv up ## the whole test suite in one session on TEST_WORKERS processes (default 4), slow tests first
	@$(ENV) python -m pytest -n $(TEST_WORKERS) $(TESTS) $(PYTEST_ARGS)

test-unit: venv ## the quick layer alone: no database, no services (seconds)
	@$(ENV) python -m pytest tests/unit $(PYTEST_ARGS)

lint: venv ## ruff for Python, sqlfluff for SQL
	@$(BIN)/ruff check . && $(BIN)/ruff format --check .
	@for folder in sql/ddl sql/models sql/analytics; do (cd $$folder && ../../$(BIN)/sqlfluff lint . --disable-progress-bar) || exit 1; done

check: lint ## what CI checks before the tests: lint, requirements up to date, mypy on plugins/ and dags/, the layers
	@$(BIN)/python scripts/freeze_requirements.py --check
	@$(BIN)/mypy
	@PYTHONPATH=plugins $(BIN)/lint-imports

analytics: venv ## run the analytics queries against the warehouse, print them, chart plays per hour
	@$(ENV) python scripts/report.py --analytics --chart .local/plays_per_hour.png

airflow: up ## start a local Airflow (UI, scheduler, DAG processor, triggerer) on the local stack
	@$(ENV) scripts/airflow.sh start

airflow-celery: up ## the same with the CeleryExecutor: a local Redis broker and WORKERS Celery workers (default 2)
	@scripts/redis.sh up
	@$(ENV) AIRFLOW__CORE__EXECUTOR=CeleryExecutor AIRFLOW__CELERY__BROKER_URL=$$(scripts/redis.sh url) \
		SPARKIFY_CELERY_WORKERS=$(WORKERS) scripts/airflow.sh start


# make redshift-up [DWH_CFG=config/dwh.cfg]: AWS credentials from the usual chain (AWS_PROFILE, AWS_ACCESS_KEY_ID...)
DWH_CFG ?= config/dwh.cfg
.PHONY: redshift-up redshift-down

redshift-up: venv ## IAM role, security group and Redshift cluster from config/dwh.cfg; connection to .local/redshift.env
	@$(BIN)/python scripts/redshift_provision.py up --config "$(DWH_CFG)"

redshift-down: venv ## delete that cluster, security group and role, and .local/redshift.env (idempotent)

	@$(BIN)/python scripts/redshift_provision.py down --config "$(DWH_CFG)"
bench: venv up ## end-to-end benchmark: the month's DAG vs a raw COPY, hourly cost, memory, S3 (EVENTS=N)
	@$(ENV) nice -n 10 python -m benchmarks.end_to_end --events $(EVENTS) --song-files $(SONG_FILES) \
		--latency-ms $(LATENCY_MS) --history-months $(HISTORY_MONTHS) --docs docs/benchmarks.md $(BENCH_ARGS)

# Event-driven loads (docs/events.md): moto's S3 + SQS and the local Airflow with the sparkify_events DAG.
# make bench-events [UPLOADS=60] [RATE=1] (uploads per second)
UPLOADS ?= 60
RATE ?= 1

events-up: venv up ## moto's S3 + SQS, bucket, queue and notification, and a local Airflow watching the queue
	@$(ENV) scripts/events.sh up

events-env: ## print export lines for SPARKIFY_S3_ENDPOINT, _BUCKET, _PREFIX and SPARKIFY_SQS_QUEUE_URL
	@source scripts/env.sh && scripts/events.sh env

events-down: ## stop what events-up started (Airflow and moto); the warehouse stays up (make down)
	@$(ENV) scripts/events.sh down

bench-events: venv up ## upload → songplays latency of event-driven loads vs the hourly schedule (UPLOADS, RATE)
	@$(ENV) nice -n 10 python -m benchmarks.events --uploads $(UPLOADS) --rate $(RATE)
