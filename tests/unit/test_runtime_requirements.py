"""The runtime install holds what the tasks import, and nothing it does not need.

`make demo` and the Docker image install ``requirements/runtime.txt`` alone (the closure of pyproject.toml's
``[project] dependencies``); the tests run on the dev install, which has more. A module that only the dev
install provides therefore passes every test and fails a newcomer's first task (numpy did: issue 17). This
test reads every import of ``plugins/``, ``dags/`` and the scripts the runtime commands run, with ``ast``
(imports inside functions and under ``TYPE_CHECKING`` included), finds the installed distribution that
provides each one, and requires it to be pinned in the runtime requirements; a module that is not an
Airflow module must come from a *direct* dependency, so that no import rests on another package's choices.
The other direction: every direct dependency is imported, or is named where it is used without an import.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from functools import cache
from importlib.metadata import distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
# the scripts that the runtime commands run (make demo, data, reset, up), as the runtime install runs them
RUNTIME_SCRIPTS = ("scripts/report.py", "scripts/generate_demo_data.py", "scripts/create_tables.py")
# (file, module): imports that only a dev command reaches, each with the command that has the dev install
DEV_ONLY_IMPORTS = {("scripts/report.py", "matplotlib"): "`make analytics` (--chart) runs on `make venv`"}
# (file, module): probes that the benchmark runs only when the package is there, which the project does not pin
OPTIONAL_PROBES = {("benchmarks/encoder_options.py", "duckdb"), ("benchmarks/encoder_options.py", "orjson")}
# direct dependencies that no module imports: each is used where the named file says so
USED_WITHOUT_IMPORT = {
    "apache-airflow": ("Dockerfile", "apache/airflow:3.3.2"),  # the distribution that pins Airflow's parts
    "apache-airflow-providers-celery": ("docker-compose.yaml", "CeleryExecutor"),  # the executor, by name
    "apache-airflow-providers-common-sql": ("pyproject.toml", "DbApiHook under the postgres hook"),
    # the postgres hook's driver: psycopg 3 (not psycopg2) gives staging its COPY BINARY rows
    "psycopg": ("plugins/sparkify/staging/copy_stream.py", "psycopg's ``write_row``"),
}


def runtime_files() -> list[Path]:
    files = sorted((ROOT / "plugins").rglob("*.py")) + sorted((ROOT / "dags").rglob("*.py"))
    return files + [ROOT / script for script in RUNTIME_SCRIPTS]


def first_party() -> set[str]:
    """Top-level names the project itself provides: its packages under plugins/ and its scripts' modules."""
    names = {path.name for path in (ROOT / "plugins").iterdir() if path.is_dir()}
    names |= {path.stem for path in (ROOT / "scripts").glob("*.py")}
    return names | {path.stem for path in (ROOT / "dags").glob("*.py")}


def imports_of(path: Path) -> set[str]:
    """Every absolute module name ``path`` imports, at any depth of the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


@cache
def module_owners() -> dict[str, str]:
    """``{"pkg/sub/mod.py": distribution}`` for every file the installed distributions record."""
    owners: dict[str, str] = {}
    for dist in distributions():
        name = canonicalize_name(dist.metadata["Name"])  # parsed once per distribution, not once per file
        for file in dist.files or ():
            if file.suffix in (".py", ".so", ".pyd"):
                owners.setdefault(str(file).replace("\\", "/"), name)
    return owners


def owner_of(module: str) -> str | None:
    """The distribution that provides ``module``: the deepest package or module of its dotted name found in a
    distribution's files (``airflow.providers.amazon.aws.hooks.s3`` is the amazon provider's, not core's)."""
    parts = module.split(".")
    owners = module_owners()
    for depth in range(len(parts), 0, -1):
        base = "/".join(parts[:depth])
        for candidate in (f"{base}.py", f"{base}/__init__.py"):
            if candidate in owners:
                return owners[candidate]
        extension = [name for name in owners if name.startswith(f"{base}.") and name.endswith((".so", ".pyd"))]
        if extension:
            return owners[extension[0]]
    return None


def pinned(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            pins[canonicalize_name(requirement.name)] = str(requirement.specifier)
    return pins


def direct_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(Requirement(text).name) for text in project["dependencies"]}


def third_party_imports(files: list[Path] | None = None) -> dict[str, set[str]]:
    """``{module: {files that import it}}`` for every import that is neither stdlib nor the project's own."""
    ours = first_party() | {"benchmarks", "support"}
    found: dict[str, set[str]] = {}
    for path in runtime_files() if files is None else files:
        relative = str(path.relative_to(ROOT))
        for module in imports_of(path):
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top in ours or top == "__future__":
                continue
            if (files is None and (relative, top) in DEV_ONLY_IMPORTS) or (relative, top) in OPTIONAL_PROBES:
                continue
            found.setdefault(module, set()).add(relative)
    return found


def test_the_scan_sees_the_imports_it_must_judge() -> None:
    # the guard is only as good as its reach: it must see imports inside functions (numpy's was one)
    modules = third_party_imports()
    assert "numpy" in modules, "json_stream's function-level numpy import was not found"
    assert any(module.startswith("airflow.providers.amazon") for module in modules)
    assert len(runtime_files()) > 40


def test_every_runtime_import_is_pinned_in_the_runtime_requirements() -> None:
    runtime = pinned(ROOT / "requirements" / "runtime.txt")
    direct = direct_dependencies()
    problems = []
    for module, files in sorted(third_party_imports().items()):
        owner = owner_of(module)
        where = ", ".join(sorted(files))
        if owner is None:
            problems.append(f"{module} ({where}): no installed distribution provides it")
        elif owner not in runtime:
            problems.append(f"{module} ({where}): provided by {owner}, which requirements/runtime.txt does not pin")
        elif not module.startswith("airflow.") and owner not in direct:
            problems.append(f"{module} ({where}): provided by {owner}, not a direct dependency in pyproject.toml")
    assert not problems, "runtime imports the runtime install lacks:\n" + "\n".join(problems)


def test_every_direct_runtime_dependency_is_used() -> None:
    imported_from = {owner_of(module) for module in third_party_imports()}
    unused = []
    for name in sorted(direct_dependencies()):
        if name in imported_from:
            continue
        if name in USED_WITHOUT_IMPORT:
            file, text = USED_WITHOUT_IMPORT[name]
            assert text in (ROOT / file).read_text(), f"{name} is said to be used in {file} ({text!r}): it is not"
            continue
        unused.append(name)
    assert not unused, f"direct runtime dependencies that nothing imports or uses: {unused}"


def test_the_runtime_pins_are_the_closure_the_dev_pins_build_on() -> None:
    runtime = pinned(ROOT / "requirements" / "runtime.txt")
    dev = pinned(ROOT / "requirements" / "dev.txt")
    assert direct_dependencies() <= set(runtime), "a direct dependency is missing from requirements/runtime.txt"
    assert not set(runtime) & set(dev), "a package is pinned in both runtime.txt and dev.txt"


def test_the_dev_commands_imports_are_pinned_in_the_requirements() -> None:
    """`make analytics`, `make bench` and `make redshift-up` run scripts on `make venv`: runtime plus dev pins."""
    pins = pinned(ROOT / "requirements" / "runtime.txt") | pinned(ROOT / "requirements" / "dev.txt")
    files = sorted((ROOT / "scripts").glob("*.py")) + sorted((ROOT / "benchmarks").glob("*.py"))
    modules = third_party_imports(files)
    assert "matplotlib" in modules and "boto3" in modules, "the scan did not reach the dev commands' imports"
    problems = [
        f"{module} ({', '.join(sorted(where))}): provided by {owner_of(module)}, which no requirements file pins"
        for module, where in sorted(modules.items())
        if owner_of(module) not in pins
    ]
    assert not problems, "\n".join(problems)
