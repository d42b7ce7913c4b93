"""Model SQL is a templated file: rendered when the task runs, and the catalogue's `depends_on` is what it reads.

The loads' `sql` is `models/<table>.sql` with `template_ext = (".sql",)`, so the DAG file reads no SQL when it
is parsed and the UI's Rendered Template tab shows the model that ran. `depends_on` (which orders the loads and
names the lineage inputs) is written in the catalogue; sqlglot reads the tables each model's SQL selects from,
and the two must agree.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp

from sparkify.models.catalogue import load_catalogue
from sparkify.models.sql_files import sql_dir


def tables_read(sql: str) -> set[str]:
    """The tables a model reads: every table it names, less its CTEs (sqlglot, PostgreSQL dialect)."""
    parseable = re.sub(r"%\(\w+\)s", "cast(null as timestamp)", sql)  # driver parameters
    tree = sqlglot.parse_one(parseable, read="postgres")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    return {table.name for table in tree.find_all(exp.Table)} - ctes


def test_the_catalogue_depends_on_is_what_each_model_reads() -> None:
    catalogue = load_catalogue()
    assert catalogue.star_names, "no model in the catalogue"
    for name in catalogue.star_names:
        spec = catalogue[name]
        read = tables_read((sql_dir() / f"models/{name}.sql").read_text())
        assert read == set(spec.depends_on), (
            f"{name}: the model reads {sorted(read)}, depends_on says {spec.depends_on}"
        )


def test_a_load_is_given_its_model_file_not_its_text() -> None:
    from sparkify.operators import LoadFactOperator

    assert LoadFactOperator(task_id="load_songplays_fact", table="songplays").sql == "models/songplays.sql"


def test_the_loads_render_their_model_file(dag) -> None:
    loads = [task for task in dag.tasks if task.task_id.startswith("load_")]
    assert {task.task_id for task in loads} >= {"load_songplays_fact", "load_users_dim"}
    for task in loads:
        task.render_template_fields(context={"params": {}}, jinja_env=dag.get_template_env())
        assert task.sql.strip() == (sql_dir() / f"models/{task.table}.sql").read_text().strip()
