"""Which statements PostgreSQL cannot run as Redshift wrote them, and what it runs instead.

Every statement is parsed with sqlglot's Redshift dialect and checked (:func:`redshift_error`): what
Redshift would refuse (PostgreSQL-only syntax such as ``ON CONFLICT``, ``string_agg`` or an aggregate's
``FILTER``, a leader-node-only function joined to a table, DISTKEY / SORTKEY naming a missing column,
server-side parameters in a statement Redshift cannot PREPARE) comes back as a :class:`Piece` with an
``error``, which the proxy raises in the statement's place. A statement that needs no translation
reaches PostgreSQL byte for byte (so ``$1`` placeholders, comments and spacing survive); one sqlglot
cannot parse passes untouched too, for PostgreSQL to judge.

Translation works on sqlglot's trees, never on the SQL text: Redshift's table attributes (DISTKEY,
SORTKEY, DISTSTYLE, INTERLEAVED SORTKEY, ENCODE, BACKUP) are popped from the ``Create`` tree, and so
are primary, unique and foreign keys (informational on Redshift, never enforced; a primary key's
columns stay NOT NULL), and the rest is written as PostgreSQL; ``VACUUM`` keeps only its table;
``ANALYZE COMPRESSION`` answers with Redshift's columns and no rows; ``COPY ... FROM 's3://...'`` is
handed to :mod:`copy_from_s3` as its parsed ``exp.Copy``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar

import sqlglot
from sqlglot import exp
from sqlglot.dialects.redshift import Redshift
from sqlglot.tokens import Tokenizer, TokenType


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
    error: RedshiftError | None = None  # what Redshift answers instead of running the statement


@dataclass(frozen=True)
class RedshiftError:
    """An error Redshift raises for a statement it refuses, and how many ``$n`` parameters it had."""

    message: str
    sqlstate: str = "42601"
    parameters: int = 0


@functools.lru_cache(maxsize=4096)
def split(sql: str) -> tuple[str, ...]:
    """The statements of ``sql`` at top-level semicolons, found by sqlglot's tokenizer."""
    try:
        tokens = Tokenizer(dialect="postgres").tokenize(sql)
    except sqlglot.errors.TokenError:
        return (sql,)
    pieces, start = [], 0
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            pieces.append(sql[start : token.end + 1])
            start = token.end + 1
    if sql[start:].strip():
        pieces.append(sql[start:])
    return tuple(pieces) or (sql,)


def translate(sql: str) -> list[Piece]:
    """``sql`` as pieces, one per statement, each checked against Redshift's rules."""
    pieces = [_translate_one(statement) for statement in split(sql)]
    if len(pieces) > 1 and not any(p.replacement is not None or p.copy is not None or p.error for p in pieces):
        return [Piece(sql)]  # nothing to change: the message goes on whole
    return pieces


# A client sends the same statements again and again (the DDL and the models of every run), and parsing
# one costs milliseconds of Python: the verdict on a text is the same every time, so it is kept. Pieces
# are frozen and nothing downstream changes a COPY's tree.
@functools.lru_cache(maxsize=4096)
def _translate_one(statement: str) -> Piece:
    body = statement.rstrip().rstrip(";")
    if not body.strip():
        return Piece(statement)
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
    if tree is None:
        return Piece(statement)
    error = redshift_error(tree, tokens)
    if error is not None:
        return Piece(statement, error=error)
    return _translate_tree(statement, tree)


def _translate_tree(statement: str, tree: exp.Expression) -> Piece:
    if isinstance(tree, exp.Copy):
        files = tree.args.get("files") or []
        if files and isinstance(files[0], exp.Literal) and files[0].name.lower().startswith("s3://"):
            return Piece(statement, copy=tree)
        return Piece(statement)
    if isinstance(tree, exp.Create):
        return _create(statement, tree)
    if isinstance(tree, exp.Alter) and any(
        isinstance(a, exp.AlterDistStyle | exp.AlterSortKey) or a.find(*_INFORMATIONAL_KEYS) is not None
        for a in tree.actions
    ):
        # distribution and sort order have no PostgreSQL counterpart, keys are not enforced: it changes nothing
        return Piece(statement, replacement="do $emulator$ begin end $emulator$")
    return Piece(statement)


# Redshift keeps these constraints in its catalog for the planner but never enforces them
_INFORMATIONAL_KEYS = (exp.PrimaryKey, exp.PrimaryKeyColumnConstraint, exp.UniqueColumnConstraint, exp.ForeignKey)
# the statements Redshift can PREPARE, hence the only ones that may carry server-side parameters ($1)
_PREPARABLE = (exp.Select, exp.SetOperation, exp.Insert, exp.Update, exp.Delete)
# leader-node-only functions: they run on the leader alone and fail when a query also reads a table
_LEADER_ONLY = (exp.GenerateSeries, exp.ExplodingGenerateSeries)


def redshift_error(tree: exp.Expression, tokens: list) -> RedshiftError | None:
    """What Redshift answers to a statement it refuses, or None when it would run it.

    The messages follow Redshift's wording where it is known (see the emulator's README)."""
    numbers = {int(p.name) for p in tree.find_all(exp.Parameter) if p.name.isdigit()}
    parameters = max(numbers, default=0)

    def refuse(message: str, sqlstate: str = "42601") -> RedshiftError:
        return RedshiftError(message, sqlstate, parameters)

    if tree.find(exp.OnConflict) is not None:
        return refuse('syntax error at or near "ON"')  # Redshift has no INSERT ... ON CONFLICT
    for index, token in enumerate(tokens[:-1]):
        if token.text.upper() == "STRING_AGG" and tokens[index + 1].token_type == TokenType.L_PAREN:
            return refuse("function string_agg does not exist", "42883")
    if tree.find(exp.Filter) is not None:
        return refuse('syntax error at or near "FILTER"')
    if tree.find(*_LEADER_ONLY) is not None and _reads_a_table(tree):
        return refuse("Specified types or functions (one per INFO message) not supported on Redshift tables.", "0A000")
    if isinstance(tree, exp.Create):
        missing = _missing_key_column(tree)
        if missing is not None:
            return refuse(f'column "{missing[1]}" named in {missing[0]} does not exist', "42703")
    if parameters and not isinstance(tree, _PREPARABLE):
        kind = tree.key.upper() if not isinstance(tree, exp.Command) else str(tree.this).upper()
        return refuse(
            f"{kind} cannot be prepared: Redshift prepares only SELECT, INSERT, UPDATE and DELETE, so only they"
            " take server-side parameters ($1)",
            "0A000",
        )
    return None


def _reads_a_table(tree: exp.Expression) -> bool:
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    return any(isinstance(t.this, exp.Identifier) and t.name not in ctes for t in tree.find_all(exp.Table))


def _missing_key_column(tree: exp.Create) -> tuple[str, str] | None:
    """``(DISTKEY or SORTKEY, column)`` for a key that names a column the table does not have."""
    schema = tree.this
    if not isinstance(schema, exp.Schema):
        return None  # CREATE TABLE ... AS: the columns come from the query
    columns = {c.name.lower() for c in schema.expressions if isinstance(c, exp.ColumnDef)}
    for node in tree.find_all(exp.DistKeyProperty, exp.SortKeyProperty):
        named = node.this if isinstance(node.this, list) else [node.this]
        for column in named:
            if isinstance(column, exp.Var) and column.name == "column":
                continue  # a column-level DISTKEY / SORTKEY: on its own column
            if isinstance(column, exp.Expression) and column.name.lower() not in columns:
                return ("DISTKEY" if isinstance(node, exp.DistKeyProperty) else "SORTKEY", column.name)
    return None


def _informational_keys(tree: exp.Create) -> list[exp.Expression]:
    """The key constraints to drop; a primary key's columns are made NOT NULL, as Redshift makes them."""
    found: list[exp.Expression] = []
    schema = tree.this
    if not isinstance(schema, exp.Schema):
        return found
    by_name = {c.name.lower(): c for c in schema.expressions if isinstance(c, exp.ColumnDef)}
    for node in list(tree.find_all(*_INFORMATIONAL_KEYS)):
        if isinstance(node, exp.PrimaryKey):
            key_columns = [by_name.get(e.name.lower()) for e in node.expressions]
        elif isinstance(node, exp.PrimaryKeyColumnConstraint):
            key_columns = [node.find_ancestor(exp.ColumnDef)]
        else:
            key_columns = []
        for column in key_columns:
            if column is not None and not _not_null(column):
                column.append("constraints", exp.ColumnConstraint(kind=exp.NotNullColumnConstraint()))
        holder = node.parent if isinstance(node.parent, exp.ColumnConstraint | exp.Constraint) else node
        found.append(holder)
    return found


def _not_null(column: exp.ColumnDef) -> bool:
    kinds = [c.args.get("kind") for c in column.args.get("constraints") or []]
    return any(isinstance(k, exp.NotNullColumnConstraint) and not k.args.get("allow_null") for k in kinds)


def _create(statement: str, tree: exp.Create) -> Piece:
    found = list(tree.find_all(*_REDSHIFT_ONLY))
    keys = _informational_keys(tree)
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
    if not found and not unbounded and not identities and not keys:
        return Piece(statement)
    for node in keys:
        node.pop()
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
