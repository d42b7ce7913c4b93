"""Credentials never survive redaction, even in a message that was cut in the middle of a secret."""

from __future__ import annotations

import pytest

from sparkify.staging.redshift_copy import Credentials, copy_statement, redact

ACCESS_KEY = "AKIAPLANTEDKEY4821"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzPLANTED"
TOKEN = "FwoGZXIvYXdzEJr//////////wEaDPLANTEDTOKEN0123456789"
KEYS = Credentials(access_key=ACCESS_KEY, secret_key=SECRET_KEY, session_token=TOKEN)
ROLE = Credentials(iam_role="arn:aws:iam::123456789012:role/planted-role-7731")


def statement(credentials: Credentials) -> str:
    return copy_statement(
        table="staging_events",
        columns=["artist", "ts"],
        s3_uri="s3://bucket/log_data/2018/11/2018-11-01-events.json",
        credentials=credentials,
        json_format="s3://bucket/log_json_path.json",
        region="us-west-2",
    )


def pieces(secret: str, length: int) -> set[str]:
    return {secret[i : i + length] for i in range(len(secret) - length + 1)}


def leaked(text: str, secrets: list[str], length: int) -> list[str]:
    return sorted(p for s in secrets for p in pieces(s, length) if p in text)


@pytest.mark.parametrize("credentials", [KEYS, ROLE], ids=["keys", "iam_role"])
def test_a_statement_cut_anywhere_keeps_no_piece_of_a_secret(credentials) -> None:
    text = statement(credentials)
    secrets = [*credentials.secrets, *([credentials.iam_role] if credentials.iam_role else [])]
    for cut in range(len(text) + 1):
        # cut at its end (the usual way error context shortens a statement): the keyword alone suffices
        assert leaked(redact(text[:cut]), secrets, 5) == [], text[:cut]
    for cut in range(len(text) + 1):
        # cut at its start, so that the text opens mid-secret: the known secrets are needed
        assert leaked(redact(text[cut:], credentials.secrets), credentials.secrets, 6) == [], text[cut:]


def test_the_truncated_secret_of_the_issue_is_masked() -> None:
    # issue 10: a context line ending 15 characters into a 17-character secret kept those 15
    secret = "abcdefghijklmnopq"
    text = f"CONTEXT:  COPY stage_unit, line 1: access_key_id 'AKIA' secret_access_key '{secret[:15]}"
    assert secret[:4] not in redact(text)
    assert redact(text).endswith("secret_access_key '***'")


def test_credentials_strings_and_key_value_forms_are_masked() -> None:
    text = f"credentials 'aws_access_key_id={ACCESS_KEY};aws_secret_access_key={SECRET_KEY}'"
    assert redact(text) == "credentials '***'"
    text = f"aws_access_key_id={ACCESS_KEY};aws_secret_access_key={SECRET_KEY}"
    assert leaked(redact(text), [ACCESS_KEY, SECRET_KEY], 4) == []


def test_text_without_credentials_is_unchanged() -> None:
    text = "copy t (a) from 's3://b/k' format as json 'auto' region 'us-west-2' maxerror 0"
    assert redact(text) == text
