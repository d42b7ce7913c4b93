#!/usr/bin/env python3
"""Measure ways of staging the event log on PostgreSQL against the raw-COPY floor (issue 12).

    python benchmarks/encoder_options.py DATA_DIR [--rounds 3] [--options floor,stream,...]

DATA_DIR is the output of ``scripts/generate_demo_data.py``. Every option stages every day file of
``DATA_DIR/log_data`` into a fresh table ``LIKE staging_events INCLUDING ALL`` (one transaction per
file, as the operator commits), and the floor (COPY of the same rows, already encoded as COPY text,
read from a file) is measured in the same round. Rounds interleave the options; the table prints
medians, wall time and CPU time (this process and its children, and the server process of the
connection, from /proc): on a shared machine the CPU figures are the stable ones. Connects to
``postgresql://postgres@127.0.0.1:$SPARKIFY_PG_PORT/encoder_bench``.

Options: ``floor`` (COPY text already encoded), ``binary`` (the staging path: ``copy_stream.copy_objects``,
COPY BINARY), ``stream`` (the fast encoder as COPY text), ``reference`` (``json_copy.RowEncoder``),
``pool`` (the fast encoder in two processes), ``server`` (PostgreSQL parses the JSON), ``duckdb`` and
``orjson`` (probes needing packages the project does not pin: ``pip install --no-deps --target
.local/duckdb-pkg duckdb==2.0.1``; ``pip install orjson==3.11.4``), ``*_noidx`` (into a table without
indexes) and ``floor_idx_*``/``floor_brin_ts`` (the floor with one index, or a BRIN index on ts).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import resource
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

import psycopg  # noqa: E402

from sparkify.models.sql_files import render_sql  # noqa: E402
from sparkify.staging.copy_stream import CopyItem, copy_objects, write_copy  # noqa: E402
from sparkify.staging.json_copy import Column, CopyOptions, JsonMapping  # noqa: E402
from sparkify.staging.json_stream import StreamEncoder  # noqa: E402
from sparkify.staging.row_encoder import RowEncoder, copy_suffix  # noqa: E402

DB = "encoder_bench"


def connect(dbname: str = DB) -> psycopg.Connection:
    port = os.environ.get("SPARKIFY_PG_PORT", "5432")
    return psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/{dbname}")


def prepare() -> list[Column]:
    with connect("postgres") as admin:
        admin.autocommit = True
        if not admin.execute("select 1 from pg_database where datname = %s", (DB,)).fetchone():
            admin.execute(f"create database {DB}")
    with connect() as conn:
        conn.execute("drop table if exists staging_events")
        for statement in render_sql("ddl/staging_events.sql", "postgres").split(";"):
            if statement.strip():
                conn.execute(statement)
        rows = conn.execute(
            "select column_name, data_type, character_maximum_length from information_schema.columns"
            " where table_name = 'staging_events' order by ordinal_position"
        ).fetchall()
    return [Column(*row) for row in rows if not row[0].startswith("_")]


def backend_cpu(conn: psycopg.Connection) -> float:
    """CPU seconds (user + system) that this connection's server process has used so far."""
    pid = conn.info.backend_pid
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client_cpu() -> float:
    """CPU seconds of this process (every thread) and of its finished children (a process pool)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


#: index variants of the floor, to weigh each of staging_events' three indexes at load time
INDEX_VARIANTS = {
    "floor_idx_ts": ["create index on bench_target (ts)"],
    "floor_idx_user_ts": ["create index on bench_target (user_id, ts)"],
    "floor_idx_source": ["create index on bench_target (_source_key)"],
    "floor_brin_ts": [
        "create index on bench_target using brin (ts)",
        "create index on bench_target (user_id, ts)",
        "create index on bench_target (_source_key)",
    ],
}


def fresh_table(conn: psycopg.Connection, option: str) -> str:
    """``bench_target`` like staging_events: with its indexes, none (``*_noidx``), or an index variant."""
    conn.execute("drop table if exists bench_target")
    plain = option.endswith("_noidx") or option in INDEX_VARIANTS
    conn.execute(f"create table bench_target (like staging_events {'' if plain else 'including all'})")
    for statement in INDEX_VARIANTS.get(option, []):
        conn.execute(statement)
    conn.commit()
    conn.execute("checkpoint")
    return "bench_target"


def same_rows(fast: str, reference: str, ts_column: int) -> bool:
    """Equal COPY text, but for how the timestamp is spelled (both spell the same instant)."""
    if fast == reference:
        return True
    for mine, theirs in zip(fast.splitlines(), reference.splitlines(), strict=True):
        a, b = mine.split("\t"), theirs.split("\t")
        if a[ts_column] != b[ts_column] and r"\N" not in (a[ts_column], b[ts_column]):
            if dt.datetime.fromisoformat(a[ts_column]) != dt.datetime.fromisoformat(b[ts_column]):
                return False
            a[ts_column] = b[ts_column]
        if a != b:
            return False
    return True


class Bench:
    def __init__(self, data: Path, columns: list[Column]) -> None:
        self.files = sorted((data / "log_data").rglob("*.json"))
        self.data = data
        paths = json.loads((data / "log_json_path.json").read_text())
        self.mapping = JsonMapping(columns, "log_json_path.json", paths)
        self.columns = columns
        self.copy_sql = f"copy bench_target ({', '.join(c.name for c in columns)}, _source_key) from stdin"
        self.floor_file = data.parent / (data.name + ".copy.txt")
        self.rows = 0
        self.ts_column = next(i for i, c in enumerate(columns) if c.data_type.startswith("timestamp"))

    def key(self, path: Path) -> str:
        return path.relative_to(self.data).as_posix()

    def pre_encode(self) -> None:
        """The floor's input: the same rows as COPY text, checked equal between both encoders."""
        reference = RowEncoder(self.mapping, CopyOptions())
        fast = StreamEncoder(self.mapping)
        rows = 0
        with self.floor_file.open("w", encoding="utf-8") as out:
            for path in self.files:
                body = path.read_bytes()
                lines, count = reference.encode(body.decode(), str(path), extra=(self.key(path),))
                chunks, fast_count = fast.encode_object(body, str(path), extra=(self.key(path),))
                expected = "".join(lines)
                if fast_count != count or not same_rows("".join(chunks), expected, self.ts_column):
                    raise SystemExit(f"{path}: the fast encoder differs from the reference")
                out.write(expected)
                rows += count
        self.rows = rows
        print(f"pre-encoded {rows} rows from {len(self.files)} files; fast == reference on every row", flush=True)

    # -- options: each stages every file, one transaction per file ---------------------------------

    def floor(self, conn: psycopg.Connection) -> None:
        with self.floor_file.open("rb") as source, conn.cursor() as cursor, cursor.copy(self.copy_sql) as copy:
            while block := source.read(1 << 20):
                copy.write(block)
        conn.commit()

    def reference(self, conn: psycopg.Connection) -> None:
        encoder = RowEncoder(self.mapping, CopyOptions())
        for path in self.files:
            lines, _ = encoder.encode(path.read_bytes().decode(), str(path), extra=(self.key(path),))
            with conn.cursor() as cursor:
                write_copy(cursor, self.copy_sql, ["".join(lines)])
            conn.commit()

    def orjson(self, conn: psycopg.Connection) -> None:
        import orjson

        encoder = RowEncoder(self.mapping, CopyOptions())
        for path in self.files:
            suffix = copy_suffix((self.key(path),))
            records = ((n, orjson.loads(line)) for n, line in enumerate(path.read_bytes().splitlines(), 1))
            lines = encoder.encode_records(records, str(path), suffix)
            with conn.cursor() as cursor:
                write_copy(cursor, self.copy_sql, ["".join(lines)])
            conn.commit()

    def stream(self, conn: psycopg.Connection) -> None:
        encoder = StreamEncoder(self.mapping)
        for path in self.files:
            with path.open("rb") as body, conn.cursor() as cursor:
                write_copy(cursor, self.copy_sql, (c for c, _ in encoder.chunks(body, str(path), (self.key(path),))))
            conn.commit()

    def stream_noidx(self, conn: psycopg.Connection) -> None:
        self.stream(conn)

    def binary(self, conn: psycopg.Connection) -> None:
        """The staging path: copy_objects, which streams each file as COPY BINARY rows."""
        encoder = StreamEncoder(self.mapping)
        for path in self.files:
            with conn.cursor() as cursor:
                item = CopyItem(str(path), (self.key(path),), functools.partial(path.open, "rb"))
                outcome = copy_objects(
                    cursor, self.copy_sql.removesuffix(" from stdin") + " from stdin", encoder, [item]
                )
                assert outcome.error is None, outcome.error
            conn.commit()

    def binary_noidx(self, conn: psycopg.Connection) -> None:
        self.binary(conn)

    def __getattr__(self, name: str):
        if name in INDEX_VARIANTS:
            return self.floor
        raise AttributeError(name)

    def floor_noidx(self, conn: psycopg.Connection) -> None:
        self.floor(conn)

    def pool(self, conn: psycopg.Connection) -> None:
        with ProcessPoolExecutor(2, initializer=_init_worker, initargs=(self.mapping,)) as pool:
            jobs = [pool.submit(_encode_file, str(p), self.key(p)) for p in self.files]
            for job in jobs:
                with conn.cursor() as cursor:
                    write_copy(cursor, self.copy_sql, [job.result()])
                conn.commit()

    def server(self, conn: psycopg.Connection) -> None:
        """Raw lines into a temp table, parsed by PostgreSQL (approximate rules: a speed probe only).

        ``offset 0`` keeps the planner from inlining the cast: each line is parsed once, not once per column.
        """
        names = [c.name for c in self.columns]
        paths = self.mapping.flat_keys
        casts = []
        for column, key in zip(self.columns, paths, strict=True):
            value = f"nullif(btrim(j->>'{key}'), '')"
            if column.data_type.startswith("timestamp"):
                casts.append(f"timestamp '1970-01-01' + ((j->>'{key}')::bigint * interval '1 millisecond')")
            elif column.data_type == "character varying":
                casts.append(f"left({value}, {column.max_length})")
            else:
                casts.append(f"({value})::{column.data_type}")
        insert = (
            f"insert into bench_target ({', '.join(names)}, _source_key)"
            f" select {', '.join(casts)}, %s from (select line::jsonb as j from raw_lines offset 0) s"
        )
        for path in self.files:
            with conn.cursor() as cursor:
                cursor.execute("create temp table if not exists raw_lines (line text) on commit delete rows")
                # CSV with quote and delimiter bytes that valid JSON never holds raw: lines arrive verbatim
                with (
                    path.open("rb") as body,
                    cursor.copy(
                        "copy raw_lines from stdin with (format csv, quote e'\\x01', delimiter e'\\x02')"
                    ) as copy,
                ):
                    while block := body.read(1 << 20):
                        copy.write(block)
                cursor.execute(insert, (self.key(path),))
            conn.commit()

    def duckdb(self, conn: psycopg.Connection) -> None:
        """DuckDB's JSON reader writes COPY CSV that PostgreSQL loads (approximate rules: a speed probe only).

        DuckDB is not a dependency: the probe imports it from .local/duckdb-pkg
        (``pip install --no-deps --target .local/duckdb-pkg duckdb==2.0.1``).
        """
        sys.path.insert(0, str(ROOT / ".local" / "duckdb-pkg"))
        import duckdb

        paths = self.mapping.flat_keys
        kinds = {"character varying": "VARCHAR", "integer": "BIGINT", "double precision": "DOUBLE"}
        spec = ", ".join(
            f"'{key}': '{kinds.get(c.data_type, 'BIGINT')}'" for c, key in zip(self.columns, paths, strict=True)
        )
        select = ", ".join(
            f'make_timestamp("{key}" * 1000)' if c.data_type.startswith("timestamp") else f'"{key}"'
            for c, key in zip(self.columns, paths, strict=True)
        )
        names = ", ".join(c.name for c in self.columns)
        out = self.data.parent / "duckdb-out.csv"
        for path in self.files:
            duckdb.sql(
                f"copy (select {select}, '{self.key(path)}' from read_json('{path}', format='newline_delimited',"
                f" columns={{{spec}}})) to '{out}' (header false)"
            )
            with (
                out.open("rb") as body,
                conn.cursor() as cursor,
                cursor.copy(f"copy bench_target ({names}, _source_key) from stdin with (format csv)") as copy,
            ):
                while block := body.read(1 << 20):
                    copy.write(block)
            conn.commit()


_worker_encoder: StreamEncoder | None = None


def _init_worker(mapping: JsonMapping) -> None:
    global _worker_encoder
    _worker_encoder = StreamEncoder(mapping)


def _encode_file(path: str, key: str) -> str:
    chunks, _ = _worker_encoder.encode_object(Path(path).read_bytes(), path, (key,))
    return "".join(chunks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--options", default="floor,stream,server,pool,duckdb,orjson,reference,floor_noidx,stream_noidx"
    )
    parser.add_argument("--reuse", action="store_true", help="reuse the floor's COPY text (skip the check)")
    args = parser.parse_args()
    bench = Bench(args.data.resolve(), prepare())
    if args.reuse and bench.floor_file.exists():
        bench.rows = sum(1 for _ in bench.floor_file.open("rb"))
    else:
        bench.pre_encode()
    options = args.options.split(",")
    times: dict[str, list[float]] = {name: [] for name in options}
    cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in options}
    with connect() as conn:
        for number in range(1, args.rounds + 1):
            for name in options:
                fresh_table(conn, name)
                load = os.getloadavg()[0]
                client, server = client_cpu(), backend_cpu(conn)
                started = time.perf_counter()
                getattr(bench, name)(conn)
                elapsed = time.perf_counter() - started
                client, server = client_cpu() - client, backend_cpu(conn) - server
                (count,) = conn.execute("select count(*) from bench_target").fetchone()
                conn.commit()
                assert count == bench.rows, (name, count, bench.rows)
                times[name].append(elapsed)
                cpu[name].append((client, server))
                print(
                    f"round {number} {name:13s} {elapsed:7.2f} s wall, CPU client {client:6.2f} s"
                    f" server {server:6.2f} s (load average {load:.2f})",
                    flush=True,
                )
    print(f"\n{bench.rows} rows, {len(bench.files)} files, {os.cpu_count()} cores; medians of {args.rounds} rounds")
    floor_wall = {idx: statistics.median(times.get(f, [float("nan")])) for idx, f in ((1, "floor"), (0, "floor_noidx"))}
    floor_cpu = {
        idx: statistics.median(c + s for c, s in cpu.get(f, [(float("nan"), 0)]))
        for idx, f in ((1, "floor"), (0, "floor_noidx"))
    }
    print(
        "| option | wall s | rows/s | wall × floor | CPU client s | CPU server s | CPU total × floor"
        " | idle-2-core estimate × floor |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in options:
        idx = 0 if name.endswith("_noidx") else 1
        wall = statistics.median(times[name])
        client = statistics.median(c for c, _ in cpu[name])
        server = statistics.median(s for _, s in cpu[name])
        # with a core each, client and server overlap: the slower of the two sets the pace
        print(
            f"| {name} | {wall:.2f} | {bench.rows / wall:,.0f} | {wall / floor_wall[idx]:.2f} | {client:.2f}"
            f" | {server:.2f} | {(client + server) / floor_cpu[idx]:.2f} | {max(client, server) / floor_cpu[idx]:.2f} |"
        )


if __name__ == "__main__":
    main()
