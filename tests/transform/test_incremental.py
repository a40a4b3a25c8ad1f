"""An incremental dbt run and a full refresh give identical marts.

Demo data goes through the real pull and the real dbt project: a full build, then new raw rows land the
way the loader writes them (new web, marketing and product events for known people, a visitor who
identifies with a known email, events whose load committed late), an incremental `dbt run`, a snapshot
of every mart, a `dbt run --full-refresh` with the same as_of, and an order-independent comparison.
The second test shows the comparison catches a real defect: without the look-back the late rows are lost.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from ..conftest import _free_port
from .conftest import AS_OF, rows

LEADS = 600


def _pull_demo(landing, monkeypatch: pytest.MonkeyPatch) -> None:
    from leadflow.pull.contract import SOURCES
    from leadflow.pull.run import pull_source
    from leadflow.settings import reset_settings
    from leadflow_demo.api_server import CrmApiServer
    from leadflow_demo.generator import generate

    generate(landing, leads=LEADS, seed=23, as_of=AS_OF)
    port = _free_port()  # other sessions on this machine may hold the default API port
    monkeypatch.setenv("LEADFLOW_API_URL", f"http://127.0.0.1:{port}")
    reset_settings()
    with CrmApiServer(root=landing, port=port, max_rps=None):
        for source in SOURCES:
            pull_source(source, "demo-1", AS_OF)


def _copy_rows(conn, table: str, key: str, share: float, extra: dict[str, str]) -> int:
    """Copies of a share of a raw table's rows under new keys, with some columns replaced (SQL expressions)."""
    cols = [
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'raw' and table_name = %s "
            "order by ordinal_position",
            (table,),
        )
    ]
    values = {c: c for c in cols} | {key: f"{key} || '-new-' || md5(random()::text)"} | extra
    return conn.execute(
        f"insert into raw.{table} ({', '.join(cols)}) select {', '.join(values[c] for c in cols)} "
        f"from raw.{table} where md5({key}) < %s",
        (format(int(share * 16**8), "08x"),),
    ).rowcount


def land_new_events(url: str, late: bool) -> dict[str, int]:
    """~3% new events landed as the loader lands them (raw rows with _loaded_at and _batch_id)."""
    recent = f"timestamptz '{(AS_OF - timedelta(hours=30)).isoformat()}' + random() * interval '29 hours'"
    with psycopg.connect(url) as conn:
        newest = conn.execute("select max(_loaded_at) from raw.web_events").fetchone()[0]
        # a load that began before the last dbt run and committed after it: an older _loaded_at
        loaded = f"timestamptz '{(newest - timedelta(hours=1)).isoformat()}'" if late else "clock_timestamp()"
        added = {
            "web": _copy_rows(
                conn,
                "web_events",
                "event_id",
                0.03,
                {"occurred_at": recent, "_loaded_at": loaded, "_batch_id": "'inc'"},
            ),
            "marketing": _copy_rows(
                conn,
                "marketing_engagements",
                "engagement_id",
                0.03,
                {"occurred_at": recent, "_loaded_at": loaded, "_batch_id": "'inc'"},
            ),
            "product": _copy_rows(
                conn,
                "product_events",
                "event_id",
                0.03,
                {"occurred_at": recent, "_loaded_at": loaded, "_batch_id": "'inc'"},
            ),
        }
        # anonymous visitors identify with a known email: their earlier events move to that lead
        added["identified"] = conn.execute(
            f"""
            insert into raw.web_events (event_id, anonymous_id, email, event_type, page_path, occurred_at,
                                        _batch_id, _source_location, _loaded_at)
            select 'identify-' || anon.anonymous_id, anon.anonymous_id, lead.email, 'form_fill', '/contact',
                   {recent}, 'inc', 'test', {loaded}
            from (select anonymous_id from raw.web_events where email is null and anonymous_id is not null
                  group by anonymous_id having count(*) >= 3 order by anonymous_id limit 25) anon
            cross join lateral (select email from raw.crm_leads where email is not null
                                order by md5(anon.anonymous_id || lead_id) limit 1) lead
            """
        ).rowcount
        conn.commit()
    return added


def marts_fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent digest of every mart (table or view)."""
    names = [r[0] for r in rows(url, "select table_name from information_schema.tables where table_schema = 'marts'")]
    assert len(names) >= 10, names
    return {
        name: tuple(
            rows(
                url,
                f"select count(*), md5(coalesce(string_agg(h, '' order by h), '')) "
                f'from (select md5(t::text) as h from marts."{name}" t) d',
            )[0]  # fmt: skip
        )
        for name in sorted(names)
    }


@pytest.fixture
def built(warehouse: str, home, monkeypatch: pytest.MonkeyPatch):
    from leadflow.transform.dbt import run_dbt

    _pull_demo(home / "landing", monkeypatch)
    run_dbt(["build"], as_of=AS_OF)
    return warehouse


def _incremental_then_full(
    url: str, late: bool, extra_vars: dict | None = None, as_of=AS_OF, before_run=None
) -> tuple[dict, dict, dict]:
    from leadflow.transform.dbt import run_dbt

    before = marts_fingerprint(url)
    added = land_new_events(url, late=late)
    assert added["web"] > 100 and added["product"] > 20 and added["identified"] > 0, added
    if before_run:
        before_run(url)
    run_dbt(["run"], as_of=as_of, extra_vars=extra_vars)
    incremental = marts_fingerprint(url)
    run_dbt(["run", "--full-refresh"], as_of=as_of, extra_vars=extra_vars)
    full = marts_fingerprint(url)
    return before, incremental, full


def test_incremental_run_and_full_refresh_give_identical_marts(built) -> None:
    before, incremental, full = _incremental_then_full(built, late=True)
    assert incremental == full
    # the new events changed the marts (the comparison is not between two unchanged builds)
    changed = {name for name in before if full[name] != before[name]}
    assert {"lead_scores", "lead_score_contributions", "qualified_leads"} <= changed, changed
    # dim_leads, the deprecated name of leads, is a view on it: the same rows after either run
    assert incremental["dim_leads"] == incremental["leads"] and full["dim_leads"] == full["leads"]


def _suppress_a_queued_lead(url: str) -> None:
    """A consent export lands a suppression for a lead in the outreach queue (no event of that lead changes)."""
    with psycopg.connect(url) as conn:
        cols = [
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'raw' and table_name = 'consent_suppressions' order by ordinal_position"
            )
        ]
        values = {c: "null" for c in cols} | {
            "email": "queue.email",
            "reason": "'unsubscribed'",
            "added_at": "clock_timestamp()",
            "_batch_id": "'inc-consent'",
            "_source_location": "'test'",
            "_loaded_at": "clock_timestamp()",
        }
        added = conn.execute(
            f"insert into raw.consent_suppressions ({', '.join(cols)}) "
            f"select {', '.join(values[c] for c in cols)} from (select email from marts.outreach_queue "
            "order by queue_id limit 1) as queue"
        ).rowcount
        conn.commit()
    assert added == 1


def test_a_suppression_without_new_events_of_that_lead_reaches_the_marts(built) -> None:
    # Only a non-event source changed for this lead: no mart may keep its old rows.
    before, incremental, full = _incremental_then_full(built, late=False, before_run=_suppress_a_queued_lead)
    assert incremental == full
    assert full["outreach_queue"] != before["outreach_queue"]


def test_a_later_as_of_gives_the_marts_of_a_full_refresh(built) -> None:
    # The clock moves (scores decay, hot windows close, leads stop qualifying): every lead changes.
    before, incremental, full = _incremental_then_full(built, late=False, as_of=AS_OF + timedelta(hours=30))
    assert incremental == full
    assert full["qualified_leads"] != before["qualified_leads"]


def test_the_comparison_catches_rows_an_incremental_run_misses(built) -> None:
    # Without the look-back, rows whose load committed after the last run but carry an older
    # _loaded_at are never read by the incremental run: the marts must then differ.
    before, incremental, full = _incremental_then_full(built, late=True, extra_vars={"incremental_lookback_hours": 0})
    assert incremental != full
    assert incremental["lead_scores"] != full["lead_scores"]


def activation_fingerprint(url: str) -> tuple[int, str]:
    """int_workspace_activation's rows without its incremental bookkeeping columns."""
    bookkeeping = ("workspace_hash", "settings_hash", "built_as_of", "signals_processed_at")
    cols = [
        r[0]
        for r in rows(
            url,
            "select column_name from information_schema.columns "
            "where table_schema = 'intermediate' and table_name = 'int_workspace_activation' order by ordinal_position",
        )
        if r[0] not in bookkeeping
    ]
    select = ", ".join(cols)
    return tuple(
        rows(
            url,
            f"select count(*), md5(coalesce(string_agg(h, '' order by h), '')) "
            f"from (select md5(row({select})::text) as h from intermediate.int_workspace_activation) d",
        )[0]
    )


def test_events_past_the_as_of_count_once_a_later_as_of_passes_them(built) -> None:
    # Product events stamped after the as_of are loaded and processed but not counted; a later run whose
    # as_of passes them recomputes their workspaces only (not every workspace), and must count them.
    from leadflow.transform.dbt import run_dbt

    with psycopg.connect(built) as conn:
        future = f"timestamptz '{(AS_OF + timedelta(hours=2)).isoformat()}' + random() * interval '20 hours'"
        extra = {"occurred_at": future, "_loaded_at": "clock_timestamp()", "_batch_id": "'future'"}
        assert _copy_rows(conn, "product_events", "event_id", 0.05, extra) > 20
        conn.commit()
    # with events that count now in the same batch, the workspaces' processed watermark moves past them
    land_new_events(built, late=False)
    run_dbt(["run"], as_of=AS_OF)  # processed now, not counted yet
    before = activation_fingerprint(built)
    later = AS_OF + timedelta(hours=30)
    run_dbt(["run"], as_of=later)
    incremental = activation_fingerprint(built), marts_fingerprint(built)
    run_dbt(["run", "--full-refresh"], as_of=later)
    full = activation_fingerprint(built), marts_fingerprint(built)
    assert incremental == full
    assert full[0] != before  # the future events did change the workspaces once counted
