"""Redshift's ``COPY table FROM 's3://...'``, run against the S3 emulator.

The statement arrives parsed (sqlglot's ``exp.Copy``): :func:`copy_spec` reads the table, columns,
source, credentials and options from the tree. :func:`run_copy` then lists or reads the named objects
through the S3 API (a prefix loads every object whose key starts with it, as Redshift's does:
``…/2018-11-05-events.json`` also loads ``…/2018-11-05-events.json.late``; a MANIFEST names them, a
``mandatory`` entry that is missing fails the load), decompresses them under GZIP or BZIP2, applies
:mod:`json_rules` to every record, and writes the good rows as CSV for PostgreSQL's own server-side
``COPY ... FROM '/file'``.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from sqlglot import exp

from .aws_checks import check_region, client
from .json_rules import Column, CopyError, LoadError, Options, convert_row, extract, jsonpaths_from_document, records

if TYPE_CHECKING:
    import io
    from collections.abc import Iterator
    from pathlib import Path

# Options that take a value, and options that are a single word (the value-less ones).
_VALUED = {
    "REGION",
    "TIMEFORMAT",
    "DATEFORMAT",
    "MAXERROR",
    "COMPUPDATE",
    "STATUPDATE",
    "ACCESS_KEY_ID",
    "SECRET_ACCESS_KEY",
    "SESSION_TOKEN",
    "ACCEPTINVCHARS",
    "ENCODING",
}
_FLAGS = {
    "MANIFEST",
    "TRUNCATECOLUMNS",
    "BLANKSASNULL",
    "EMPTYASNULL",
    "GZIP",
    "BZIP2",
    "ROUNDEC",
    "FILLRECORD",
    "TRIMBLANKS",
    "IGNOREBLANKLINES",
    "NOLOAD",
    "EXPLICIT_IDS",
    "ACCEPTANYDATE",
}
_OPTIONAL_VALUE = {"COMPUPDATE", "STATUPDATE", "ACCEPTINVCHARS"}
_FORMATS = {"CSV", "AVRO", "PARQUET", "ORC", "FIXEDWIDTH", "DELIMITER", "SHAPEFILE"}
_OTHER_KEYWORDS = {"FORMAT", "JSON", "IAM_ROLE", *_FORMATS}


@dataclass
class CopySpec:
    """What one COPY asks for, read from its parsed statement."""

    table: exp.Table
    columns: list[str] | None
    source: str
    json_format: str | None = None
    manifest: bool = False
    region: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    session_token: str | None = None
    iam_role: str | None = None
    maxerror: int = 0
    compression: str | None = None
    noload: bool = False
    options: dict[str, str | bool] = field(default_factory=dict)

    @property
    def table_name(self) -> str:
        return self.table.name


def _words(node: exp.Expression | None) -> list[tuple[str, bool]]:
    """The words of an option node as ``(text, was_a_string_literal)`` pairs."""
    if node is None:
        return []
    if isinstance(node, exp.Literal):
        return [(node.this, node.is_string)]
    if isinstance(node, exp.Var | exp.Identifier):
        # sqlglot joins some keyword runs into one word ("FORMAT AS JSON"); a value such as
        # auto ignorecase stays whole
        parts = node.name.split()
        if len(parts) > 1 and all(_is_keyword(p) or p.upper() == "AS" for p in parts):
            return [(part, False) for part in parts]
        return [(node.name, False)]
    return [(node.sql(dialect="redshift"), False)]


def copy_spec(tree: exp.Copy) -> CopySpec:
    """The COPY's parts. sqlglot keeps Redshift's options as a flat run of words in ``params``."""
    target = tree.this
    columns = None
    if isinstance(target, exp.Schema):
        columns = [c.name for c in target.expressions]
        target = target.this
    files = tree.args["files"]
    spec = CopySpec(table=target, columns=columns, source=files[0].name)
    credentials = tree.args.get("credentials")
    if credentials is not None:
        role = credentials.args.get("iam_role")
        if role is not None:
            spec.iam_role = role.name
        text = credentials.args.get("credentials")
        if text is not None:
            _credentials_string(spec, text.name)
    words: list[tuple[str, bool]] = []
    for param in tree.args.get("params") or []:
        words += _words(param.this)
        words += _words(param.args.get("expression"))
        for item in param.args.get("expressions") or []:
            words += _words(item)
    _read_options(spec, words)
    return spec


def _credentials_string(spec: CopySpec, text: str) -> None:
    """``CREDENTIALS 'aws_access_key_id=...;aws_secret_access_key=...[;token=...]'`` or a role."""
    parts = dict(item.split("=", 1) for item in text.split(";") if "=" in item)
    spec.access_key = parts.get("aws_access_key_id", spec.access_key)
    spec.secret_key = parts.get("aws_secret_access_key", spec.secret_key)
    spec.session_token = parts.get("token", spec.session_token)
    spec.iam_role = parts.get("aws_iam_role", spec.iam_role)


_SETTERS = {
    "REGION": "region",
    "ACCESS_KEY_ID": "access_key",
    "SECRET_ACCESS_KEY": "secret_key",
    "SESSION_TOKEN": "session_token",
    "IAM_ROLE": "iam_role",
}


def _read_options(spec: CopySpec, words: list[tuple[str, bool]]) -> None:
    index = 0
    seen: set[str] = set()
    while index < len(words):
        word = words[index][0]
        key = word.upper()
        index += 1
        _once(seen, key)
        if key == "FORMAT":
            if index < len(words) and words[index][0].upper() == "AS":
                index += 1
        elif key == "JSON":
            value, index = _value(words, index, optional=True)
            spec.json_format = value or "auto"
        elif key in _FORMATS:
            raise CopyError(f"the emulator loads JSON only; COPY asked for {key}")
        elif key in _FLAGS:
            _flag(spec, key)
        elif key in _VALUED or key == "IAM_ROLE":
            value, index = _value(words, index, optional=key in _OPTIONAL_VALUE)
            spec.options[key] = value if value is not None else True
            if key in _SETTERS:
                setattr(spec, _SETTERS[key], value)
            elif key == "MAXERROR":
                spec.maxerror = int(value)
        else:
            raise CopyError(f"the emulator does not know the COPY option {word!r}")


def _once(seen: set[str], key: str) -> None:
    """Redshift refuses an option given twice (MAXERROR 0 ... MAXERROR 5), as PostgreSQL does."""
    if key in seen and key != "FORMAT":  # FORMAT AS JSON: FORMAT and JSON are one option
        raise CopyError(f"conflicting or redundant options: {key} is given more than once")
    seen.add(key)


def _flag(spec: CopySpec, key: str) -> None:
    spec.options[key] = True
    if key == "MANIFEST":
        spec.manifest = True
    elif key in ("GZIP", "BZIP2"):
        spec.compression = key
    elif key == "NOLOAD":
        spec.noload = True


def _is_keyword(word: str) -> bool:
    return word.upper() in _FLAGS | _VALUED | _OTHER_KEYWORDS


def _value(words: list[tuple[str, bool]], index: int, optional: bool = False) -> tuple[str | None, int]:
    """The value after an option (past an optional AS); a keyword there means the value was left out."""
    if index < len(words) and not words[index][1] and words[index][0].upper() == "AS":
        index += 1
    if index < len(words):
        word, quoted = words[index]
        if quoted or not _is_keyword(word):
            return word, index + 1
    if optional:
        return None, index
    raise CopyError("a COPY option lacks its value")


@dataclass
class RejectedRecord:
    """A record that failed, with what ``stl_load_errors`` reports for it."""

    file: str
    line_number: int
    raw_line: str
    error: LoadError


@dataclass
class CopyResult:
    """What a COPY read and what it made of it."""

    objects: list[str]
    rows: int
    rejected: list[RejectedRecord]
    failed: bool


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


class S3Reader:
    """The emulator's S3 client for one COPY: the statement's keys if it gave any, else the harness's."""

    def __init__(
        self, endpoint: str, spec: CopySpec, default_keys: tuple[str, str], cluster_region: str | None = None
    ) -> None:
        #: the region the COPY reads from: its REGION option, else the cluster's; every bucket must be there
        self.region = spec.region or cluster_region
        self._checked: set[str] = set()
        keys = (spec.access_key or default_keys[0], spec.secret_key or default_keys[1])
        self.client = client("s3", endpoint, self.region or "us-east-1", keys, spec.session_token)

    def _check(self, bucket: str) -> None:
        if self.region and bucket not in self._checked:
            check_region(self.client, bucket, self.region)
            self._checked.add(bucket)

    def read(self, uri: str) -> bytes:
        bucket, key = _split_s3(uri)
        self._check(bucket)
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()

    def under_prefix(self, uri: str) -> list[str]:
        """Every object whose key starts with the prefix, as Redshift reads a prefix."""
        bucket, prefix = _split_s3(uri)
        self._check(bucket)
        found = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found += [f"s3://{bucket}/{item['Key']}" for item in page.get("Contents", [])]
        return found


def objects_to_load(reader: S3Reader, spec: CopySpec) -> list[tuple[str, bool]]:
    """The objects the COPY names, each with whether it must exist (a manifest's ``mandatory``)."""
    if not spec.manifest:
        found = reader.under_prefix(spec.source)
        if not found:
            raise CopyError(f"The specified S3 prefix '{spec.source}' does not exist")
        return [(uri, True) for uri in found]
    try:
        manifest = json.loads(reader.read(spec.source))
    except json.JSONDecodeError as error:
        raise CopyError(f"Manifest {spec.source} is not valid JSON: {error.msg}") from None
    entries = manifest.get("entries") if isinstance(manifest, dict) else None
    if not isinstance(entries, list):
        raise CopyError(f"Manifest {spec.source} has no 'entries' list")
    named = []
    for entry in entries:
        url = entry.get("url", "") if isinstance(entry, dict) else ""
        if not url.startswith("s3://"):
            raise CopyError(f"Manifest {spec.source}: entry {entry!r} has no s3:// url")
        named.append((url, bool(entry.get("mandatory", False))))
    return named


def fetched(reader: S3Reader, named: list[tuple[str, bool]]) -> Iterator[tuple[str, bytes]]:
    """The objects' bodies in the order named, read a few at a time in parallel, as Redshift's slices do.

    A missing optional object is skipped; a missing mandatory one fails the COPY.
    """

    def get(item: tuple[str, bool]) -> bytes | None:
        uri, mandatory = item
        try:
            return reader.read(uri)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
            if mandatory:
                raise CopyError(f"Manifest file is missing mandatory entry '{uri}'") from None
            return None

    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="redshift-emulator-s3") as pool:
        for start in range(0, len(named), 32):
            batch = named[start : start + 32]
            for (uri, _), body in zip(batch, pool.map(get, batch), strict=True):
                if body is not None:
                    yield uri, body


def _decode(spec: CopySpec, uri: str, body: bytes) -> str:
    """The object's text. With GZIP (BZIP2) every object must be gzip (bzip2): Redshift fails the COPY on one
    that is not. Without, the bytes are read as they are, so gzip bytes are rejected record by record as
    the invalid JSON they are to Redshift (never loaded decompressed)."""
    try:
        if spec.compression == "GZIP":
            body = gzip.decompress(body)
        elif spec.compression == "BZIP2":
            body = bz2.decompress(body)
    except (OSError, EOFError, ValueError) as error:
        raise CopyError(f"Failed to inflate S3 object '{uri}' with {spec.compression}: {error}") from None
    return body.decode("utf-8", errors=_invalid_utf8_handler(spec))


# Bytes that are not UTF-8 are kept as lone surrogates (U+DC80..U+DCFF) until a record is judged:
# without ACCEPTINVCHARS the record fails (error 1220), with it each such byte becomes its replacement
_INVALID_BYTE = re.compile("[\udc80-\udcff]")


def _invalid_utf8_handler(spec: CopySpec) -> str:
    accept = spec.options.get("ACCEPTINVCHARS")
    if accept is None:
        return "surrogateescape"
    replacement = accept if isinstance(accept, str) and accept else "?"
    name = f"redshift-acceptinvchars-{ord(replacement[0])}"
    try:
        codecs.lookup_error(name)
    except LookupError:
        codecs.register_error(name, lambda error: (replacement[0] * (error.end - error.start), error.end))
    return name


def invalid_utf8(raw_line: str) -> LoadError | None:
    """Redshift's error 1220 for a record holding bytes that are not UTF-8 (without ACCEPTINVCHARS)."""
    found = _INVALID_BYTE.search(raw_line)
    if found is None:
        return None
    hex_bytes = f"{ord(found.group()) - 0xDC00:02x}"
    return LoadError(
        1220,
        f"String contains invalid or unsupported UTF8 codepoints. Bad UTF8 hex sequence: {hex_bytes} (error 3)",
        raw_value=hex_bytes,
    )


def options_for(spec: CopySpec, reader: S3Reader, column_count: int) -> Options:
    json_format = spec.json_format
    if json_format is None:
        raise CopyError("the emulator loads FORMAT AS JSON only; the COPY names no format")
    jsonpaths = None
    if json_format.lower().startswith("s3://"):
        document = reader.read(json_format).decode("utf-8", errors="replace")
        jsonpaths = jsonpaths_from_document(document, column_count)
    elif json_format.lower().split() not in (["auto"], ["auto", "ignorecase"]):
        raise CopyError(f"Invalid JSON format argument {json_format!r}")
    return Options(
        json_format=json_format,
        jsonpaths=jsonpaths,
        timeformat=_text_option(spec, "TIMEFORMAT"),
        dateformat=_text_option(spec, "DATEFORMAT"),
        truncate_columns=bool(spec.options.get("TRUNCATECOLUMNS")),
        blanks_as_null=bool(spec.options.get("BLANKSASNULL")),
        empty_as_null=bool(spec.options.get("EMPTYASNULL")),
    )


def _text_option(spec: CopySpec, name: str) -> str | None:
    value = spec.options.get(name)
    return value if isinstance(value, str) else None


def run_copy(
    spec: CopySpec,
    columns: list[Column],
    table_columns: list[Column],
    endpoint: str,
    default_keys: tuple[str, str],
    csv_path: Path,
    cluster_region: str | None = None,
) -> CopyResult:
    """Load every record of the COPY's objects into ``csv_path``; the rejects say why the rest failed.

    ``columns`` are the ones the COPY loads; a column of the table left out of the list that is NOT
    NULL without a default fails every record, as Redshift's COPY does.
    """
    try:
        reader = S3Reader(endpoint, spec, default_keys, cluster_region)
        return _run_copy(spec, columns, table_columns, reader, csv_path)
    except (BotoCoreError, ClientError) as error:
        raise CopyError(f"S3ServiceException:{error}") from None


def _run_copy(
    spec: CopySpec, columns: list[Column], table_columns: list[Column], reader: S3Reader, csv_path: Path
) -> CopyResult:
    options = options_for(spec, reader, len(columns))
    named = objects_to_load(reader, spec)
    objects: list[str] = []
    listed = {c.name for c in columns}
    unfilled = [c for c in table_columns if c.name not in listed and c.not_null and not c.has_default]
    rows, rejected = 0, []
    with csv_path.open("w", newline="", encoding="utf-8") as out:
        writer = _CsvWriter(out)
        for uri, body in fetched(reader, named):
            objects.append(uri)
            text = _decode(spec, uri, body)
            for record in records(text):
                try:
                    bad_bytes = invalid_utf8(record.raw_line)
                    if bad_bytes is not None:
                        raise bad_bytes
                    if record.invalid:
                        raise LoadError(1216, record.invalid)
                    if unfilled:
                        raise LoadError(1213, "Missing data for not-null field", unfilled[0])
                    values = convert_row(extract(record.value, columns, options), columns, options)
                except LoadError as error:
                    rejected.append(RejectedRecord(uri, record.line_number, record.raw_line, error))
                    if len(rejected) > spec.maxerror:
                        return CopyResult(objects, 0, rejected, failed=True)
                    continue
                if not spec.noload:
                    writer.write(values)
                rows += 1
    return CopyResult(objects, 0 if spec.noload else rows, rejected, failed=False)


class _CsvWriter:
    """CSV that PostgreSQL reads back exactly: NULL an unquoted empty field, every value quoted."""

    def __init__(self, out: io.TextIOBase) -> None:
        self.out = out

    def write(self, values: list[str | None]) -> None:
        self.out.write(",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in values) + "\n")
