"""A PostgreSQL wire-protocol proxy that makes the local PostgreSQL answer as Redshift.

One thread accepts connections; each client session gets two threads: one reads the client's
messages, rewrites the SQL of Query ('Q') and Parse ('P') messages that need it and forwards them;
the other relays the server's messages back. Everything else passes through unchanged.

For a COPY from S3 the client-side thread asks the session itself for the target table's columns (a
query of its own, injected between the client's messages, whose answer the relay thread hands back
instead of sending it to the client) so that a temporary table created earlier in the same
transaction is found, as on Redshift. The relay knows which answer is whose by counting
ReadyForQuery messages: every Query and Sync the server receives produces exactly one, in order.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import queue
import secrets
import shutil
import socket
import tempfile
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlglot import exp

from . import protocol
from .aws_checks import check_role
from .copy_from_s3 import CopyError, CopySpec, copy_spec, run_copy
from .json_rules import Column
from .system_tables import SCHEMA, SystemTables
from .translate import RedshiftError, translate

log = logging.getLogger(__name__)

_CLIENT = "client"  # owner of a server answer that goes to the client


@dataclass(frozen=True)
class ReceivedStatement:
    """A statement as the client sent it, before any translation."""

    session: int
    protocol: str  # "simple" (Query) or "extended" (Parse)
    text: str
    translated: bool


@dataclass
class CopyRecord:
    """What one COPY from S3 did: the objects it read, the rows it loaded, the records it rejected."""

    query_id: int
    session: int
    table: str
    source: str
    objects: list[str] = field(default_factory=list)
    rows: int = 0
    rejected: int = 0
    failed: bool = False
    error: str | None = None


def raise_statement(message: str, detail: str | None = None, sqlstate: str = "XX000") -> str:
    """A statement that fails with exactly this error, for PostgreSQL to run in the COPY's place."""
    tag = f"$emulator_{secrets.token_hex(4)}$"

    def literal(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    using = f"message = {literal(message)}, errcode = {literal(sqlstate)}"
    if detail:
        using += f", detail = {literal(detail)}"
    return f"do {tag} begin raise exception using {using}; end {tag}"


class Emulator:
    """The proxy server. Start it with :func:`redshift_emulator.start_redshift_emulator`."""

    def __init__(
        self,
        *,
        upstream_host: str,
        upstream_port: int,
        s3_endpoint: str,
        upstream_user: str = "postgres",
        aws_keys: tuple[str, str] = ("testing", "testing"),
        require_password: bool = True,
        work_dir: Path | None = None,
        region: str = "us-west-2",
        serverless: bool = False,
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        #: the cluster's region: a COPY without REGION reads buckets there
        self.region = region
        #: a Serverless workgroup: no STL tables, load errors in sys_load_error_detail only
        self.serverless = serverless
        self.upstream_user = upstream_user
        self.s3_endpoint = s3_endpoint
        self.aws_keys = aws_keys
        self.require_password = require_password
        self.system = SystemTables(upstream_host, upstream_port, upstream_user, serverless=serverless)
        self.statements: list[ReceivedStatement] = []
        self.copies: list[CopyRecord] = []
        #: (user, database) of every session, as the client logged in
        self.logins: list[tuple[str, str]] = []
        self._own_dir = work_dir is None
        self.work_dir = Path(tempfile.mkdtemp(prefix="redshift-emulator-")) if work_dir is None else work_dir
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.work_dir.chmod(0o755)  # the server process (user postgres) reads the CSV files here
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sessions: set[Session] = set()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, name="redshift-emulator-accept", daemon=True)

    def start(self) -> Emulator:
        self._acceptor.start()
        return self

    def uri(
        self,
        database: str,
        user: str = "IAM:awsuser",
        password: str = "emulated",  # noqa: S107 - the emulator accepts any password
        scheme: str = "redshift",
    ) -> str:
        """A connection URI for ``database`` through the emulator (``redshift://`` for Airflow)."""
        from urllib.parse import quote

        return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str, user: str = "IAM:awsuser", password: str = "emulated") -> str:  # noqa: S107
        """A ``postgresql://`` URI through the emulator, for psycopg and libpq."""
        return self.uri(database, user, password, scheme="postgresql")

    def statement_texts(self) -> list[str]:
        with self._lock:
            return [s.text for s in self.statements]

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            session = Session(self, client, next(self._ids))
            with self._lock:
                self._sessions.add(session)
            threading.Thread(target=session.run, name=f"redshift-emulator-{session.id}", daemon=True).start()

    def _ended(self, session: Session) -> None:
        with self._lock:
            self._sessions.discard(session)

    def _record(self, statement: ReceivedStatement) -> None:
        with self._lock:
            self.statements.append(statement)

    def _record_copy(self, record: CopyRecord) -> None:
        with self._lock:
            self.copies.append(record)

    def stop(self) -> None:
        """Stop accepting, end every session, and remove the emulator's files."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() in progress (close alone does not)
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            session.close()
        self._acceptor.join(timeout=5)
        for session in sessions:
            session.join(timeout=5)
        if self._own_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)


class Session:
    """One client connection and its upstream connection."""

    def __init__(self, emulator: Emulator, client: socket.socket, session_id: int) -> None:
        self.emulator = emulator
        self.id = session_id
        self.client = client
        self.upstream: socket.socket | None = None
        self.database = ""
        self.pid = 0
        self._owners: deque[Any] = deque()  # whose is the next answer: _CLIENT or an injected query's queue
        self._owners_lock = threading.Lock()
        self._relay: threading.Thread | None = None
        self._main = threading.current_thread()
        self._files: list[Path] = []
        self._prepared_copies: dict[bytes, protocol.Parse] = {}  # named statements that are COPYs from S3
        self._just_parsed: set[bytes] = set()
        self._swallow: deque[int] = deque()  # answers to the emulator's own Close/Parse, kept from the client
        self._raised: set[str] = set()  # messages of errors the emulator raises in the client's place

    # -- life cycle ---------------------------------------------------------------------------------

    def run(self) -> None:
        self._main = threading.current_thread()
        try:
            if self._startup():
                self._relay = threading.Thread(target=self._relay_server, name=f"{self._main.name}-relay", daemon=True)
                self._relay.start()
                self._client_loop()
        except (protocol.Closed, OSError):
            pass
        except Exception:
            log.exception("redshift emulator session %s failed", self.id)
        finally:
            self.close()
            if self._relay is not None and self._relay is not threading.current_thread():
                self._relay.join(timeout=5)
            for path in self._files:
                path.unlink(missing_ok=True)
            self.emulator._ended(self)

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()

    def join(self, timeout: float) -> None:
        if self._main is not threading.current_thread():
            self._main.join(timeout=timeout)

    # -- startup ------------------------------------------------------------------------------------

    def _startup_packet(self, stream: protocol.Stream) -> bytes | None:
        """The client's StartupMessage, after declining TLS; None for a cancel request (passed on)."""
        while True:
            payload = stream.read_startup()
            code = int.from_bytes(payload[:4], "big")
            if code in (protocol.SSL_REQUEST, protocol.GSSENC_REQUEST):
                self.client.sendall(b"N")  # no TLS here: the client goes on in plain text
                continue
            if code == protocol.CANCEL_REQUEST:
                # the cancel key is the upstream's own (the client saw its BackendKeyData): pass it on
                with socket.create_connection(self.emulator.upstream, timeout=10) as upstream:
                    upstream.sendall((len(payload) + 4).to_bytes(4, "big") + payload)
                return None
            return payload

    def _startup(self) -> bool:
        stream = protocol.Stream(self.client)
        payload = self._startup_packet(stream)
        if payload is None:
            return False
        version, params = protocol.startup_parameters(payload)
        user = params.get("user", "")
        self.database = params.get("database") or user
        if self.emulator.require_password:
            # Redshift always asks for a password (an IAM user's is a temporary one); any is accepted
            self.client.sendall(protocol.AUTH_CLEARTEXT)
            kind, _secret = stream.read_message()
            if kind != ord("p"):
                return False
        self.emulator.logins.append((user, self.database))
        with contextlib.suppress(Exception):  # a missing database is for the server to report
            self.emulator.system.install(self.database)
        upstream_params = {"user": self.emulator.upstream_user, "database": self.database}
        upstream_params |= {k: v for k, v in params.items() if k in protocol.STARTUP_PARAMETERS and k != "database"}
        self.upstream = socket.create_connection(self.emulator.upstream, timeout=30)
        self.upstream.settimeout(None)
        self.upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.upstream.sendall(protocol.startup_packet(version, upstream_params))
        self._server = protocol.Stream(self.upstream)
        self._client_stream = stream
        return self._relay_startup()

    def _relay_startup(self) -> bool:
        """The server's answers up to its first ReadyForQuery, noting the backend's pid on the way."""
        while True:
            kind, raw = self._server.read_message()
            if kind == ord("R") and int.from_bytes(raw[5:9], "big") != 0:
                self.client.sendall(protocol.error_response("the emulator's upstream must use trust authentication"))
                return False
            if kind == ord("K"):
                self.pid = protocol.backend_pid(raw)
            self.client.sendall(raw)
            if kind == ord("E"):
                return False
            if kind == ord("Z"):
                return True

    # -- client to server ---------------------------------------------------------------------------

    def _client_loop(self) -> None:
        assert self.upstream is not None
        while True:
            batch = self._client_stream.read_batch()
            out = bytearray()
            for kind, raw in batch:
                if kind == ord("Q"):
                    sql = protocol.query_text(raw)
                    new_sql = self._rewrite(sql, "simple", flush=out)
                    raw = raw if new_sql is None else protocol.query_message(new_sql)
                    self._expect_answer()
                elif kind == ord("P"):
                    parse = protocol.Parse.read(raw)
                    new_sql = self._rewrite(parse.sql, "extended", flush=out)
                    raw = raw if new_sql is None else parse.encode(new_sql)
                    if parse.name:
                        self._prepared_copies.pop(parse.name, None)
                        if new_sql is not None and any(p.copy is not None for p in translate(parse.sql)):
                            self._prepared_copies[parse.name] = parse
                            self._just_parsed.add(parse.name)  # its first Bind runs what was just parsed
                elif kind == ord("B") and self._prepared_copies:
                    raw = self._rebind(raw, out)
                elif kind in (ord("S"), ord("F")):
                    self._expect_answer()
                out += raw
                if kind == ord("X"):
                    self.upstream.sendall(out)
                    return
            self.upstream.sendall(out)

    def _rebind(self, raw: bytes, out: bytearray) -> bytes:
        """A Bind of a prepared COPY from S3 runs the COPY again, from S3 as it is now.

        psycopg prepares a statement it has run five times; its later runs send only Bind and Execute,
        which would replay the first run's file. The statement is closed and parsed again (the answers
        to both are kept from the client) with a fresh translation, then bound as the client asked.
        """
        name = protocol.bind_statement(raw)
        parse = self._prepared_copies.get(name)
        if parse is None or name in self._just_parsed:
            self._just_parsed.discard(name)
            return raw
        self.emulator._record(ReceivedStatement(self.id, "extended", parse.sql, True))
        pieces = translate(parse.sql)
        if out:
            assert self.upstream is not None
            self.upstream.sendall(out)
            out.clear()
        new_sql = "; ".join(self._safe_copy(p.copy) if p.copy is not None else p.original for p in pieces)
        with self._owners_lock:
            self._swallow.extend((ord("3"), ord("1")))  # CloseComplete, ParseComplete
        return protocol.close_statement(name) + parse.encode(new_sql) + raw

    def _expect_answer(self) -> None:
        with self._owners_lock:
            self._owners.append(_CLIENT)

    def _rewrite(self, sql: str, via: str, flush: bytearray) -> str | None:
        """The SQL PostgreSQL should run instead of ``sql``, or None to send it untouched."""
        pieces = translate(sql)
        changed = any(p.replacement is not None or p.copy is not None or p.error is not None for p in pieces)
        self.emulator._record(ReceivedStatement(self.id, via, sql, changed))
        if not changed:
            return None
        # what the client sent before this statement must reach the server before any injected query
        if flush:
            assert self.upstream is not None
            self.upstream.sendall(flush)
            flush.clear()
        texts = []
        for piece in pieces:
            if piece.error is not None:
                texts.append(self._refuse(piece.error))
            elif piece.copy is not None:
                texts.append(self._safe_copy(piece.copy))
            else:
                texts.append(piece.replacement or piece.original.rstrip().rstrip(";"))
        return texts[0] if len(texts) == 1 else "; ".join(texts)

    # -- COPY from S3 -------------------------------------------------------------------------------

    def _safe_copy(self, tree: exp.Copy) -> str:
        try:
            return self._copy(tree)
        except protocol.Closed:
            raise
        except Exception as error:  # the session lives on: the client sees the failure as an error
            log.exception("redshift emulator: COPY failed in the emulator itself")
            return self._raise(f"redshift emulator: COPY failed: {type(error).__name__}")

    def _copy(self, tree: exp.Copy) -> str:
        start = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        try:
            spec = copy_spec(tree)
        except (CopyError, ValueError) as error:
            return self._raise(str(error))
        table_columns, info, failure = self._table_columns(spec)
        if failure is not None:
            return failure
        if spec.columns is None:
            columns = table_columns
        else:
            by_name = {c.name: c for c in table_columns}
            missing = [name for name in spec.columns if name not in by_name]
            if missing:
                return self._raise(
                    f'column "{missing[0]}" of relation "{spec.table_name}" does not exist', sqlstate="42703"
                )
            columns = [by_name[name] for name in spec.columns]
        csv_path = self.emulator.work_dir / f"copy-{self.id}-{secrets.token_hex(6)}.csv"
        self._files.append(csv_path)
        record = CopyRecord(0, self.id, spec.table_name, spec.source)
        with self.emulator.system.connect(self.database) as conn:
            record.query_id = self.emulator.system.next_query_id(conn)
            try:
                if spec.iam_role:
                    check_role(self.emulator.s3_endpoint, self.emulator.aws_keys, spec.iam_role, self.emulator.region)
                result = run_copy(
                    spec,
                    columns,
                    table_columns,
                    self.emulator.s3_endpoint,
                    self.emulator.aws_keys,
                    csv_path,
                    cluster_region=self.emulator.region,
                )
            except CopyError as error:
                self.emulator.system.record_copy(conn, **self._copy_facts(record, info, start), rows=0, rejected=[])
                record.failed, record.error = True, str(error)
                self.emulator._record_copy(record)
                return self._raise(str(error))
            csv_path.chmod(0o644)
            record.objects, record.rows, record.rejected = result.objects, result.rows, len(result.rejected)
            record.failed = result.failed
            self.emulator.system.record_copy(
                conn, **self._copy_facts(record, info, start), rows=result.rows, rejected=result.rejected
            )
        self.emulator._record_copy(record)
        if result.failed:
            last = result.rejected[-1]  # the record that went past MAXERROR
            message = (
                f"Load into table '{spec.table_name}' failed.  Check 'sys_load_error_detail' system table for details."
            )
            # laid out as Redshift's DETAIL block is
            rule = "-" * 47
            detail = (
                f"\n  {rule}\n  error:  {last.error.reason}\n  code:      {last.error.code}\n"
                f"  context:   {last.error.raw_value[:200]}\n  query:     {record.query_id}\n"
                f"  location:  {last.file} line {last.line_number}\n  process:   redshift-emulator\n  {rule}\n"
            )
            record.error = message
            return self._raise(message, detail)
        names = [exp.to_identifier(c.name, quoted=True) for c in columns]  # exactly as the catalog has them
        return exp.Copy(
            this=exp.Schema(this=spec.table.copy(), expressions=names),
            kind=True,
            files=[exp.Literal.string(str(csv_path))],
            params=[exp.CopyParameter(this=exp.var("FORMAT"), expression=exp.var("csv"))],
        ).sql(dialect="postgres")

    def _refuse(self, error: RedshiftError) -> str:
        """A statement failing as Redshift refuses the client's. One with ``$n`` parameters still takes
        them (the client's Bind sends them), through the emulator's own raising function."""
        if not error.parameters:
            return self._raise(error.message, sqlstate=error.sqlstate)
        with self._owners_lock:
            self._raised.add(error.message)
        values = ", ".join(f"${n}::text" for n in range(1, error.parameters + 1))

        def literal(text: str) -> str:
            return "'" + text.replace("'", "''") + "'"

        return f"select {SCHEMA}.emulator_raise({literal(error.message)}, {literal(error.sqlstate)}, array[{values}])"

    def _raise(self, message: str, detail: str | None = None, sqlstate: str = "XX000") -> str:
        """A statement failing with this error; the relay strips PL/pgSQL's context line from it."""
        with self._owners_lock:
            self._raised.add(message)
        return raise_statement(message, detail, sqlstate)

    def _copy_facts(self, record: CopyRecord, info: dict[str, Any], start: dt.datetime) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "query_id": record.query_id,
            "database": self.database,
            "table_oid": info.get("oid"),
            "transaction_id": info.get("xid"),
            "backend_start": info.get("backend_start"),
            "start_time": start,
        }

    def _table_columns(self, spec: CopySpec) -> tuple[list[Column], dict[str, Any], str | None]:
        """The target table's columns, asked of the client's own session (it may be a temp table)."""
        name = exp.Literal.string(spec.table.sql(dialect="postgres")).sql(dialect="postgres")
        rows, error = self._inject(
            "select c.oid, a.attname, t.typname, a.atttypmod, a.attnotnull, a.atthasdef,"
            " txid_current_if_assigned(), (select backend_start from pg_stat_activity where pid = pg_backend_pid())"
            " from pg_attribute a join pg_type t on t.oid = a.atttypid join pg_class c on c.oid = a.attrelid"
            f" where a.attrelid = to_regclass({name}) and a.attnum > 0 and not a.attisdropped"
            " order by a.attnum"
        )
        if error is not None:
            message = error.get("M", "the emulator could not read the table")
            return [], {}, self._raise(message, sqlstate=error.get("C", "XX000"))
        if not rows:
            return [], {}, self._raise(f'relation "{spec.table_name}" does not exist', sqlstate="42P01")
        columns = [
            Column(name=r[1], type_name=r[2], type_mod=int(r[3]), not_null=r[4] == "t", has_default=r[5] == "t")
            for r in rows
        ]
        xid = rows[0][6]
        facts = {"oid": int(rows[0][0]), "xid": int(xid) if xid else None, "backend_start": rows[0][7]}
        return columns, facts, None

    def _inject(self, sql: str) -> tuple[list[list[str | None]], dict[str, str] | None]:
        """Run a query of the emulator's own in the client's session, its answer kept from the client."""
        assert self.upstream is not None
        answers: queue.Queue[tuple[int, bytes]] = queue.Queue()
        with self._owners_lock:
            self._owners.append(answers)
        self.upstream.sendall(protocol.query_message(sql))
        rows, error = [], None
        while True:
            kind, raw = answers.get(timeout=120)
            if kind == 0:
                raise protocol.Closed
            if kind == ord("D"):
                rows.append(protocol.data_row(raw))
            elif kind == ord("E"):
                error = protocol.error_fields(raw)
            elif kind == ord("Z"):
                return rows, error

    # -- server to client ---------------------------------------------------------------------------

    def _relay_server(self) -> None:
        try:
            while True:
                out = bytearray()
                for kind, raw in self._server.read_batch():
                    owner = self._owner_of(kind)
                    if owner is _CLIENT:
                        out += self._as_redshift_error(raw) if kind == ord("E") and self._raised else raw
                    elif owner is not None:
                        owner.put((kind, raw))
                if out:
                    self.client.sendall(out)
        except (protocol.Closed, OSError):
            pass
        finally:
            self.close()
            with self._owners_lock:
                waiting = [owner for owner in self._owners if owner is not _CLIENT]
            for owner in waiting:
                owner.put((0, b""))  # wakes an injected query's wait: the session is gone

    def _as_redshift_error(self, raw: bytes) -> bytes:
        """An error the emulator raised, without the PL/pgSQL context Redshift would not show."""
        fields = protocol.error_fields(raw)
        with self._owners_lock:
            if fields.get("M") not in self._raised:
                return raw
            self._raised.discard(fields["M"])
        return protocol.error_message(b"E", {k: v for k, v in fields.items() if k not in "Wpq"})

    def _owner_of(self, kind: int) -> Any:
        """Who gets this server message: _CLIENT, an injected query's queue, or None (dropped)."""
        with self._owners_lock:
            if self._swallow:
                if kind == self._swallow[0]:
                    self._swallow.popleft()
                    return None
                if kind == ord("E"):
                    self._swallow.clear()  # the server skips the rest until Sync
            owner = self._owners[0] if self._owners else _CLIENT
            if kind == ord("Z") and self._owners:
                self._owners.popleft()
        # notices, parameter changes and notifications always belong to the client
        if kind in (ord("N"), ord("S"), ord("A")):
            return _CLIENT
        return owner
