"""The documentation cannot drift unnoticed: generated regions equal the code, links resolve, code blocks are marked.

* Every ``<!-- generated:NAME -->`` region of README.md and docs/ equals what ``scripts/gen_docs.py`` writes
  from the code (the Makefile, the catalogue, the DAG's docstring, the tests folder).
* Every relative link names an existing file, and every ``#anchor`` a heading of that file.
* Every fenced code block says whether a test runs it: ``tested-by=<test file>`` (which must read this
  document), ``example`` (not run; its ``make`` targets and repository paths must still exist), or ``text``.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
assert _spec and _spec.loader
gen_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen_docs)

DOCUMENTS = gen_docs.documents()
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^`\n]*)\n(?P<body>.*?)^(?P=indent)```\s*$", re.M | re.S)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)\)")
MAKE_TARGETS = {m["target"] for m in gen_docs.MAKE_TARGET.finditer((ROOT / "Makefile").read_text())}
REPO_PATH = re.compile(r"(?<![\w./<-])(?:dags|plugins|sql|scripts|tests|config|docs|benchmarks)/[\w./-]*[\w/]")


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def code_blocks(text: str) -> list[re.Match[str]]:
    return list(FENCE.finditer(text))


def without_code(text: str) -> str:
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for match in re.finditer(r"^#{1,6} (.+)$", without_code(path.read_text()), re.M):
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def test_there_are_documents_regions_links_and_blocks() -> None:
    """The tests below are parametrized over what they find: finding nothing must fail, not pass."""
    assert ROOT / "README.md" in DOCUMENTS and len(DOCUMENTS) >= 10
    texts = [p.read_text() for p in DOCUMENTS]
    names = {m["name"] for t in texts for m in gen_docs.regions(t)}
    assert names == set(gen_docs.GENERATORS) | set(gen_docs.BY_HAND)
    assert sum(len(LINK.findall(t)) for t in texts) > 50
    assert sum(len(code_blocks(t)) for t in texts) > 20


@pytest.mark.parametrize("path", DOCUMENTS, ids=_name)
def test_generated_regions_equal_the_code(path: Path) -> None:
    text = path.read_text()
    assert gen_docs.render(text, path) == text, f"{_name(path)} is stale: run python scripts/gen_docs.py"


def test_the_readme_keeps_its_quick_start_and_its_length() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 400, "README.md is for the newcomer: at most 400 lines"
    quick = text.split("## Quick start", 1)[1]
    commands = re.findall(r"^make (\w[\w-]*)", code_blocks(quick)[0]["body"], re.M)
    assert commands == ["demo", "test"], "the quick start is make demo, then make test"


def test_the_tests_table_names_every_test_file() -> None:
    table = (ROOT / "docs" / "testing.md").read_text()
    files = sorted(p for p in (ROOT / "tests").rglob("test_*.py"))
    assert files
    missing = [_name(p) for p in files if f"`{_name(p).removeprefix('tests/')}`" not in table]
    assert not missing, f"docs/testing.md does not list {missing}: run python scripts/gen_docs.py"


@pytest.mark.parametrize("path", DOCUMENTS, ids=_name)
def test_links_resolve(path: Path) -> None:
    broken = []
    for match in LINK.finditer(without_code(path.read_text())):
        target = match["target"]
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        if not resolved.exists():
            broken.append(f"{target}: no file {resolved.relative_to(ROOT) if ROOT in resolved.parents else resolved}")
        elif anchor and (resolved.is_dir() or anchor not in anchors(resolved)):
            broken.append(f"{target}: no heading #{anchor}")
    assert not broken, f"{_name(path)}: " + "; ".join(broken)


@pytest.mark.parametrize("path", DOCUMENTS, ids=_name)
def test_code_blocks_say_whether_a_test_runs_them(path: Path) -> None:
    problems = []
    for block in code_blocks(path.read_text()):
        words = block["info"].split()
        where = f"block {block['info']!r} at {block['body'][:40]!r}"
        if not words:
            problems.append(f"{where}: no info string")
        elif words[0] == "text" or words[1:] == ["example"]:
            continue
        elif len(words) == 2 and words[1].startswith("tested-by="):
            test = ROOT / words[1].removeprefix("tested-by=")
            if not test.is_file():
                problems.append(f"{where}: {test} does not exist")
            elif path.name not in test.read_text():
                problems.append(f"{where}: {_name(test)} does not read {path.name}")
        else:
            problems.append(f"{where}: mark it `example`, `tested-by=<test file>`, or `text`")
    assert not problems, f"{_name(path)}: " + "; ".join(problems)


def _exists(relative: str) -> bool:
    path = ROOT / relative.rstrip("/")
    # a file the block creates from a template (config/dwh.cfg from config/dwh.cfg.example) counts
    return path.exists() or any(path.parent.glob(f"{path.name}*"))


@pytest.mark.parametrize("path", DOCUMENTS, ids=_name)
def test_example_commands_name_real_targets_and_paths(path: Path) -> None:
    problems = []
    for block in code_blocks(path.read_text()):
        if not block["info"].startswith(("bash", "sh")):
            continue
        body = block["body"]
        for target in re.findall(r"(?:^|[;&|(]\s*|\s)make ([a-z][\w-]*)", body, re.M):
            if target not in MAKE_TARGETS:
                problems.append(f"make {target}: no such target")
        for relative in REPO_PATH.findall(body):
            if not _exists(relative):
                problems.append(f"{relative}: no such path")
    assert not problems, f"{_name(path)}: " + "; ".join(problems)


def test_backfill_examples_pick_days_the_demo_data_holds() -> None:
    """`make airflow` reads the demo data (scripts/env.sh): a backfill of another day would stage nothing."""
    import datetime as dt

    days = int(
        re.search(r"generate_demo_data\.py \.local/demo-data .*--days (\d+)", (ROOT / "Makefile").read_text())[1]
    )
    start = re.search(
        r"--start.*default=dt\.date\((\d+), (\d+), (\d+)\)", (ROOT / "scripts" / "generate_demo_data.py").read_text()
    )
    first = dt.date(*map(int, start.groups()))
    held = {first + dt.timedelta(days=n) for n in range(days)}
    found = 0
    for path in (ROOT / "README.md", ROOT / "docs" / "operating.md"):
        for bound in re.findall(r"--(?:from|to)-date (\d{4}-\d\d-\d\d)", path.read_text()):
            found += 1
            assert dt.date.fromisoformat(bound) in held, f"{_name(path)}: {bound} is not a day of the demo data"
    assert found >= 4
