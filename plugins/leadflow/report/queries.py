"""What the report reads: one query per section, against the marts (and the ops bookkeeping tables).

Each function returns plain rows (lists of dicts) so the charts and tables are built from the same figures
the tests check. Column names follow dbt_project/models/marts/*.yml.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from leadflow.sync.destinations import TYPE_LABELS as SYNC_TYPE_LABELS

TYPE_ORDER = ("conversion_qualified", "sql", "pql", "conversation_qualified", "mql")
# the qualification types' names as the sync's messages give them, plus the report's "any type" row
TYPE_LABELS = {**SYNC_TYPE_LABELS, "any": "any type"}
REQUIRED_MARTS = ("leads", "qualified_leads", "funnel_daily", "qualification_performance", "speed_to_lead")


class ReportUnavailable(RuntimeError):
    """The warehouse holds nothing to report on yet (no marts): said in one line, never a traceback."""


def _rows(conn: psycopg.Connection, query: str, params: Any = None) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return [dict(r) for r in cur.execute(query, params).fetchall()]


def _exists(conn: psycopg.Connection, qualified: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (qualified,)).fetchone()[0]


def check_marts(conn: psycopg.Connection) -> None:
    missing = [m for m in REQUIRED_MARTS if not _exists(conn, f"marts.{m}")]
    if missing:
        raise ReportUnavailable(
            f"the warehouse has no {', '.join('marts.' + m for m in missing)} yet: "
            "run the pipeline first (`leadflow run`, or `make demo`)"
        )


def overview(conn: psycopg.Connection) -> dict:
    leads = conn.execute("select count(*) from marts.leads").fetchone()[0]
    qualified = conn.execute("select count(*) from marts.qualified_leads").fetchone()[0]
    as_of = conn.execute("select max(as_of) from marts.qualification_performance").fetchone()[0]
    per_type = dict.fromkeys(TYPE_ORDER, 0)
    for row in _rows(
        conn, "select primary_type, count(*) as n from marts.qualified_leads group by primary_type order by 1"
    ):
        per_type[row["primary_type"]] = row["n"]
    return {"leads": leads, "qualified": qualified, "as_of": as_of, "qualified_by_primary_type": per_type}


def time_grain(conn: psycopg.Connection) -> str:
    """Weeks when the funnel spans more than 60 days, else days."""
    first, last = conn.execute("select min(funnel_day), max(funnel_day) from marts.funnel_daily").fetchone()
    return "week" if first and last and (last - first).days > 60 else "day"


def leads_over_time(conn: psycopg.Connection, grain: str) -> list[dict]:
    """New leads and leads first qualified per type (and any type) per period (funnel_daily)."""
    return _rows(
        conn,
        f"""
        select date_trunc('{grain}', funnel_day)::date as period, qualification_type,
               sum(new_leads)::bigint as new_leads, sum(new_qualified_leads)::bigint as new_qualified_leads
        from marts.funnel_daily
        group by 1, 2
        order by 1, 2
        """,
    )


def leads_by_source(conn: psycopg.Connection, grain: str) -> list[dict]:
    """Per lead source and period: new leads and leads first qualified for any type (funnel_daily, 'any')."""
    return _rows(
        conn,
        f"""
        select date_trunc('{grain}', funnel_day)::date as period, lead_source,
               sum(new_leads)::bigint as new_leads, sum(new_qualified_leads)::bigint as new_qualified_leads
        from marts.funnel_daily
        where qualification_type = 'any'
        group by 1, 2
        order by 1, 2
        """,
    )


def source_totals(conn: psycopg.Connection) -> list[dict]:
    """Per lead source over all days: leads, qualified, won, lead-to-customer conversion (funnel_daily, 'any')."""
    return _rows(
        conn,
        """
        select lead_source, sum(new_leads)::bigint as new_leads,
               sum(new_qualified_leads)::bigint as qualified,
               sum(new_leads_won)::bigint as won,
               round(sum(new_leads_won)::numeric / nullif(sum(new_leads), 0), 4) as lead_to_customer
        from marts.funnel_daily
        where qualification_type = 'any'
        group by 1
        order by 2 desc, 1
        """,
    )


def performance(conn: psycopg.Connection) -> list[dict]:
    """Conversion, lift, precision and recall per type and rule (qualification_performance)."""
    rows = _rows(
        conn,
        """
        select qualification_type, rule, conversion_window_days, lead_count, qualified_count, qualified_won_count,
               not_qualified_count, not_qualified_won_count, conversion_rate_qualified,
               conversion_rate_not_qualified, lift, precision, recall
        from marts.qualification_performance
        """,
    )
    rank = {t: i for i, t in enumerate(TYPE_ORDER)}
    return sorted(rows, key=lambda r: (rank.get(r["qualification_type"], 99), r["rule"] != "any", r["rule"]))


def days_to_qualify_and_won(conn: psycopg.Connection) -> list[dict]:
    """Per type: average days from creation to qualifying and from qualifying to the win, weighted by the day's
    leads (funnel_daily's daily averages)."""
    return _rows(
        conn,
        """
        select qualification_type,
               round(sum(avg_days_to_qualify * new_qualified_leads)
                     / nullif(sum(new_qualified_leads) filter (where avg_days_to_qualify is not null), 0), 2)
                   as avg_days_to_qualify,
               round(sum(avg_days_to_won * converted_leads)
                     / nullif(sum(converted_leads) filter (where avg_days_to_won is not null), 0), 2)
                   as avg_days_to_won,
               sum(new_qualified_leads)::bigint as qualified, sum(converted_leads)::bigint as converted
        from marts.funnel_daily
        group by 1
        """,
    )


def speed_to_lead(conn: psycopg.Connection) -> dict:
    """Sales' first touch against the SLA per primary type (speed_to_lead), and the sync's delivery inside the
    SLA per type (funnel_daily's sla_leads / delivered_in_sla_leads)."""
    touch = _rows(
        conn,
        """
        select primary_type,
               count(*) filter (where is_sla_met) as met,
               count(*) filter (where is_sla_met = false) as missed,
               count(*) filter (where is_sla_met is null) as pending,
               percentile_cont(0.5) within group (order by minutes_to_sync) as median_minutes_to_sync
        from marts.speed_to_lead
        group by 1
        """,
    )
    delivery = _rows(
        conn,
        """
        select qualification_type, sum(sla_leads)::bigint as sla_leads,
               sum(delivered_in_sla_leads)::bigint as delivered_in_sla
        from marts.funnel_daily
        group by 1
        """,
    )
    return {"touch": touch, "delivery": delivery}


def score_performance(conn: psycopg.Connection) -> dict | None:
    """Lift by decile of the active (else the latest) learned model beside its baseline (score_performance),
    and its calibration on the holdout (the model card in ops.score_models); None before any model exists."""
    if not _exists(conn, "marts.score_performance"):
        return None
    model = conn.execute(
        "select model_id, bool_or(is_active) from marts.score_performance group by model_id, trained_at "
        "order by bool_or(is_active) desc, trained_at desc limit 1"
    ).fetchone()
    if model is None:
        return None
    deciles = _rows(
        conn,
        "select score, score_detail, decile, holdout_rows, conversions, conversion_rate, lift, auc "
        "from marts.score_performance where model_id = %s order by score, decile",
        (model[0],),
    )
    calibration: list[dict] = []
    if _exists(conn, "ops.score_models"):
        found = conn.execute("select calibration from ops.score_models where model_id = %s", (model[0],)).fetchone()
        calibration = list(found[0] or []) if found else []
    return {"model_id": model[0], "is_active": model[1], "deciles": deciles, "calibration": calibration}


def gate_status(conn: psycopg.Connection) -> dict | None:
    """The latest quality gate run: pass or fail per suite, failed checks and warnings (ops.quality_runs)."""
    if not _exists(conn, "ops.quality_runs"):
        return None
    latest = conn.execute("select run_id from ops.quality_runs order by validated_at desc limit 1").fetchone()
    if latest is None:
        return None
    suites = _rows(
        conn,
        "select suite, success, evaluated, failed, details, warnings, validated_at from ops.quality_runs "
        "where run_id = %s order by suite",
        (latest[0],),
    )
    return {
        "run_id": latest[0],
        "success": all(s["success"] for s in suites),
        "evaluated": sum(s["evaluated"] for s in suites),
        "failed": sum(s["failed"] for s in suites),
        "validated_at": max(s["validated_at"] for s in suites),
        "suites": suites,
    }


def quarantine(conn: psycopg.Connection) -> dict:
    """Records kept out of raw per source and entity, all runs and the latest, and the commonest reasons."""
    if not _exists(conn, "ops.quarantine"):
        return {"by_entity": [], "reasons": [], "total": 0}
    by_entity = _rows(
        conn,
        """
        select source || '.' || entity as entity, count(*) as quarantined,
               count(*) filter (where run_id = (select run_id from ops.quarantine
                                                order by quarantined_at desc limit 1)) as latest_run
        from ops.quarantine group by 1 order by 2 desc, 1
        """,
    )
    reasons = _rows(
        conn,
        """
        select source || '.' || entity as entity, coalesce(field, '') as field,
               left(regexp_replace(reason, '''[^'']*''', '''…''', 'g'), 160) as reason, count(*) as records
        from ops.quarantine group by 1, 2, 3 order by 4 desc, 1, 2, 3 limit 15
        """,
    )
    return {"by_entity": by_entity, "reasons": reasons, "total": sum(r["quarantined"] for r in by_entity)}


def top_qualified(conn: psycopg.Connection, limit: int = 25) -> list[dict]:
    """The top qualified leads: by type precedence, then score (qualified_leads, as `leadflow summary` ranks)."""
    return _rows(
        conn,
        """
        select lead_id, email, primary_type, total_score, route, reasons_text, qualifying_event_at
        from marts.qualified_leads
        order by array_position(array['conversion_qualified','sql','pql','conversation_qualified','mql'],
                                primary_type), total_score desc, lead_id
        limit %s
        """,
        (limit,),
    )


def as_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return "" if value is None else str(value)
