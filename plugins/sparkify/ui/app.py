"""The Sparkify view's FastAPI app: ``/`` (the HTML page), ``/api/summary`` (JSON), ``/chart.svg``.

Airflow's API server mounts it under ``/sparkify`` (``plugins/sparkify_ui.py``). Every route requires
what the rest of the UI requires, through Airflow's own dependency
``airflow.api_fastapi.core_api.security.requires_access_dag``: a valid Airflow JWT, from the
``Authorization: Bearer`` header (API clients) or the ``_token`` cookie the UI's login sets (the page,
shown in the UI's frame), whose user the configured auth manager allows to read the runs of
``sparkify_etl``. No token: 401; an invalid one or a user without that right: 403.

What it renders is escaped (Jinja2 with autoescape; the SVG escapes its own text), the page carries a
Content-Security-Policy that allows no script at all, and nothing it shows comes from the connection
itself: not its URI, host, login or extras, only the target's name. A warehouse error is logged and
answered with its class name alone (503), since a driver's message may quote the connection.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader

from sparkify.ui.chart import songplays_svg
from sparkify.ui.queries import HISTORY_DAYS, read_snapshot

if TYPE_CHECKING:
    from collections.abc import Callable

    from sparkify.ui.snapshot import Snapshot

log = logging.getLogger(__name__)

CONN_ID = "redshift"
DAG_ID = "sparkify_etl"
URL_PREFIX = "/sparkify"
HEADERS = {
    # the page runs no script; styles are inline; it may be framed by the Airflow UI (same origin) only
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:;"
    " frame-ancestors 'self'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
Days = Annotated[int, Query(ge=1, le=HISTORY_DAYS, description="days of songplays per hour to chart")]


class WarehouseUnavailable(Exception):
    """The warehouse could not be read; the message names the error's class only."""


def authorization() -> Callable[..., None]:
    """Airflow's own check, as its REST API applies it to a DAG's runs: read access to ``sparkify_etl``."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import requires_access_dag

    return requires_access_dag("GET", DagAccessEntity.RUN, param_dag_id=DAG_ID)


def snapshot(days: int) -> Snapshot:
    from sparkify.warehouses import open_warehouse

    try:
        return read_snapshot(open_warehouse(CONN_ID), days=days)
    except Exception as error:
        log.exception("the Sparkify view could not read the warehouse")
        name = type(error).__name__
        raise WarehouseUnavailable(f"the warehouse could not be read ({name}); see the API server's log") from None


def _ago(seconds: int | None) -> str:
    if seconds is None:
        return ""
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def _when(value: dt.datetime | dt.date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    return value.isoformat()


def _number(value: Any) -> str:
    return "" if value is None else f"{int(value):,}"


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,  # every value, whatever the file's name
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(ago=_ago, when=_when, number=_number)
    return env


def render_page(data: Snapshot | None, error: str | None = None) -> str:
    chart = songplays_svg(data.hours) if data is not None else ""  # marked safe in the template: it escapes its text
    return environment().get_template("view.html").render(data=data, error=error, chart=chart, dag_id=DAG_ID)


def create_app() -> FastAPI:
    """The app Airflow mounts under ``URL_PREFIX``; every route behind Airflow's authorization."""
    app = FastAPI(
        title="Sparkify view",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(authorization())],
    )

    @app.get("/", response_class=HTMLResponse)
    def page(days: Days = 3) -> HTMLResponse:
        try:
            return HTMLResponse(render_page(snapshot(days)), headers=HEADERS)
        except WarehouseUnavailable as error:
            return HTMLResponse(render_page(None, str(error)), status_code=503, headers=HEADERS)

    @app.get("/api/summary")
    def summary(days: Days = 3) -> JSONResponse:
        try:
            return JSONResponse(snapshot(days).as_json(), headers=HEADERS)
        except WarehouseUnavailable as error:
            return JSONResponse({"error": str(error)}, status_code=503, headers=HEADERS)

    @app.get("/chart.svg")
    def chart(days: Days = 3) -> Response:
        try:
            svg = songplays_svg(snapshot(days).hours)
        except WarehouseUnavailable as error:
            return JSONResponse({"error": str(error)}, status_code=503, headers=HEADERS)
        return Response(svg, media_type="image/svg+xml", headers=HEADERS)

    return app
