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
# make bench EVENTS=1000000 [SONG_FILES=15000] [LATENCY_MS=30] [BENCH_ARGS="--explain"]
EVENTS ?= 100000
SONG_FILES ?= 15000
LATENCY_MS ?= 30
BENCH_ARGS ?=

.PHONY: help venv up demo data dsn reset down test lint analytics airflow bench

help: ## list the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -c requirements.txt
	touch $@

venv: $(VENV)/.installed ## create the virtualenv from requirements.txt

up: venv ## start the local warehouse (PostgreSQL) and prepare Airflow's metadata database
	@scripts/pg.sh up
	@$(ENV) airflow db migrate > .local/airflow-db-migrate.log 2>&1 || { cat .local/airflow-db-migrate.log; exit 1; }

.local/demo-data/log_json_path.json: scripts/generate_demo_data.py
	@$(ENV) python scripts/generate_demo_data.py .local/demo-data --songs 400 --users 60 --days 3 --events-per-day 2500

data: .local/demo-data/log_json_path.json ## generate the demo data set (deterministic)

demo: up data ## run the DAG with `airflow dags test` for a window and print what it loaded
	@$(ENV) scripts/demo.sh "$(SOURCE)" "$(START)" "$(END)"

dsn: ## print the local warehouse's libpq URI
	@scripts/pg.sh dsn

reset: venv ## drop and recreate every table (the seed's create_tables), ledger included
	@scripts/pg.sh up >/dev/null
	@$(ENV) python scripts/create_tables.py --drop

down: ## stop the local services
	@-source scripts/env.sh && scripts/airflow.sh stop
	@scripts/pg.sh down

test: up ## run the whole test suite
	@$(ENV) python -m pytest $(PYTEST_ARGS)

lint: venv ## ruff for Python, sqlfluff for SQL
	@$(BIN)/ruff check . && $(BIN)/ruff format --check .
	@for folder in sql/ddl sql/models sql/analytics; do (cd $$folder && ../../$(BIN)/sqlfluff lint . --disable-progress-bar) || exit 1; done

analytics: venv ## run the analytics queries against the warehouse, print them, chart plays per hour
	@$(ENV) python scripts/report.py --analytics --chart .local/plays_per_hour.png

airflow: up ## start a local Airflow (UI, scheduler, DAG processor, triggerer) on the local stack
	@$(ENV) scripts/airflow.sh start

bench: up ## end-to-end benchmark: the month's DAG vs a raw COPY, hourly cost, memory, S3 (EVENTS=N)
	@$(ENV) nice -n 10 python -m benchmarks.end_to_end --events $(EVENTS) --song-files $(SONG_FILES) \
		--latency-ms $(LATENCY_MS) $(BENCH_ARGS)
