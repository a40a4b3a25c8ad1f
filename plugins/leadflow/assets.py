"""The Assets the DAGs exchange: one per raw source table group, one for the marts, one for hot events.

`leadflow_pull` updates the raw assets (one task per source); `leadflow_pipeline` is scheduled on all
of them, so dbt, the quality gate and the sync run once every source of a cycle has landed. Each has a
readable name, a group and a description in its extra (what the Airflow UI's Assets page shows); the URIs
(`leadflow://raw/<source>`, `leadflow://marts`, `leadflow://fastlane/hot_events`) stay as they were.
"""

from __future__ import annotations

from collections.abc import Sequence

from airflow.sdk import Asset, AssetAll, AssetWatcher

from leadflow.pull.contract import SOURCES, entities_of

SOURCE_LABELS = {
    "crm": "CRM: leads, accounts, opportunities",
    "web": "Web analytics: page views and events",
    "marketing": "Marketing engagement: e-mail, forms, webinars",
    "product": "Product usage: users, events, workspaces",
    "conversations": "Conversations: chat and calls",
    "quiz": "Quiz answers",
    "consent": "Consent and suppression lists",
}


def _raw(source: str) -> Asset:
    tables = [e.qualified_table for e in entities_of(source)]
    return Asset(
        name=f"Raw {SOURCE_LABELS.get(source, source)}",
        uri=f"leadflow://raw/{source}",
        group="leadflow raw sources",
        extra={
            "description": f"The {source} source pulled into raw by leadflow_pull (task pull_{source}); "
            "records that break the contract go to ops.quarantine, every load is counted in ops.load_audit.",
            "tables": tables,
        },
    )


RAW: dict[str, Asset] = {source: _raw(source) for source in SOURCES}
MARTS = Asset(
    name="Lead qualification marts",
    uri="leadflow://marts",
    group="leadflow marts",
    extra={
        "description": "The dbt marts built by leadflow_pipeline's dbt_build: qualified_leads, outreach_queue, "
        "lead_scores, funnel_daily, qualification_performance, speed_to_lead, ... (validated by the quality gate "
        "before the sync sends anything; the report in Browse → Lead qualification is drawn from them).",
    },
)


def all_raw_sources() -> AssetAll:
    """The pipeline's schedule: every source has landed since its last run."""
    return AssetAll(*RAW.values())


HOT_EVENTS_URI = "leadflow://fastlane/hot_events"


def hot_events(watchers: Sequence[AssetWatcher] = ()) -> Asset:
    """The fast lane's trigger: each batch of hot-lead candidates the watcher finds is one event of it."""
    return Asset(
        name="Hot lead events",
        uri=HOT_EVENTS_URI,
        group="leadflow fast lane",
        extra={
            "description": "Demo and quote requests, pricing views, abandoned checkouts and urgent quiz answers, "
            "found every second by the fast lane's watcher in the triggerer; each event starts leadflow_fast_lane, "
            "which qualifies those people and delivers them within seconds.",
        },
        watchers=list(watchers),
    )
