"""Where the raw JSON lives: a local folder or an ``s3://bucket/prefix``, behind one small interface.

Keys are always relative to the source root and use ``/`` (``log_data/2018/11/2018-11-01-events.json``).
Each object carries a ``version`` (the S3 ETag, or the MD5 of a local file's content) that the staging
ledger uses to tell a changed object from one already loaded. A local file's MD5 is computed only when
asked for: its ``fingerprint`` (size, mtime, inode, ctime) lets the ledger skip a file it has seen
unchanged without reading it.

Errors name the object they concern and say whether a retry can help (``sparkify.errors``): a folder,
bucket or key that does not exist, or a source URI that names nothing, fails the task at once; a lost
connection or a throttled request is retried.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlparse

from sparkify.errors import SourceConfigError, SourceNotFound, about

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import BinaryIO

#: a file changed this recently (ctime, in ns) gets no fingerprint: a write within the file system's
#: timestamp granularity of the stat could keep every field (git's "racily clean" entries)
RACY_NS = 2_000_000_000


class SourceObject:
    """One object (file) of the source: ``key``, ``version``, ``size`` and, for a local file, ``fingerprint``.

    ``version`` may be given, or computed on first use by ``digest`` (a local file's MD5), once.
    """

    __slots__ = ("_content_digest", "_digest", "_version", "fingerprint", "key", "size")

    def __init__(
        self,
        key: str,
        version: str | None = None,
        size: int = 0,
        *,
        fingerprint: str | None = None,
        digest: Callable[[], str] | None = None,
        content_digest: Callable[[bytes], str] | None = None,
    ) -> None:
        if version is None and digest is None:
            raise ValueError(f"{key}: a source object needs a version or a way to compute it")
        self.key = key
        self.size = size
        #: what identifies this state of a local file without reading it (None: not known, or too recent)
        self.fingerprint = fingerprint
        self._version = version
        self._digest = digest
        self._content_digest = content_digest

    @property
    def version(self) -> str:
        if self._version is None:
            assert self._digest is not None
            self._version = self._digest()
        return self._version

    def read_as(self, body: bytes) -> None:
        """Told the object's whole content, as it was fetched to be staged: a version computed by ``digest``
        is computed from it, with no second read (and is then the version of exactly the bytes staged)."""
        if self._version is None and self._content_digest is not None:
            self._version = self._content_digest(body)

    @property
    def hashed(self) -> bool:
        """Whether the version is known (given, or computed already)."""
        return self._version is not None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SourceObject):
            return NotImplemented
        return (self.key, self.version, self.size) == (other.key, other.version, other.size)

    def __hash__(self) -> int:
        return hash((self.key, self.size))

    def __repr__(self) -> str:
        return f"SourceObject(key={self.key!r}, version={self._version!r}, size={self.size})"


def fingerprint_of(stat: os.stat_result, now_ns: int | None = None) -> str | None:
    """``size-mtime_ns-dev-inode-ctime_ns`` of a file, or None when it changed too recently to trust
    (:data:`RACY_NS`). An edit always moves ctime (no user can set it back), so an unchanged fingerprint
    means unchanged content; a copy or a restore moves inode or ctime and costs one read, no restage."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    if stat.st_ctime_ns >= now_ns - RACY_NS or stat.st_mtime_ns >= now_ns - RACY_NS:
        return None
    return f"{stat.st_size}-{stat.st_mtime_ns}-{stat.st_dev}-{stat.st_ino}-{stat.st_ctime_ns}"


def _md5_of(body: bytes) -> str:
    return f"md5-{hashlib.md5(body, usedforsecurity=False).hexdigest()}"


class Source(Protocol):
    """What staging needs from a source."""

    uri: str

    def list(self, prefix: str, suffix: str | tuple[str, ...] = ".json") -> Iterator[SourceObject]: ...

    def stat(self, key: str) -> SourceObject | None: ...

    def read(self, key: str) -> bytes: ...

    def head(self, key: str, size: int) -> bytes: ...

    def open(self, key: str) -> BinaryIO: ...

    def locate(self, key: str) -> str: ...


class LocalSource:
    """A folder on this machine."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.uri = str(self.root)
        if not self.root.is_dir():
            raise SourceNotFound(f"source folder not found: {self.root}", object_uri=self.uri)

    def _object(self, key: str, stat: os.stat_result) -> SourceObject:
        """A file's version is the MD5 of its content, as S3's ETag is for an object uploaded in one part.

        Size and mtime (what ``rsync`` compares) miss an edit that keeps the size and sets the mtime
        back (issue 10, item 10); the content cannot. The MD5 is computed only when asked for: the
        ledger first compares the file's fingerprint (:func:`fingerprint_of`, taken before any read)
        with the one it recorded, and reads the file only when they differ (issue 23). ``md5-`` marks
        the scheme, so a ledger written with the old size-mtime versions restages each object once.
        """
        root = self.root

        def digest() -> str:
            md5 = hashlib.md5(usedforsecurity=False)
            with (root / key).open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    md5.update(chunk)
            return f"md5-{md5.hexdigest()}"

        return SourceObject(
            key=key, size=stat.st_size, fingerprint=fingerprint_of(stat), digest=digest, content_digest=_md5_of
        )

    def list(self, prefix: str, suffix: str | tuple[str, ...] = ".json") -> Iterator[SourceObject]:
        base = self.root / prefix
        if not base.is_dir():
            return
        # os.walk with sorted names: a stable order, and no list of every path held in memory at once; keys
        # are joined as strings (pathlib per file was a third of a no-op run over 30,000 song files)
        root = str(self.root)
        for folder, dirs, files in os.walk(base):
            dirs.sort()
            relative = os.path.relpath(folder, root).replace(os.sep, "/")
            folder_key = "" if relative == "." else f"{relative}/"
            for name in sorted(files):
                if name.endswith(suffix):
                    yield self._object(folder_key + name, os.stat(os.path.join(folder, name)))

    def stat(self, key: str) -> SourceObject | None:
        path = self.root / key
        return self._object(key, path.stat()) if path.is_file() else None

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def head(self, key: str, size: int) -> bytes:
        """The object's first ``size`` bytes (fewer when it is shorter): enough to tell a compression."""
        with (self.root / key).open("rb") as handle:
            return handle.read(size)

    def open(self, key: str) -> BinaryIO:
        """The object as a binary file, to stream it (``read(n)``) rather than hold it whole."""
        return (self.root / key).open("rb")

    def locate(self, key: str) -> str:
        return str(self.root / key)


class S3Source:
    """An S3 (or S3-compatible) bucket and prefix, reached through Airflow's S3 hook."""

    def __init__(self, uri: str, aws_conn_id: str | None) -> None:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        parsed = urlparse(uri)
        if not parsed.netloc:
            raise SourceConfigError(f"source {uri!r} names no bucket: an S3 source looks like s3://bucket/prefix")
        self.uri = uri.rstrip("/")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.hook = S3Hook(aws_conn_id=aws_conn_id)
        # one client shared by the fetching threads: boto3 clients are thread-safe, sessions are not
        self.client = self.hook.get_conn()

    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _relative(self, full_key: str) -> str:
        return full_key[len(self.prefix) + 1 :] if self.prefix else full_key

    def list(self, prefix: str, suffix: str | tuple[str, ...] = ".json") -> Iterator[SourceObject]:
        from botocore.exceptions import BotoCoreError, ClientError

        paginator = self.client.get_paginator("list_objects_v2")
        pages = iter(paginator.paginate(Bucket=self.bucket, Prefix=self._full(prefix)))
        while True:
            try:
                page = next(pages, None)
            except (BotoCoreError, ClientError) as error:
                raise about(error, self.locate(prefix), "cannot list") from error
            if page is None:
                return
            for item in page.get("Contents", []):
                if item["Key"].endswith(suffix):
                    yield SourceObject(
                        key=self._relative(item["Key"]),
                        version=item["ETag"].strip('"'),
                        size=item["Size"],
                    )

    def stat(self, key: str) -> SourceObject | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._full(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise about(error, self.locate(key), "cannot look up") from error
        return SourceObject(key=key, version=head["ETag"].strip('"'), size=head["ContentLength"])

    def read(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"].read()
        except (BotoCoreError, ClientError) as error:
            # S3 says NoSuchKey without naming the key: name it, and fail at once (a retry finds it missing too)
            raise about(error, self.locate(key), "cannot read") from error

    def head(self, key: str, size: int) -> bytes:
        """The object's first ``size`` bytes, with a ranged GET: a compression is told without reading it all."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._full(key), Range=f"bytes=0-{size - 1}")[
                "Body"
            ].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "InvalidRange":
                return b""  # S3 answers an empty object's range with 416: it has no first bytes
            raise about(error, self.locate(key), "cannot read") from error
        except BotoCoreError as error:
            raise about(error, self.locate(key), "cannot read") from error

    def open(self, key: str) -> BinaryIO:
        """The object's body as a stream (botocore's ``StreamingBody``: ``read(n)``, ``close()``)."""
        return self.client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"]

    def locate(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"


def open_source(uri: str, aws_conn_id: str | None = "aws_default") -> Source:
    """Open ``uri``: ``s3://bucket/prefix``, ``file:///path`` or a plain path."""
    uri = (uri or "").strip()
    if not uri:
        raise SourceConfigError(
            "no source configured: set the Variable sparkify_source (or AIRFLOW_VAR_SPARKIFY_SOURCE) "
            "to a folder or an s3://bucket/prefix, or pass the run param source"
        )
    scheme = urlparse(uri).scheme
    if scheme in ("s3", "s3a"):
        return S3Source(uri, aws_conn_id)
    if scheme == "file":
        return LocalSource(urlparse(uri).path)
    if scheme and len(scheme) > 1:
        raise SourceConfigError(f"source {uri!r}: unsupported scheme {scheme!r} (use a folder or s3://)")
    return LocalSource(uri)
