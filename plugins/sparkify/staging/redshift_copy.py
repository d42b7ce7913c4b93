"""The text of Redshift's server-side ``COPY ... FORMAT AS JSON``, built from its parts.

Kept free of I/O so that tests can compare the exact statement and parse it with sqlglot's Redshift
dialect. The credentials clause is the only secret in a statement: ``redact()`` replaces it for logs
and error messages.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

# What a production load wants: fail on the first bad record unless told otherwise, leave compression
# and statistics to the table's own maintenance, and treat '' and blanks as NULL as the local load does.
DEFAULT_COPY_OPTIONS: tuple[str, ...] = (
    "timeformat 'epochmillisecs'",
    "truncatecolumns",
    "blanksasnull",
    "emptyasnull",
    "compupdate off",
    "statupdate off",
    "maxerror 0",
)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


@dataclass(frozen=True)
class Credentials:
    """How Redshift reads S3: an IAM role (preferred), or access keys with an optional session token."""

    iam_role: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    session_token: str | None = None

    def clause(self) -> str:
        if self.iam_role:
            return f"iam_role {_quote(self.iam_role)}"
        if self.access_key and self.secret_key:
            clause = f"access_key_id {_quote(self.access_key)} secret_access_key {_quote(self.secret_key)}"
            if self.session_token:
                clause += f" session_token {_quote(self.session_token)}"
            return clause
        raise ValueError(
            "no credentials for Redshift's COPY: set the extra iam_role on the warehouse connection (or the"
            " operator's iam_role), or give the AWS connection access keys"
        )

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.secret_key, self.session_token, self.access_key) if s]


def copy_statement(
    *,
    table: str,
    columns: Sequence[str],
    s3_uri: str,
    credentials: Credentials,
    json_format: str,
    region: str | None = None,
    manifest: bool = False,
    options: Sequence[str] = DEFAULT_COPY_OPTIONS,
) -> str:
    """``COPY table (columns) FROM 's3://…' … FORMAT AS JSON '…'`` with one clause per line."""
    lines = [
        f"copy {table} ({', '.join(columns)})",
        f"from {_quote(s3_uri)}",
        credentials.clause(),
        f"format as json {_quote(json_format)}",
    ]
    if manifest:
        lines.append("manifest")
    if region:
        lines.append(f"region {_quote(region)}")
    lines.extend(options)
    return "\n".join(lines)


def manifest_document(s3_uris: Sequence[str]) -> str:
    """A COPY manifest naming exactly these objects; ``mandatory`` makes a missing one an error."""
    return json.dumps({"entries": [{"url": uri, "mandatory": True} for uri in s3_uris]}, indent=1)


# A credential keyword and whatever follows it: a quoted value up to its closing quote or, when the text
# was cut mid-value (PostgreSQL's error context cuts long statements), up to the end of the text; or an
# unquoted ``key=value`` (the form inside a CREDENTIALS string). Over-masking a cut message is the safe side.
_CREDENTIAL_CLAUSE = re.compile(
    r"\b(?P<keyword>(?:aws_)?(?:iam_role|access_key_id|secret_access_key|session_token|token|credentials))\b"
    r"(?:(?P<space>\s*)'(?:[^']|'')*(?:'|\Z)|(?P<equals>\s*=\s*)[^\s';]+)",
    re.IGNORECASE,
)


def _masked_clause(match: re.Match) -> str:
    if match.group("equals") is not None:
        return f"{match.group('keyword')}{match.group('equals')}***"
    return f"{match.group('keyword')}{match.group('space') or ' '}'***'"


# the shortest piece of a known secret that redact() still recognises on its own, at a cut
_MIN_SECRET_PIECE = 6


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` with every credential value replaced by ``'***'``, even when the text was cut mid-secret.

    Every credential clause is masked whatever follows its keyword; each known secret is masked whole,
    and so is any beginning or end of it of at least six characters, wherever it appears: that is what
    remains of a secret where a message was cut.
    """
    text = _CREDENTIAL_CLAUSE.sub(_masked_clause, text)
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
        for length in range(len(secret) - 1, _MIN_SECRET_PIECE - 1, -1):
            text = text.replace(secret[:length], "***").replace(secret[-length:], "***")
    return text
