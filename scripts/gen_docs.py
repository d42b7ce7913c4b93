"""Rewrite the generated regions of README.md and docs/ from the code they restate.

A region is the text between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->``; NAME says
which generator writes it:

* ``commands``     the Makefile's targets and their ``##`` comments (what ``make help`` prints);
* ``star-schema``  one row per star table of the catalogue (``sql/models/*.yml``): kind, grain, key, load;
* ``star-columns`` every star table's columns, with their descriptions and what they are computed from;
* ``dag-diagram``  the diagram of ``dags/sparkify_etl.py``'s docstring (the DAG's own doc in the UI);
* ``tests``        every test file under ``tests/unit``, ``tests/integration`` and ``tests/e2e``, with the
                   first sentence of its docstring.

* ``configuration`` every knob of ``sparkify.settings``: where it is read, its default, what it does.
* ``fault-cases``  every case of the fault suite (``tests/support/faults.py``) with its outcome on each target.

    python scripts/gen_docs.py           # rewrite the regions in place
    python scripts/gen_docs.py --check   # exit 1 and name every region that differs (what CI runs)
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]
REGION = re.compile(r"<!-- generated:(?P<name>[\w-]+) -->\n(?P<body>.*?)<!-- /generated:(?P=name) -->", re.S)
# regions whose text is still written by hand; the value says why
BY_HAND: dict[str, str] = {}
# make help's own pattern (Makefile: grep -hE '^[a-z-]+:.*## ')
MAKE_TARGET = re.compile(r"^(?P<target>[a-z-]+):.*?## (?P<text>.*)$", re.M)


def documents() -> list[Path]:
    """Every Markdown file that may hold a region: the README and docs/, recursively."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def commands() -> str:
    rows = ["| command | what it does |", "| --- | --- |"]
    for match in MAKE_TARGET.finditer((ROOT / "Makefile").read_text()):
        rows.append(f"| `make {match['target']}` | {_cell(match['text'])} |")
    return "\n".join(rows)


def configuration() -> str:
    sys.path.insert(0, str(ROOT / "plugins"))
    from sparkify.settings import markdown_table

    return markdown_table().rstrip("\n")


def _catalogue():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "plugins"))
    from sparkify.models.catalogue import load_catalogue

    return load_catalogue(ROOT / "sql")


def star_schema() -> str:
    rows = ["| table | kind | grain | primary key | load | columns |", "| --- | --- | --- | --- | --- | --- |"]
    for spec in _catalogue().star:
        columns = ", ".join(c.name for c in spec.columns)
        load = f"{spec.load} (on `{spec.time_column}`)" if spec.time_column else spec.load
        rows.append(
            f"| `{spec.name}` | {spec.kind} | {_cell(spec.grain)} | `{', '.join(spec.primary_key)}` | {load} "
            f"| {columns} |"
        )
    return "\n".join(rows)


def star_columns() -> str:
    parts = []
    for spec in _catalogue().star:
        parts.append(f"### `{spec.name}`\n\n{_cell(spec.description)} Grain: {_cell(spec.grain)}.\n")
        parts.append("| column | description | computed from |\n| --- | --- | --- |")
        for column in spec.columns:
            sources = ", ".join(f"`{s}`" for s in column.sources)
            parts.append(f"| `{column.name}` | {_cell(column.description)} | {sources} |")
        parts.append("")
    return "\n".join(parts).rstrip()


def _first_sentence(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    paragraph = " ".join(doc.split("\n\n", 1)[0].split())
    match = re.match(r"(.+?[.!?])(\s|$)", paragraph)
    return _cell(match.group(1) if match else paragraph) or "(no docstring)"


LAYERS = ("unit", "integration", "e2e")


def test_files() -> list[Path]:
    """Every test file, layer by layer (the order of make test)."""
    return [path for layer in LAYERS for path in sorted((ROOT / "tests" / layer).rglob("test_*.py"))]


def tests() -> str:
    rows = ["| file | what it proves (its docstring) |", "| --- | --- |"]
    for path in test_files():
        relative = path.relative_to(ROOT).as_posix()
        rows.append(f"| [`{relative.removeprefix('tests/')}`](../{relative}) | {_first_sentence(path)} |")
    return "\n".join(rows)


def fault_cases() -> str:
    sys.path.insert(0, str(ROOT / "tests"))
    from support.faults import DATA_FAULTS

    rows = ["| case | issue item | on PostgreSQL | on Redshift (the emulator) |", "| --- | --- | --- | --- |"]
    for case in DATA_FAULTS:
        cells = (f"`{case.kind}`", case.item, case.summary("postgres"), case.summary("redshift"))
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows)


def dag_diagram() -> str:
    doc = ast.get_docstring(ast.parse((ROOT / "dags" / "sparkify_etl.py").read_text())) or ""
    match = re.search(r"```\n(.*?)```", doc, re.S)
    if not match:
        raise ValueError("dags/sparkify_etl.py: its docstring has no ``` diagram")
    return f"```text\n{match.group(1)}```"


GENERATORS: dict[str, Callable[[], str]] = {
    "dag-diagram": dag_diagram,
    "commands": commands,
    "star-schema": star_schema,
    "star-columns": star_columns,
    "tests": tests,
    "configuration": configuration,
    "fault-cases": fault_cases,
}


def regions(text: str) -> Iterator[re.Match[str]]:
    return REGION.finditer(text)


def render(text: str, path: Path) -> str:
    """``text`` with every generated region rewritten; raises ValueError on an unknown region."""

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name in BY_HAND:
            return match.group(0)
        if name not in GENERATORS:
            raise ValueError(f"{path.relative_to(ROOT)}: unknown generated region {name!r}")
        return f"<!-- generated:{name} -->\n{GENERATORS[name]()}\n<!-- /generated:{name} -->"

    return REGION.sub(replace, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if any region is stale")
    args = parser.parse_args(argv)
    stale = []
    for path in documents():
        text = path.read_text()
        new = render(text, path)
        if new != text:
            stale.append(path.relative_to(ROOT).as_posix())
            if not args.check:
                path.write_text(new)
    if args.check and stale:
        print(f"stale generated regions in: {', '.join(stale)}; run: python scripts/gen_docs.py", file=sys.stderr)
        return 1
    if not args.check:
        print(f"rewrote: {', '.join(stale) or 'nothing (all up to date)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
