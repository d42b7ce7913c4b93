"""The policy JSON docs/production.md shows is the JSON the repository keeps (and provisioning attaches)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# where the IAM policies are documented; if they move, move this and EXPECTED_BLOCKS with them
DOCUMENT = ROOT / "docs" / "production.md"
# the JSON blocks the document shows (Redshift's trust and permissions, Airflow's policy): a parametrized
# test over zero blocks would pass silently, so the count is asserted first
EXPECTED_BLOCKS = 3


def shown_policies(text: str) -> list[tuple[str, str]]:
    """(file named last before the block, block) for every ```json block of the document."""
    shown = []
    for block in re.finditer(r"```json[^\n]*\n(.*?)```", text, flags=re.S):
        named = re.findall(r"`(docs/iam/[\w.-]+\.json)`", text[: block.start()])
        shown.append((named[-1] if named else "", block.group(1)))
    return shown


def test_the_document_shows_the_policies():
    assert DOCUMENT.is_file(), f"{DOCUMENT} is missing: where did the IAM section go?"
    assert len(shown_policies(DOCUMENT.read_text())) == EXPECTED_BLOCKS


def test_every_policy_file_is_shown_or_named():
    text = DOCUMENT.read_text()
    for path in sorted((ROOT / "docs" / "iam").glob("*.json")):
        assert f"docs/iam/{path.name}" in text, f"{path.name} is not mentioned in {DOCUMENT.name}"


@pytest.mark.parametrize(("named", "block"), shown_policies(DOCUMENT.read_text()))
def test_each_policy_shown_equals_its_file(named, block):
    assert named, "a JSON block with no docs/iam file named before it"
    assert json.loads(block) == json.loads((ROOT / named).read_text())
