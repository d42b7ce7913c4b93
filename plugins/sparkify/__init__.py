"""Sparkify's warehouse loading package: operators, SQL rendering per target, and the JSON staging engine.

Lives under Airflow's ``plugins/`` folder, which Airflow puts on ``sys.path``, so DAGs import it as
``sparkify``. Nothing here touches a connection or a Variable at import time.
"""
