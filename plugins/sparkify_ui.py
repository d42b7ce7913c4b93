"""Registers the Sparkify view with Airflow: a FastAPI app under ``/sparkify`` and its page in the UI's navigation.

Airflow's plugin loader imports this file in every Airflow process (plugins/.airflowignore keeps it out of
the ``sparkify`` package itself). It stays light: the FastAPI app, and Airflow's API security it uses, are
built on the first request, which only the API server ever receives. The view is ``sparkify.ui``.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/sparkify"


class LazyApp:
    """An ASGI app that builds ``sparkify.ui.app.create_app()`` when its first request arrives."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            from sparkify.ui.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class SparkifyUIPlugin(AirflowPlugin):
    """The Sparkify view: star tables, data-quality history, quarantine, songplays per hour, the ledger."""

    name = "sparkify_ui"
    fastapi_apps = [{"app": LazyApp(), "url_prefix": URL_PREFIX, "name": "Sparkify view"}]  # noqa: RUF012
    external_views = [  # noqa: RUF012
        {
            "name": "Sparkify",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "sparkify",
            "nav_top_level": True,
        }
    ]
