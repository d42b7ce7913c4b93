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
            "no credentials for Redshift's COPY: set role_arn in the AWS connection's extra, or give it keys"
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


_CREDENTIAL_CLAUSE = re.compile(
    r"(iam_role|access_key_id|secret_access_key|session_token|credentials)\s+'(?:[^']|'')*'",
    re.IGNORECASE,
)


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` with every credential value replaced by ``'***'``."""
    text = _CREDENTIAL_CLAUSE.sub(lambda m: f"{m.group(1)} '***'", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
