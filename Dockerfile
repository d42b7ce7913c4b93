# The Sparkify Airflow image: the official image, the project's pinned runtime, and its code, as Airflow's
# docs recommend ("Building the image": extend the official image with a requirements file and embed the
# DAGs) instead of installing packages at every start or mounting the code into a bare image.
#   docker compose build          (docker-compose.yaml builds it for every Airflow service)
# The tag must agree with requirements/runtime.txt (apache-airflow==3.3.2) and pyproject.toml (Python 3.11):
# tests/test_compose.py checks both.
FROM apache/airflow:3.3.2-python3.11

# Every runtime package at the version the test suite runs with, apache-airflow included, so pip keeps the
# image's Airflow where it is. pip runs as the image's `airflow` user, as the image requires.
COPY --chown=airflow:root requirements.txt /opt/airflow/requirements.txt
COPY --chown=airflow:root requirements/runtime.txt /opt/airflow/requirements/runtime.txt
RUN pip install --no-cache-dir -r /opt/airflow/requirements.txt

# The project's code, read by every component (the DAG processor parses dags/, the workers import plugins/
# and render sql/; scripts/ holds the demo-data generator and report.py).
COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root sql/ /opt/airflow/sql/
COPY --chown=airflow:root scripts/ /opt/airflow/scripts/

# As scripts/env.sh does locally: the `sparkify` package is importable in every process, the SQL found.
ENV PYTHONPATH=/opt/airflow/plugins \
    SPARKIFY_SQL_DIR=/opt/airflow/sql
