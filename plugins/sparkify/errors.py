"""Which failures a retry can fix, and which it cannot.

Airflow retries a failed task (3 times, 5 minutes apart, in this DAG) unless it raises
``AirflowFailException``. A retry helps only when the fault is outside the data and the configuration:
a lost connection, a throttled or briefly unavailable service, a lock conflict. A missing folder, an
``s3://`` URI without bucket, a bucket or key that does not exist, a JSONPaths file that does not fit,
a value that is not an integer: each fails the same way on every try, and 15 minutes of retries only
delay the message. So:

* :func:`classify` tells the two kinds apart: ``FAIL`` (configuration or data: fail now) or ``RETRY``;
* :class:`FailNow` is an ``AirflowFailException`` that names the object it concerns; :class:`SourceNotFound`
  and :class:`SourceConfigError` are its kinds for sources (also a ``FileNotFoundError`` and a
  ``ValueError``, so existing ``except`` clauses still catch them); :class:`Retryable` carries the object
  name on a fault that a retry may fix;
* :func:`about` turns any exception into one of those, naming the object; :func:`fail_fast` is the
  context manager every operator's ``execute`` runs in (``operators/base.py``), so that only retryable
  faults are retried: the one place where a task's failure is sorted;
* a module that is not installed (``ImportError``) is an installation fault: it fails now, and
  :func:`explain` says which package to install.

Unknown exceptions are retried: that is Airflow's default, and the safe side for a fault not yet seen.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

from airflow.sdk.exceptions import AirflowFailException

if TYPE_CHECKING:
    from collections.abc import Iterator


class ConfigurationError(ValueError):
    """A task is set up wrong (a missing table, an unreadable JSONPaths file, a bad argument): a retry
    cannot fix it, so it fails at once."""


FAIL: Literal["fail"] = "fail"
RETRY: Literal["retry"] = "retry"
Verdict = Literal["fail", "retry"]

# S3 error codes (botocore ClientError): what does not exist or is refused stays so; throttling passes
_S3_FAIL_CODES = frozenset(
    {
        "NoSuchBucket",
        "NoSuchKey",
        "NotFound",
        "404",
        "AccessDenied",
        "403",
        "AllAccessDisabled",
        "InvalidBucketName",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AuthorizationHeaderMalformed",
        "PermanentRedirect",
        "301",
        "InvalidObjectState",
        "InvalidArgument",
        "InvalidRequest",
    }
)
_S3_RETRY_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestTimeout",
        "InternalError",
        "ServiceUnavailable",
        "500",
        "502",
        "503",
        "504",
    }
)
# botocore's own exceptions, by class name (no import needed where botocore is absent)
_BOTO_FAIL = frozenset({"ParamValidationError", "NoCredentialsError", "NoRegionError", "InvalidS3AddressingStyleError"})
_BOTO_RETRY = frozenset(
    {"EndpointConnectionError", "ConnectionClosedError", "ConnectTimeoutError", "ReadTimeoutError", "HTTPClientError"}
)
# SQLSTATE classes and codes (PostgreSQL and Redshift): a retry can fix these ...
_SQL_RETRY_CLASSES = ("08", "53", "40")  # connection exception, insufficient resources, transaction rollback
_SQL_RETRY_CODES = frozenset({"57P01", "57P02", "57P03", "57014", "55P03"})  # shutdowns, cancel, lock timeout
# ... and these it cannot: data exception, integrity, syntax/undefined object/privilege, authorization,
# unknown database, and Redshift's load error (XX000: "Load into table ... failed", bad JSONPaths)
_SQL_FAIL_CLASSES = ("22", "23", "42", "28", "3D", "XX")
# DB-API exception names shared by psycopg 3 and psycopg2, for errors that carry no SQLSTATE
_DBAPI_RETRY = frozenset({"OperationalError", "InterfaceError"})
_DBAPI_FAIL = frozenset({"DataError", "IntegrityError", "ProgrammingError", "NotSupportedError"})


class FailNow(AirflowFailException):
    """A configuration or data error: fails the task without retries. ``object_uri`` names what it concerns."""

    def __init__(self, message: str, *, object_uri: str | None = None) -> None:
        super().__init__(message)
        self.object_uri = object_uri


class SourceNotFound(FailNow, FileNotFoundError):
    """A source folder, bucket or object that does not exist."""


class SourceConfigError(FailNow, ValueError):
    """A source that is not configured, or configured in a form that names nothing (``s3://``)."""


class Retryable(RuntimeError):
    """A fault a retry may fix (connection lost, throttled), naming the object it concerns."""

    def __init__(self, message: str, *, object_uri: str | None = None) -> None:
        super().__init__(message)
        self.object_uri = object_uri


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _s3_code(exc: BaseException) -> tuple[str, int] | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict) or "Error" not in response:
        return None
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return code, status


def _sqlstate(exc: BaseException) -> str | None:
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return str(state) if state else None


def classify(exc: BaseException) -> Verdict:  # noqa: C901 - one rule per kind of fault reads best
    """``FAIL`` when retrying cannot help (configuration or data), ``RETRY`` otherwise.

    Looks at the exception itself, then at what it was raised from (``__cause__``) when it is only a
    wrapper such as ``RuntimeError``.
    """
    if isinstance(exc, AirflowFailException):
        return FAIL
    if isinstance(exc, Retryable):
        return RETRY
    names = _names(exc)
    s3 = _s3_code(exc)
    if s3 is not None:
        code, status = s3
        if code in _S3_FAIL_CODES:
            return FAIL
        if code in _S3_RETRY_CODES or status >= 500 or status == 429:
            return RETRY
        return FAIL if 400 <= status < 500 else RETRY
    if names & _BOTO_FAIL:
        return FAIL
    if names & _BOTO_RETRY:
        return RETRY
    state = _sqlstate(exc)
    if state:
        if state in _SQL_RETRY_CODES or state.startswith(_SQL_RETRY_CLASSES):
            return RETRY
        if state.startswith(_SQL_FAIL_CLASSES):
            return FAIL
    if names & _DBAPI_RETRY:
        return RETRY
    if names & _DBAPI_FAIL:
        return FAIL
    if isinstance(exc, ImportError):
        return FAIL  # the same module is missing on every try: the install is incomplete
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return RETRY
    if isinstance(exc, (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)):
        return FAIL
    if isinstance(exc, (ValueError, TypeError, LookupError, json.JSONDecodeError)):
        return FAIL  # UnicodeDecodeError and the staging data errors are ValueErrors
    if exc.__cause__ is not None and exc.__cause__ is not exc:
        return classify(exc.__cause__)
    return RETRY


def about(
    exc: BaseException, object_uri: str | None, what: str = "", *, detail: str | None = None
) -> FailNow | Retryable:
    """``exc`` as :class:`FailNow` (a :class:`SourceNotFound` for what does not exist) or :class:`Retryable`,
    with a message naming the object: ``"<object>: <what>: <detail>"``. ``detail`` replaces the exception's
    own text, e.g. by a redacted one, since the original is not chained where it may hold secrets."""
    if isinstance(exc, (FailNow, Retryable)) and (exc.object_uri or not object_uri):
        return exc
    text = str(exc) if detail is None else detail
    message = ": ".join(part for part in (object_uri, what, text) if part)
    if classify(exc) == RETRY:
        return Retryable(message, object_uri=object_uri)
    s3 = _s3_code(exc)
    missing = (s3 is not None and s3[0] in ("NoSuchBucket", "NoSuchKey", "NotFound", "404")) or isinstance(
        exc, FileNotFoundError
    )
    return (SourceNotFound if missing else FailNow)(message, object_uri=object_uri)


# import names that differ from the distribution that provides them (pip install <distribution>)
_DISTRIBUTION_OF_MODULE = {"yaml": "PyYAML", "jinja2": "Jinja2", "psycopg": "psycopg[binary]"}


def explain(exc: BaseException) -> str:
    """The exception's text, and for a module that is not installed, which package to install and how."""
    if isinstance(exc, ImportError) and exc.name:
        module = exc.name.split(".")[0]
        package = _DISTRIBUTION_OF_MODULE.get(module, module)
        return (
            f"{exc}: the package {package!r} is not installed. Install the project's runtime requirements "
            "(pip install -r requirements.txt, or rebuild the Docker image); they pin every package that "
            "plugins/ and dags/ import"
        )
    return str(exc)


@contextmanager
def fail_fast(what: str = "") -> Iterator[None]:
    """Run a block so that configuration, data and installation errors fail the task at once
    (:class:`FailNow`, no retries), and only faults a retry may fix are retried. An exception already of
    the right kind passes unchanged."""
    try:
        yield
    except (AirflowFailException, Retryable):
        raise
    except Exception as error:
        if classify(error) == FAIL:
            raise FailNow(f"{what}: {explain(error)}" if what else explain(error)) from error
        raise
