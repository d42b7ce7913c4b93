"""Alerts for the people who run the pipeline: a failed task, an hourly run that is late, or a run that
succeeded with data-quality warnings (kind ``warning``, sent by ``run_quality_checks``).

Where alerts go is configuration, not code: the Airflow connection ``sparkify_alerts``.

* type ``http``: a JSON ``POST`` to the host (e.g. ``https://hooks.slack.com``) plus the extra
  ``endpoint`` (e.g. ``/services/T000/B000/XXXX``); the body has ``text`` (what Slack's and most chat
  tools' incoming webhooks read) and the structured fields;
* type ``smtp``: an email through that SMTP server to the extra ``to`` (a list or a comma-separated
  string), from the extra ``from_email``.

Without the connection, alerts are only logged. A failure alert names the DAG, task, run, try and window,
and the error with secrets masked; a deadline alert names the DAG, run and window (from the run the
triggerer hands its callback: its params, else its data interval). Never a connection's password.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from airflow.sdk import BaseNotifier

ALERTS_CONN_ID = "sparkify_alerts"
log = logging.getLogger(__name__)


def _masked(text: str) -> str:
    """``text`` with every secret Airflow's masker knows of replaced."""
    from airflow.sdk.log import redact

    return str(redact(text))


class _RunFromApi:
    """A DAG run given as the REST API's ``DAGRunResponse`` dict (what a deadline callback receives)."""

    def __init__(self, data: dict[str, Any]):
        self.dag_id = data.get("dag_id")
        self.run_id = data.get("dag_run_id") or data.get("run_id")
        self.conf = data.get("conf") or {}
        self.interval = (data.get("data_interval_start"), data.get("data_interval_end"))

    def window_params(self) -> dict[str, Any]:
        """The run's window: its params when it was given them, else its data interval."""
        if self.conf.get("window_start") and self.conf.get("window_end"):
            return {"window_start": self.conf["window_start"], "window_end": self.conf["window_end"]}
        return {"window_start": self.interval[0], "window_end": self.interval[1]}


class SparkifyAlert(BaseNotifier):
    """Send an alert to the ``sparkify_alerts`` connection: a task failure (as ``on_failure_callback``)
    or a missed deadline (as a :class:`~airflow.sdk.DeadlineAlert` callback, run by the triggerer).

    :param kind: ``failure``, ``deadline`` or ``warning``; it heads the message.
    :param text: what happened, when the context cannot say it (deadline callbacks get no task context).
    :param conn_id: the connection that says where alerts go.
    """

    template_fields = ("text",)

    def __init__(self, *, kind: str = "failure", text: str = "", conn_id: str = ALERTS_CONN_ID, **kwargs: Any):
        super().__init__(**kwargs)
        self.kind = kind
        self.text = text
        self.conn_id = conn_id

    # -- the message -----------------------------------------------------------------------------------

    def payload(self, context: Any) -> dict[str, Any]:
        context = context or {}
        ti = context.get("ti") or context.get("task_instance")
        dag_run = context.get("dag_run")
        params = context.get("params") or {}
        error = context.get("exception")
        if isinstance(dag_run, dict):
            # a deadline callback's context (run by the triggerer): the run as the REST API describes it
            run = _RunFromApi(dag_run)
            dag_run, params = run, {**run.window_params(), **params}
        fields = {
            "kind": self.kind,
            "dag_id": getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", None) or context.get("dag_id"),
            "task_id": getattr(ti, "task_id", None),
            "run_id": getattr(ti, "run_id", None) or getattr(dag_run, "run_id", None),
            "try_number": getattr(ti, "try_number", None),
            "window": [params.get("window_start"), params.get("window_end")],
            "error": _masked(f"{type(error).__name__}: {error}") if error else None,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        headline = self.text or (
            f"{fields['dag_id']}.{fields['task_id']} failed (run {fields['run_id']}, try {fields['try_number']})"
        )
        if self.kind == "deadline" and fields["run_id"]:
            start, end = fields["window"]
            headline += f" ({fields['dag_id']} run {fields['run_id']}, window {start} to {end})"
        lines = [f"[sparkify {self.kind}] {headline}"]
        if fields["error"]:
            lines.append(str(fields["error"])[:2000])
        return {"text": "\n".join(lines), **fields}

    # -- sending ---------------------------------------------------------------------------------------

    def notify(self, context: Any) -> None:
        payload = self.payload(context)
        connection = self._connection()
        if connection is None:
            log.warning("No connection %s: alert only logged: %s", self.conn_id, payload["text"])
            return
        if connection.conn_type in ("http", "https"):
            self._post(connection, payload)
        elif connection.conn_type in ("smtp", "email"):
            self._email(connection, payload)
        else:
            log.error("Connection %s has type %s; alerts need http or smtp", self.conn_id, connection.conn_type)
            return
        log.info("Alert sent through %s (%s): %s", self.conn_id, connection.conn_type, payload["text"].splitlines()[0])

    async def async_notify(self, context: Any) -> None:
        await asyncio.to_thread(self.notify, context)

    def _connection(self) -> Any:
        from airflow.sdk import BaseHook

        try:
            return BaseHook.get_connection(self.conn_id)
        except Exception:  # not configured: alerts are optional
            return None

    def _post(self, connection: Any, payload: dict[str, Any]) -> None:
        from airflow.providers.http.hooks.http import HttpHook

        endpoint = connection.extra_dejson.get("endpoint", "")
        HttpHook(method="POST", http_conn_id=self.conn_id).run(endpoint=endpoint, json=payload)

    def _email(self, connection: Any, payload: dict[str, Any]) -> None:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        extra = connection.extra_dejson
        recipients = extra.get("to") or []
        if isinstance(recipients, str):
            recipients = [r.strip() for r in recipients.split(",") if r.strip()]
        if not recipients:
            log.error("Connection %s has no extra 'to': nobody to email", self.conn_id)
            return
        with SmtpHook(smtp_conn_id=self.conn_id) as smtp:
            smtp.send_email_smtp(
                to=recipients,
                from_email=extra.get("from_email", "sparkify-airflow@localhost"),
                subject=payload["text"].splitlines()[0][:200],
                html_content="<pre>" + payload["text"].replace("&", "&amp;").replace("<", "&lt;") + "</pre>",
            )
