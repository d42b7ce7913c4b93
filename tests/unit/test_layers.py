"""The package keeps its layers: the import-linter contracts of pyproject.toml, as `make check` runs them.

Bottom to top: core (errors, identifiers, settings, window, sql_literals), sources, models, staging |
warehouses (independent of each other), quality, lineage | alerts | ui | sqs_trigger, operators. A module
that imports a layer above its own, or staging and a warehouse target importing each other, fails here
and in `make check` (``PYTHONPATH=plugins lint-imports``), before any merge makes a cycle of it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(plugins: Path) -> subprocess.CompletedProcess[str]:
    """Run the contracts of pyproject.toml on the ``sparkify`` package found in ``plugins``."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache", "--no-logo"],
        capture_output=True,
        text=True,
        cwd=plugins,
        env={**os.environ, "PYTHONPATH": str(plugins)},
        timeout=120,
        check=False,
    )


def test_the_package_keeps_its_layers() -> None:
    result = lint_imports(ROOT / "plugins")
    assert result.returncode == 0, result.stdout + result.stderr
    kept = re.search(r"Contracts: (\d+) kept, 0 broken", result.stdout)
    assert kept, result.stdout
    assert int(kept.group(1)) >= 2  # the layers, and staging independent of the warehouse targets


def test_an_upward_import_and_a_staging_import_in_a_target_are_reported(tmp_path: Path) -> None:
    package = tmp_path / "sparkify"
    shutil.copytree(ROOT / "plugins" / "sparkify", package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "models" / "upward.py").write_text("from sparkify.operators import base\n")
    (package / "warehouses" / "stager.py").write_text("from sparkify.staging.stdin_copy import StdinCopyStager\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "Contracts: 0 kept, 2 broken" in result.stdout, result.stdout
    assert "sparkify.models.upward -> sparkify.operators" in result.stdout
    assert "sparkify.warehouses.stager -> sparkify.staging.stdin_copy" in result.stdout
