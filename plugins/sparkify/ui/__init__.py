"""The Sparkify view inside the Airflow UI: what the warehouse holds, read through the ``redshift`` connection.

``plugins/sparkify_ui.py`` registers it with Airflow (an ``AirflowPlugin`` with a FastAPI app under
``/sparkify`` and a navigation entry that shows its page). :mod:`sparkify.ui.queries` reads the warehouse
with portable SQL (PostgreSQL and Redshift alike), :mod:`sparkify.ui.chart` draws songplays per hour as
inline SVG, :mod:`sparkify.ui.app` serves both as JSON and as one HTML page, behind Airflow's own login.
"""
