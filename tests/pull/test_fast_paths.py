"""The fast paths of the pull keep every behaviour of the careful ones.

* new rows are COPYed straight into raw; the first key already there sends the rest of the unit
  through the stage merge, with the same result;
* rows go to COPY in key order within a chunk, each with its own location;
* a bad record re-read by a later run (a look-back window) stays in quarantine once;
* the API client paces itself: under a configured quota, or under the one its first 429s teach it.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from leadflow.pull import batch
from leadflow.pull.batch import Batcher
from leadflow.pull.readers import SourceError
from leadflow_demo.api_server import CrmApiServer

from .conftest import AS_OF
from .test_loader import ENTITY, engagement
from .test_rest_api import configure, lead, serve


def load_unit(url: str, records: list[dict], run_id: str):
    from leadflow.pull.loader import RawLoad, Unit
    from leadflow.warehouse.ops import ensure_ops

    with psycopg.connect(url, autocommit=True) as conn:
        ensure_ops(conn)
        conn.execute(ENTITY.ddl())
        job = RawLoad(conn, ENTITY, run_id, AS_OF, Unit(label=f"{run_id}.csv"))
        sink = Batcher(ENTITY, AS_OF, job.add_chunk)
        for n, record in enumerate(records, 2):
            sink.add(record, f"{run_id}.csv:{n}")
        result = job.commit(sink.finish())
        return job, result


def test_new_rows_go_straight_into_raw_and_known_keys_merge(warehouse: str, monkeypatch) -> None:
    monkeypatch.setattr(batch, "CHUNK_ROWS", 10)
    first, result = load_unit(warehouse, [engagement(i) for i in range(30)], "run-1")
    assert (first.direct_rows, first.staged_rows) == (30, 0)
    assert (result.read, result.loaded, result.quarantined) == (30, 30, 0)
    # 10 new keys first (the first chunk: straight in), then 30 known ones with newer content and 10 more
    # new ones (the next chunk meets a known key: it goes through the stage and the merge).
    later = "2026-11-12T10:00:00Z"
    records = [engagement(i) for i in range(100, 110)]
    records += [engagement(i, asset_name="v2", occurred_at=later) for i in range(30)]
    records += [engagement(i) for i in range(110, 120)]
    second, result = load_unit(warehouse, records, "run-2")
    assert (second.direct_rows, second.staged_rows) == (10, 40)
    assert (result.read, result.loaded, result.quarantined) == (50, 50, 0)
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(
            "select asset_name, _batch_id, count(*) from raw.marketing_engagements group by 1, 2 order by 1, 2"
        ).fetchall()
        assert rows == [("newsletter", "run-2:run-2.csv", 20), ("v2", "run-2:run-2.csv", 30)]
        loaded_at = conn.execute("select distinct _loaded_at from raw.marketing_engagements").fetchall()
        assert loaded_at == [(AS_OF,)]
    # The same unit again: everything known, nothing changes (not even the row versions).
    with psycopg.connect(warehouse) as conn:
        before = conn.execute("select *, xmin::text from raw.marketing_engagements order by 1").fetchall()
    third, _ = load_unit(warehouse, records, "run-2")
    assert third.direct_rows == 0
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select *, xmin::text from raw.marketing_engagements order by 1").fetchall() == before


def test_rows_are_copied_in_key_order_within_a_chunk(warehouse: str) -> None:
    chunks = []
    sink = Batcher(ENTITY, AS_OF, chunks.append)
    for n, i in enumerate([5, 3, 9, 1], 2):
        sink.add(engagement(i), f"e.csv:{n}")
    sink.finish()
    keys = [line.split(b"\t")[0] for line in chunks[0].rows.splitlines()]
    assert keys == [b"M1", b"M3", b"M5", b"M9"]
    # Each row still carries the location it was read from.
    assert [line.split(b"\t")[-2] for line in chunks[0].rows.splitlines()] == [
        b"e.csv:5",
        b"e.csv:3",
        b"e.csv:2",
        b"e.csv:4",
    ]


def test_a_bad_record_re_read_in_the_look_back_is_quarantined_once(env) -> None:
    with CrmApiServer(root=env.landing, max_rps=None) as api:
        bad = lead(30, "2026-11-10T09:30:00Z", email="nobody@")
        keyless = {"id": "L31", "updatedAt": "2026-11-10T09:40:00Z"}  # no properties: same payload each time
        serve(env, [lead(i, f"2026-11-10T{i:02d}:00:00Z") for i in range(10)] + [bad, keyless])
        configure(env, api, lookback_hours=3)
        assert env.pull("crm")["crm.lead"]["quarantined"] == 2
        # Two later runs re-read the window that holds the bad records.
        for run, hours in (("run-2", 1), ("run-3", 2)):
            assert env.pull("crm", run, AS_OF + timedelta(hours=hours))["crm.lead"]["quarantined"] == 2
        env.pull("crm", "run-3", AS_OF + timedelta(hours=2))  # Airflow re-runs run-3
    rows = env.rows(
        "select run_id, record_key, reason, last_seen_run_id, times_seen from ops.quarantine order by reason"
    )
    assert rows == [
        ("run-1", None, "API object without properties", "run-3", 3),
        ("run-1", "L30", 'invalid email: "nobody@"', "run-3", 3),
    ]
    # Every run still accounts for what it read: read = loaded + quarantined.
    assert [(a[0], a[4] + a[5] == a[3], a[5]) for a in env.audit()] == [
        ("run-1", True, 2),
        ("run-2", True, 2),
        ("run-3", True, 2),
    ]


def test_a_configured_rate_limit_never_provokes_a_429(env) -> None:
    with CrmApiServer(root=env.landing, max_rps=10) as api:
        serve(env, [lead(i) for i in range(150)])
        configure(env, api, rate_limit="9/s")
        assert env.pull("crm")["crm.lead"]["loaded"] == 150
        stats = api.stats()
        assert stats["by_path"]["/crm/v3/objects/leads"] == 15
        assert stats["rate_limited"] == 0


def test_without_a_limit_the_client_learns_one_from_the_first_429s(env, caplog) -> None:
    with CrmApiServer(root=env.landing, max_rps=10) as api:
        serve(env, [lead(i) for i in range(400)])
        configure(env, api)
        assert env.pull("crm")["crm.lead"]["loaded"] == 400
        stats = api.stats()
    assert 0 < stats["rate_limited"] <= 6  # without pacing, every burst after a pause would hit the limit again
    assert any("pacing to" in r.message for r in caplog.records)


def test_a_bad_rate_limit_names_the_setting(env) -> None:
    with CrmApiServer(root=env.landing, max_rps=None) as api:
        serve(env, [lead(1)])
        configure(env, api, rate_limit="fast please")
        with pytest.raises(SourceError, match="rate_limit"):
            env.pull("crm")


TRICKY = ["two\nlines", "tab\there", "back\\slash", "cr\rhere", "plain"]


def test_parquet_rows_with_line_breaks_tabs_and_backslashes_load_exactly(env) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .test_files import FILES, events

    env.configure(FILES)
    rows = events(1, len(TRICKY) + 2)
    for row, value in zip(rows, TRICKY, strict=False):
        row["page_path"] = value
    rows[-2]["page_path"] = "bell\x07"  # a control character: quarantined
    rows[-1]["page_path"] = "x" * 10_001  # over the limit: quarantined
    (env.landing / "web").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), env.landing / "web" / "events_01.parquet")
    assert env.pull("web")["web.event"]["loaded"] == len(TRICKY)
    assert sorted(r[0] for r in env.rows("select page_path from raw.web_events")) == sorted(TRICKY)
    assert sorted(env.quarantine()) == [
        ("web/events_01.parquet:row 6", "page_path", "control characters in field"),
        ("web/events_01.parquet:row 7", "page_path", "oversize field: 10001 characters (limit 10000)"),
    ]


def test_api_values_with_line_breaks_load_exactly(env) -> None:
    with CrmApiServer(root=env.landing, max_rps=None) as api:
        serve(env, [lead(i, title=value) for i, value in enumerate(TRICKY)])
        configure(env, api)
        assert env.pull("crm")["crm.lead"]["loaded"] == len(TRICKY)
    assert sorted(r[0] for r in env.rows("select title from raw.crm_leads")) == sorted(TRICKY)
