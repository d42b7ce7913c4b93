"""A small HTTP proxy that adds a fixed delay to every request: S3's first-byte latency, simulated.

Put it between a client and moto's server (``endpoint_url`` = the proxy) and each request waits
``latency`` seconds before it is forwarded, the way a GET to real S3 waits tens of milliseconds on the
network. One thread per client connection, keep-alive on both sides, so concurrent clients wait
concurrently, as they would against S3.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import urlparse

if TYPE_CHECKING:
    from collections.abc import Iterator

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade", "trailer"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as boto3's connection pool expects
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stalls
    server: _Proxy

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: thousands of requests

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        time.sleep(self.server.latency)
        upstream = self.server.upstream_connection()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            self.server.drop_upstream_connection()
            raise
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(payload)))
        elif response.getheader("Content-Length"):
            self.send_header("Content-Length", response.getheader("Content-Length"))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        self.server.count()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward


class _Proxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, latency: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        parsed = urlparse(upstream)
        self.upstream_host, self.upstream_port = parsed.hostname, parsed.port
        self.latency = latency
        self.requests = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def upstream_connection(self) -> http.client.HTTPConnection:
        """One keep-alive connection to the upstream per proxy thread."""
        if getattr(self._local, "conn", None) is None:
            conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.conn = conn
        return self._local.conn

    def drop_upstream_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def count(self) -> None:
        with self._lock:
            self.requests += 1


@contextlib.contextmanager
def latency_proxy(upstream: str, latency: float) -> Iterator[_Proxy]:
    """Run a proxy to ``upstream`` adding ``latency`` seconds per request; yields it (``.endpoint``)."""
    proxy = _Proxy(upstream, latency)
    proxy.endpoint = f"http://127.0.0.1:{proxy.server_address[1]}"
    thread = threading.Thread(target=proxy.serve_forever, name="latency-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
