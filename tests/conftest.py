"""Test fixtures: the project's real PostgreSQL, a fresh warehouse database per test, moto's server.

Airflow reads its configuration when first imported, so the environment is set here, before any test
module imports it. Tests never touch the developer's own warehouse or Airflow metadata: they use the
databases ``sparkify_test_*`` and ``airflow_test`` of the project's cluster.
"""

from __future__ import annotations

import ast
import functools
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / ".local"
for path in (ROOT / "plugins", ROOT / "scripts", ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# under `pytest -n N` (pytest-xdist) each worker has its own Airflow home and metadata database
# (support.postgres); warehouse databases are per test
from support.postgres import METADATA_DB, PORT, WORKER  # noqa: E402

os.environ.update(
    {
        "AIRFLOW_HOME": str(HOME / (f"airflow-test-{WORKER}" if WORKER else "airflow-test")),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://postgres@127.0.0.1:{PORT}/{METADATA_DB}",
        "SPARKIFY_SQL_DIR": str(ROOT / "sql"),
    }
)
# the DAG's production defaults are under test, whatever the developer's shell exported
os.environ.pop("SPARKIFY_CATCHUP", None)


import psycopg  # noqa: E402
import pytest  # noqa: E402
from support.moto_server import REDSHIFT_ROLE_NAME, aws_connection_json, ensure_role, moto_server  # noqa: E402
from support.moto_server import upload_folder as upload_folder  # noqa: E402
from support.paths import UDACITY_SAMPLE  # noqa: E402
from support.postgres import SERVER, admin  # noqa: E402


def _minutes(item: pytest.Item) -> float:
    """How slow a test says it is: ``pytest.mark.slow(minutes=4)``; 0 when not marked ``slow``."""
    mark = item.get_closest_marker("slow")
    return 0 if mark is None else float(mark.kwargs.get("minutes", 1))


# The schedule of `make test` (`pytest -n N`, pytest-xdist) is decided by the two hooks below.


@functools.cache
def _slow_as_a_whole(module: str) -> bool:
    """Whether the test module at ``module`` (a path from the root) sets ``pytestmark`` to a ``slow`` mark."""
    path = ROOT / module
    if not path.is_file():
        return False
    for node in ast.parse(path.read_text()).body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in targets):
            return "mark.slow" in ast.unparse(node.value)
    return False


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """The tests of a module marked ``slow`` as a whole (``pytestmark``) go to one worker: such a module is
    slow for its module-scoped fixture (an Airflow stack, a benchmark run, two lineage runs), built once per
    run rather than once per worker that gets one of its tests. Every other test goes on its own to the
    next free worker, in the order of ``pytest_collection_modifyitems``. (``xdist_group`` marks would say
    the same, but pytest-xdist 3.8 cannot rename pytest 9's node ids, so ``--dist loadgroup`` ignores them.)
    """
    from xdist.scheduler import LoadScopeScheduling

    class SlowModulesTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if _slow_as_a_whole(module) else nodeid

    config.option.loadscopereorder = False  # keep the order of pytest_collection_modifyitems
    return SlowModulesTogether(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests first, the slowest first: the e2e modules mostly wait on Airflow, so they overlap with the
    CPU-bound tests on the other workers, and the longest of them no longer ends the run alone."""
    items.sort(key=lambda item: -_minutes(item))  # stable: the rest keep their order


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The project's PostgreSQL cluster, started if it is not running."""
    subprocess.run([str(ROOT / "scripts" / "pg.sh"), "up"], check=True, capture_output=True)
    with admin() as conn:
        # a fresh metadata database per session: assets and runs of an earlier session (another
        # asset URI, say) must not decide this one's outcome
        conn.execute(f"drop database if exists {METADATA_DB} with (force)")
        conn.execute(f"create database {METADATA_DB}")
    return SERVER


@pytest.fixture(scope="session")
def airflow_db(postgres_server: str) -> None:
    """A migrated Airflow metadata database of its own, for ``dag.test()``."""
    from airflow.utils.db import initdb

    initdb()


_counter = iter(range(1_000_000))


@pytest.fixture
def warehouse_dsn(postgres_server: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A new, empty warehouse database, wired to the Airflow connection ``redshift``."""
    name = f"sparkify_test_{os.getpid()}_{next(_counter)}"
    with admin() as conn:
        conn.execute(f"drop database if exists {name}")
        conn.execute(f"create database {name}")
    dsn = f"{SERVER}/{name}"
    monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT", dsn.replace("postgresql://", "postgres://"))
    yield dsn
    with admin() as conn:
        conn.execute(f"drop database if exists {name} with (force)")


@pytest.fixture
def db(warehouse_dsn: str):
    """An autocommit connection to the test warehouse, for assertions."""
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def demo_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated data set: 3 days of events, songs that the plays match."""
    from generate_demo_data import generate

    out = tmp_path_factory.mktemp("demo-data")
    generate(out, songs=150, users=30, days=3, events_per_day=600, seed=7)
    return out


@pytest.fixture(scope="session")
def udacity_source() -> Path:
    if not (UDACITY_SAMPLE / "log_json_path.json").is_file():
        pytest.skip(f"the Udacity sample is not present at {UDACITY_SAMPLE}")
    return UDACITY_SAMPLE


@pytest.fixture
def dag():
    """A freshly parsed DAG: ``dag.test()`` folds a run's conf into the DAG's params in place."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["sparkify_etl"]


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    """An S3-compatible server over HTTP: moto in server mode, in a process of its own."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws_connection(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The Airflow connection ``aws_default`` pointing at the emulator, as an environment variable."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", aws_connection_json(s3_endpoint))
    return "aws_default"


@pytest.fixture(scope="session")
def demo_bucket(s3_endpoint: str, demo_source: Path) -> str:
    """The generated data set, uploaded to the emulator."""
    upload_folder(s3_endpoint, demo_source, "sparkify-demo", "raw")
    return "s3://sparkify-demo/raw"


@pytest.fixture(scope="session")
def redshift_emulator(postgres_server: str, s3_endpoint: str):
    """Redshift, emulated by a wire-protocol proxy in front of the project's PostgreSQL (see
    tests/support/redshift_emulator). Connect through ``redshift_emulator.uri(database)``."""
    from urllib.parse import urlsplit

    from support.redshift_emulator import start_redshift_emulator

    server = urlsplit(postgres_server)
    ensure_role(s3_endpoint, REDSHIFT_ROLE_NAME)  # COPY's IAM_ROLE must exist, as on AWS
    with start_redshift_emulator(server.hostname, server.port, s3_endpoint) as emulator:
        yield emulator
