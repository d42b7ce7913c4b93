"""The project's Airflow operators, one per module."""

from sparkify.operators.create_tables import CreateTablesOperator
from sparkify.operators.data_quality import DataQualityOperator
from sparkify.operators.load_dimension import LoadDimensionOperator
from sparkify.operators.load_fact import LoadFactOperator
from sparkify.operators.stage_redshift import StageToRedshiftOperator
from sparkify.operators.staging_retention import StagingRetentionOperator

__all__ = [
    "CreateTablesOperator",
    "DataQualityOperator",
    "LoadDimensionOperator",
    "LoadFactOperator",
    "StageToRedshiftOperator",
    "StagingRetentionOperator",
]
