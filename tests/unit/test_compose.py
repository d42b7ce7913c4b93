"""Static checks of the Docker Compose stack: docker-compose.yaml, .env.example and README's section on them.

No Docker engine is needed: ``docker-compose config`` only parses, validates and interpolates the file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
README_SECTION = "## Running with Docker Compose"
# Exactly the settings README's section documents; the stack must read these and no others.
DOCUMENTED = {
    *("AIRFLOW_UID", "_AIRFLOW_WWW_USER_USERNAME", "_AIRFLOW_WWW_USER_PASSWORD", "_PIP_ADDITIONAL_REQUIREMENTS"),
    *("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY"),
    *("AIRFLOW_CONN_REDSHIFT", "AIRFLOW_CONN_AWS_DEFAULT", "AIRFLOW_VAR_SPARKIFY_SOURCE", "SPARKIFY_CATCHUP"),
}
AIRFLOW_SERVICES = {f"airflow-{name}" for name in ("init", "apiserver", "scheduler", "dag-processor", "triggerer")}
LOCAL_SERVICES = {"warehouse", "s3", "demo-data"}

SERVICES = yaml.safe_load(COMPOSE.read_text())["services"]
PINS = dict(line.split("==", 1) for line in (ROOT / "requirements.txt").read_text().splitlines() if "==" in line)


def _image(service: str) -> tuple[str, str]:
    name, _, tag = SERVICES[service]["image"].rpartition(":")
    return name, tag


@pytest.mark.parametrize(
    "args", [[], ["--profile", "local"], ["--env-file", ".env.example", "--profile", "local"]], ids=str
)
def test_compose_config_is_valid(args: list[str], tmp_path: Path) -> None:
    """``docker-compose config -q`` accepts the file as a clean clone has it (no .env) and with .env.example."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (Debian: apt-get install docker-compose)")
    if "--env-file" not in args:
        # an empty env file stands in for the missing .env, whatever the developer's checkout holds
        (tmp_path / "empty.env").write_text("")
        args = ["--env-file", str(tmp_path / "empty.env"), *args]
    # only PATH and HOME: settings exported by scripts/env.sh must not hide a missing default
    env = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}
    run = subprocess.run(
        [binary, "-f", str(COMPOSE), *args, "config", "-q"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "is not set" not in run.stderr, f"a ${{VAR}} without default: {run.stderr}"


def test_mounted_host_paths_exist() -> None:
    declared = set(yaml.safe_load(COMPOSE.read_text()).get("volumes") or {})
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume["source"]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"
            else:
                assert source in declared, f"{name} uses the volume {source}, not declared under volumes:"


def test_airflow_image_agrees_with_the_pins() -> None:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    python = re.search(r"\d+\.\d+", requires).group()  # the floor of ">=3.11"
    expected = ("apache/airflow", f"{PINS['apache-airflow']}-python{python}")
    users = {name for name in SERVICES if _image(name)[0] == "apache/airflow"}
    assert users >= AIRFLOW_SERVICES | {"demo-data"}
    for name in users:
        assert _image(name) == expected, f"{name}: {SERVICES[name]['image']}"


def test_s3_emulator_image_is_pinned() -> None:
    name, tag = _image("s3")
    if name == "motoserver/moto":  # the same server the test suite starts: keep the versions together
        assert tag == PINS["moto"]
    else:
        assert tag and tag != "latest", f"pin the S3 store's image: {name}:{tag}"


def test_airflow_settings_and_profiles() -> None:
    env = SERVICES["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert (env["AIRFLOW__CORE__LOAD_EXAMPLES"], env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"]) == ("false", "true")
    assert f"./sql:{env['SPARKIFY_SQL_DIR']}:ro" in SERVICES["airflow-scheduler"]["volumes"]
    # tasks reach the Task Execution API through the service that runs `api-server`, on its port
    assert SERVICES["airflow-apiserver"]["command"] == "api-server"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert "8080:8080" in SERVICES["airflow-apiserver"]["ports"]
    assert "healthcheck" in SERVICES["airflow-apiserver"]
    assert {name for name, service in SERVICES.items() if service.get("profiles") == ["local"]} == LOCAL_SERVICES
    assert not [name for name, service in SERVICES.items() if name not in LOCAL_SERVICES and "profiles" in service]


def _example_variables() -> set[str]:
    return set(re.findall(r"^(\w+)=", ENV_EXAMPLE.read_text(), re.MULTILINE))


def test_compose_and_env_example_read_the_documented_variables() -> None:
    # comments are not interpolated, and "$$" is compose's escape for a literal "$" ($${HOSTNAME})
    text = "\n".join(line for line in COMPOSE.read_text().splitlines() if not line.lstrip().startswith("#"))
    assert set(re.findall(r"(?<!\$)\$\{?(\w+)", text)) == DOCUMENTED
    assert _example_variables() == DOCUMENTED
    assert not re.search(r"AKIA[0-9A-Z]{16}", ENV_EXAMPLE.read_text()), ".env.example holds placeholders only"
    assert ".env" in (ROOT / ".gitignore").read_text().split(), "the real .env must stay out of git"


def test_readme_documents_the_variables() -> None:
    """README's section names every variable of the compose file and .env.example (they are the same set)."""
    readme = (ROOT / "README.md").read_text()
    assert README_SECTION in readme, f"README.md has no section {README_SECTION!r}"
    section = readme.split(README_SECTION, 1)[1].split("\n## ", 1)[0]
    missing = sorted(name for name in DOCUMENTED | _example_variables() if name not in section)
    assert not missing, f"README.md's {README_SECTION!r} does not document: {', '.join(missing)}"
