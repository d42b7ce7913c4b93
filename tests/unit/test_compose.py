"""Static checks of the Docker Compose stack: docker-compose.yaml, the Dockerfile it builds, .env.example and the
section on them in docs/scaling-out.md.

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
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
DOCUMENT = ROOT / "docs" / "scaling-out.md"
README_SECTION = "## Running with Docker Compose"
# Exactly the settings the document's section documents; the stack must read these and no others.
DOCUMENTED = {
    *("AIRFLOW_UID", "_AIRFLOW_WWW_USER_USERNAME", "_AIRFLOW_WWW_USER_PASSWORD", "_PIP_ADDITIONAL_REQUIREMENTS"),
    *("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY"),
    *("AIRFLOW_CONN_REDSHIFT", "AIRFLOW_CONN_AWS_DEFAULT", "AIRFLOW_VAR_SPARKIFY_SOURCE", "SPARKIFY_CATCHUP"),
    *("AIRFLOW__CORE__EXECUTOR", "SPARKIFY_LATE_AFTER_MINUTES"),
}
AIRFLOW_SERVICES = {f"airflow-{name}" for name in ("init", "apiserver", "scheduler", "dag-processor", "triggerer")}
PROFILES = {"local": {"warehouse", "s3", "demo-data"}, "celery": {"redis", "airflow-worker"}, "flower": {"flower"}}
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

SERVICES = yaml.safe_load(COMPOSE.read_text())["services"]


def requirement_lines(path: Path, follow: bool = True) -> list[str]:
    """The requirement lines of a pip requirements file, with those of its ``-r``/``-c`` includes if ``follow``."""
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith(("-r ", "-c ")):
            lines += requirement_lines(path.parent / line[3:].strip()) if follow else []
        elif line:
            lines.append(line)
    return lines


PINS = dict(line.split("==", 1) for line in requirement_lines(ROOT / "requirements.txt") if "==" in line)
# with the test and dev tools (moto's server among them)
ALL_PINS = dict(line.split("==", 1) for line in requirement_lines(ROOT / "requirements" / "dev.txt") if "==" in line)


def _image(service: str) -> tuple[str, str]:
    name, _, tag = SERVICES[service]["image"].rpartition(":")
    return name, tag


def _config(*args: str, env: dict[str, str] | None = None, tmp_path: Path) -> dict:
    """``docker-compose config`` as parsed YAML: the file interpolated, anchors and merges resolved."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (Debian: apt-get install docker-compose)")
    (tmp_path / "empty.env").write_text("")
    base = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}
    run = subprocess.run(
        [binary, "-f", str(COMPOSE), "--env-file", str(tmp_path / "empty.env"), *args, "config"],
        cwd=ROOT,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    return yaml.safe_load(run.stdout)


def _dockerfile_base() -> str:
    (base,) = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    return base


def test_airflow_image_agrees_with_the_pins() -> None:
    """The Dockerfile starts from the official image of the pinned Airflow, on pyproject's Python."""
    python = re.search(r"\d+\.\d+", PROJECT["requires-python"]).group()  # the floor of ">=3.11"
    assert _dockerfile_base() == f"apache/airflow:{PINS['apache-airflow']}-python{python}"


def test_every_airflow_service_runs_the_project_image(tmp_path: Path) -> None:
    services = _config("--profile", "local", "--profile", "celery", "--profile", "flower", tmp_path=tmp_path)[
        "services"
    ]
    users = {name for name, service in services.items() if service.get("image", "").startswith("sparkify-airflow:")}
    assert users == AIRFLOW_SERVICES | {"airflow-worker", "flower", "demo-data"}
    for name in users:
        service = services[name]
        assert service["image"] == f"sparkify-airflow:{PROJECT['version']}", name
        assert Path(service["build"]["context"]).resolve() == ROOT, name  # built from the Dockerfile here
        # the code is in the image, not mounted over it
        mounts = [v if isinstance(v, str) else v.get("source", "") for v in service.get("volumes", [])]
        assert not [mount for mount in mounts if mount.startswith((str(ROOT), "."))], name
    assert not [name for name, service in services.items() if service.get("image", "").startswith("apache/airflow")]


def test_the_image_installs_the_pinned_runtime_and_the_code() -> None:
    """What the Dockerfile installs is requirements.txt, every line of it pinned, and the code it needs."""
    text = DOCKERFILE.read_text()
    installs = re.findall(r"pip install (.*)", text)
    assert installs == ["--no-cache-dir -r /opt/airflow/requirements.txt"]
    assert "COPY --chown=airflow:root requirements.txt /opt/airflow/requirements.txt" in text
    copied = set(re.findall(r"^COPY --chown=airflow:root (\S+) /opt/airflow/\1$", text, re.MULTILINE))
    assert copied >= {"requirements/runtime.txt", "dags/", "plugins/", "sql/", "scripts/"}
    for line in requirement_lines(ROOT / "requirements.txt"):
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+(\[[a-z,]+\])?==[\w.+]+", line), f"not pinned: {line}"
    assert PINS["apache-airflow"] in _dockerfile_base()  # pip cannot move the image's Airflow
    # the build context holds what the Dockerfile copies
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {f"!{path}" for path in copied} <= set(ignored)


def test_direct_dependencies_are_pinned_as_the_constraints() -> None:
    """pyproject.toml's direct dependencies carry the same versions as the constraint files."""
    runtime = requirement_lines(ROOT / "requirements" / "runtime.txt")
    dev = requirement_lines(ROOT / "requirements" / "dev.txt", follow=False)
    key = re.compile(r"[-_.]+")

    def pins(lines: list[str]) -> dict[str, str]:
        return {key.sub("-", line.split("==")[0]).lower(): line.split("==")[1] for line in lines if "==" in line}

    for declared, constraints in (
        (PROJECT["dependencies"], pins(runtime)),
        (PROJECT["optional-dependencies"]["dev"], pins(runtime + dev)),
    ):
        for requirement in declared:
            name, version = re.sub(r"\[.*\]", "", requirement).split("==")
            assert constraints.get(key.sub("-", name).lower()) == version, requirement
    assert not set(pins(runtime)) & set(pins(dev)), "a package pinned in both files"


def test_s3_emulator_image_is_pinned() -> None:
    name, tag = _image("s3")
    if name == "motoserver/moto":  # the same server the test suite starts: keep the versions together
        assert tag == ALL_PINS["moto"]
    else:
        assert tag and tag != "latest", f"pin the S3 store's image: {name}:{tag}"


def test_airflow_settings_and_profiles() -> None:
    env = SERVICES["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
    assert (env["AIRFLOW__CORE__LOAD_EXAMPLES"], env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"]) == ("false", "true")
    # tasks reach the Task Execution API through the service that runs `api-server`, on its port
    assert SERVICES["airflow-apiserver"]["command"] == "api-server"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert "8080:8080" in SERVICES["airflow-apiserver"]["ports"]
    assert "healthcheck" in SERVICES["airflow-apiserver"]
    for profile, names in PROFILES.items():
        assert {name for name, service in SERVICES.items() if service.get("profiles") == [profile]} == names
    profiled = set().union(*PROFILES.values())
    assert not [name for name, service in SERVICES.items() if name not in profiled and "profiles" in service]


def test_both_login_schemes_are_the_simple_auth_manager(tmp_path: Path) -> None:
    """Compose logs in as `make airflow` does: Airflow's Simple auth manager, no FAB provider."""
    services = _config(tmp_path=tmp_path)["services"]
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("simple_auth_manager.SimpleAuthManager"), name
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "airflow:admin"
    init = services["airflow-init"]
    assert (init["environment"]["ADMIN_USER"], init["environment"]["ADMIN_PASSWORD"]) == ("airflow", "airflow")
    assert init["environment"]["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] in " ".join(init["command"])
    assert "providers.fab" not in COMPOSE.read_text()


def test_the_celery_profile_runs_tasks_on_workers(tmp_path: Path) -> None:
    """With the executor switched and the profile on: a Redis broker, scalable workers on the same image."""
    celery = _config("--profile", "celery", env={"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"}, tmp_path=tmp_path)
    services = celery["services"]
    assert {name for name, service in services.items() if "celery" in service.get("profiles", [])} == PROFILES["celery"]
    for name in AIRFLOW_SERVICES | {"airflow-worker"}:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0", name
    worker = services["airflow-worker"]
    assert worker["command"] == ["celery", "worker"] or worker["command"] == "celery worker"
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    # scalable: no fixed name or host port that a second replica would clash on
    assert "container_name" not in worker and "ports" not in worker
    assert re.fullmatch(r"redis:\d+(\.\d+)*-\w+", services["redis"]["image"]), "pin the broker's image"
    # without the switch, the default stack keeps the LocalExecutor (and the profiles stay off by default)
    default = _config(tmp_path=tmp_path)["services"]
    assert default["airflow-scheduler"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"


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
    """The document's section names every variable of the compose file and .env.example (the same set)."""
    readme = DOCUMENT.read_text()
    assert README_SECTION in readme, f"{DOCUMENT.name} has no section {README_SECTION!r}"
    section = readme.split(README_SECTION, 1)[1].split("\n## ", 1)[0]
    missing = sorted(name for name in DOCUMENTED | _example_variables() if name not in section)
    assert not missing, f"{DOCUMENT.name}'s {README_SECTION!r} does not document: {', '.join(missing)}"
