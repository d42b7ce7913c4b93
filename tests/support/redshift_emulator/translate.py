"""Which statements PostgreSQL cannot run as Redshift wrote them, and what it runs instead.

Only a statement that needs it is translated; every other statement reaches PostgreSQL byte for byte
(so ``$1`` placeholders, comments and spacing survive). Translation works on sqlglot's trees, never on
the SQL text: Redshift's table attributes (DISTKEY, SORTKEY, DISTSTYLE, INTERLEAVED SORTKEY, ENCODE,
BACKUP) are popped from the ``Create`` tree and the rest is written as PostgreSQL; ``VACUUM`` keeps
only its table; ``ANALYZE COMPRESSION`` answers with Redshift's columns and no rows; ``COPY ... FROM
's3://...'`` is handed to :mod:`copy_from_s3` as its parsed ``exp.Copy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import sqlglot
from sqlglot import exp
from sqlglot.dialects.redshift import Redshift
from sqlglot.tokens import Tokenizer, TokenType

# A cheap first look: a statement without any of these words needs nothing from sqlglot at all.
_CANDIDATE_WORDS = (
    "identity",
    "distkey",
    "sortkey",
    "diststyle",
    "encode",
    "interleaved",
    "backup",
    "copy",
    "vacuum",
    "analyze",
)


class RedshiftEmulated(Redshift):
    """sqlglot's Redshift dialect plus the few DDL attributes it does not parse."""

    class Parser(Redshift.Parser):
        CONSTRAINT_PARSERS: ClassVar[dict] = {
            **Redshift.Parser.CONSTRAINT_PARSERS,
            # column-level DISTKEY / SORTKEY, which sqlglot's Redshift parser does not know: kept in
            # the tree as the table-level nodes, so that one rule pops both
            "DISTKEY": lambda self: exp.DistKeyProperty(this=exp.var("column")),
            "SORTKEY": lambda self: exp.SortKeyProperty(this=exp.var("column")),
        }
        PROPERTY_PARSERS: ClassVar[dict] = {
            **Redshift.Parser.PROPERTY_PARSERS,
            "INTERLEAVED": lambda self: self._match_text_seq("SORTKEY") and self._parse_sortkey(),
        }


_REDSHIFT_ONLY = (
    exp.DistKeyProperty,
    exp.SortKeyProperty,
    exp.DistStyleProperty,
    exp.BackupProperty,
    exp.EncodeColumnConstraint,
)


@dataclass(frozen=True)
class Piece:
    """One statement of a message: its original text, and what PostgreSQL should run in its place."""

    original: str
    replacement: str | None = None  # None: send the original, untouched
    copy: exp.Copy | None = None  # a COPY from S3, for the COPY emulation


def split(sql: str) -> list[str]:
    """The statements of ``sql`` at top-level semicolons, found by sqlglot's tokenizer."""
    try:
        tokens = Tokenizer(dialect="postgres").tokenize(sql)
    except sqlglot.errors.TokenError:
        return [sql]
    pieces, start = [], 0
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            pieces.append(sql[start : token.end + 1])
            start = token.end + 1
    if sql[start:].strip():
        pieces.append(sql[start:])
    return pieces or [sql]


def needs_a_look(sql: str) -> bool:
    lowered = sql.lower()
    return any(word in lowered for word in _CANDIDATE_WORDS)


def translate(sql: str) -> list[Piece]:
    """``sql`` as pieces; a message with no Redshift-only statement is one untouched piece."""
    if not needs_a_look(sql):
        return [Piece(sql)]
    return [_translate_one(statement) for statement in split(sql)]


def _translate_one(statement: str) -> Piece:
    if not needs_a_look(statement):
        return Piece(statement)
    body = statement.rstrip().rstrip(";")
    try:
        tokens = Tokenizer(dialect="redshift").tokenize(body)
    except sqlglot.errors.TokenError:
        return Piece(statement)
    words = [t.text.upper() for t in tokens]
    if words[:1] == ["VACUUM"]:
        # the tokenizer keeps the rest of a command as one token: split that too
        rest = Tokenizer(dialect="redshift").tokenize(" ".join(t.text for t in tokens[1:]))
        return Piece(statement, replacement=_vacuum(rest))
    if words[:2] == ["ANALYZE", "COMPRESSION"]:
        return Piece(statement, replacement=_analyze_compression())
    try:
        tree = sqlglot.parse_one(body, read=RedshiftEmulated, error_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.SqlglotError:
        return Piece(statement)  # PostgreSQL will say what is wrong with it
    if isinstance(tree, exp.Copy):
        files = tree.args.get("files") or []
        if files and isinstance(files[0], exp.Literal) and files[0].name.lower().startswith("s3://"):
            return Piece(statement, copy=tree)
        return Piece(statement)
    if isinstance(tree, exp.Create):
        return _create(statement, tree)
    if isinstance(tree, exp.Alter) and any(isinstance(a, exp.AlterDistStyle | exp.AlterSortKey) for a in tree.actions):
        # distribution and sort order have no PostgreSQL counterpart: the statement changes nothing
        return Piece(statement, replacement="do $emulator$ begin end $emulator$")
    return Piece(statement)


def _create(statement: str, tree: exp.Create) -> Piece:
    found = list(tree.find_all(*_REDSHIFT_ONLY))
    # VARCHAR(MAX) is Redshift's VARCHAR(65535)
    unbounded = [
        node
        for node in tree.find_all(exp.DataTypeParam)
        if isinstance(node.this, exp.Var) and node.this.name.upper() == "MAX"
    ]
    # Redshift's IDENTITY(seed, step) is written as PostgreSQL's identity; a seed of 0 or below needs
    # that as the sequence's minimum too
    identities = list(tree.find_all(exp.GeneratedAsIdentityColumnConstraint))
    low_seeds = [
        node
        for node in identities
        if isinstance(node.args.get("start"), exp.Expression)
        and node.args["start"].is_number
        and node.args["start"].to_py() < 1
        and node.args.get("minvalue") is None
    ]
    if not found and not unbounded and not identities:
        return Piece(statement)
    for node in low_seeds:
        node.set("minvalue", node.args["start"].copy())
    for node in found:
        # a column constraint is popped whole: an empty one would not write as SQL
        (node.parent if isinstance(node.parent, exp.ColumnConstraint) else node).pop()
    for node in unbounded:
        node.replace(exp.DataTypeParam(this=exp.Literal.number(65535)))
    properties = tree.args.get("properties")
    if properties is not None and not properties.expressions:
        properties.pop()
    return Piece(statement, replacement=tree.sql(dialect="postgres"))


def _vacuum(tokens: list) -> str:
    """VACUUM [FULL | SORT ONLY | DELETE ONLY | REINDEX | RECLUSTER] [table [TO n PERCENT]] [BOOST]."""
    modes = {"FULL", "SORT", "ONLY", "DELETE", "REINDEX", "RECLUSTER", "BOOST"}
    index = 0
    while index < len(tokens) and tokens[index].text.upper() in modes:
        index += 1
    name: list[str] = []
    while index < len(tokens) and tokens[index].text.upper() != "TO":
        name.append(tokens[index].text)
        index += 1
        if index < len(tokens) and tokens[index].token_type == TokenType.DOT:
            name.append(".")
            index += 1
        else:
            break
    if not name:
        return "VACUUM"
    return f"VACUUM {exp.to_table(''.join(name)).sql(dialect='postgres')}"


def _analyze_compression() -> str:
    # Redshift answers with one row per column and a suggested encoding; PostgreSQL has none
    columns = {"Table": "varchar", "Column": "varchar", "Encoding": "varchar", "Est_reduction_pct": "numeric"}
    select = exp.select(*(exp.cast(exp.null(), to).as_(name, quoted=True) for name, to in columns.items()))
    return select.where(exp.false()).sql(dialect="postgres")
