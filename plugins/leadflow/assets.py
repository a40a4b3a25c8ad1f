"""The Assets the DAGs exchange: one per raw source table group, one for the marts.

`leadflow_pull` updates the raw assets (one task per source); `leadflow_pipeline` is scheduled on all
of them, so dbt, the quality gate and the sync run once every source of a cycle has landed.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetAll

from leadflow.pull.contract import SOURCES

RAW: dict[str, Asset] = {source: Asset(f"leadflow://raw/{source}") for source in SOURCES}
MARTS = Asset("leadflow://marts")


def all_raw_sources() -> AssetAll:
    """The pipeline's schedule: every source has landed since its last run."""
    return AssetAll(*RAW.values())
