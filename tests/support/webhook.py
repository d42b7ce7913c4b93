"""A local webhook receiver: what the ``sparkify_alerts`` notifier would post to a chat channel, kept."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Webhook:
    """An HTTP endpoint on 127.0.0.1 that keeps the JSON bodies posted to it (in ``received``)."""

    def __init__(self) -> None:
        received: list[dict] = []
        paths: list[str] = []  # where each body was posted: the connection's endpoint
        self.received, self.paths = received, paths

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}"))
                paths.append(self.path)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def connection(self) -> str:
        """The Airflow connection ``sparkify_alerts`` posting here, as JSON for ``AIRFLOW_CONN_SPARKIFY_ALERTS``."""
        return json.dumps({"conn_type": "http", "host": self.url, "extra": {"endpoint": "/hook"}})

    def of_kind(self, kind: str) -> list[dict]:
        return [m for m in self.received if m.get("kind") == kind]

    def warnings_of(self, run_id: str) -> list[dict]:
        return [m for m in self.of_kind("warning") if m.get("run_id") == run_id]

    def stop(self) -> None:
        self.server.shutdown()
