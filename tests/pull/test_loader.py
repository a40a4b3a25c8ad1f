"""The loader against the real embedded PostgreSQL: merge rules, drift, all-or-nothing units."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from leadflow.pull.batch import Batcher
from leadflow.pull.contract import BY_KEY
from leadflow.pull.loader import RawLoad, Unit
from leadflow.warehouse.ops import ensure_ops

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)
ENTITY = BY_KEY["marketing.engagement"]


def engagement(i: int, **overrides) -> dict:
    return {
        "engagement_id": f"M{i}",
        "email": f"person{i}@acme.com",
        "channel": "email",
        "action": "email_open",
        "asset_name": "newsletter",
        "occurred_at": "2026-11-10T10:00:00Z",
        **overrides,
    }


def load(url: str, records: list[dict], run_id: str = "run-1", crash: bool = False) -> dict:
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_ops(conn)
        conn.execute(ENTITY.ddl())
        job = RawLoad(conn, ENTITY, run_id, AS_OF, Unit(label="engagements.csv"))
        sink = Batcher(ENTITY, AS_OF, job.add_chunk)
        for n, record in enumerate(records, 1):
            sink.add(record, f"engagements.csv:{n + 1}")
        sink.reject("engagements.csv:99", "a,b", "malformed CSV row: expected 6 fields, got 2")
        summary = sink.finish()
        if crash:
            job.rollback(RuntimeError("worker killed"))
            return {}
        return job.commit(summary).__dict__


def raw(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("select *, xmin::text from raw.marketing_engagements order by 1").fetchall()


def test_good_rows_merge_and_bad_rows_are_quarantined_with_reasons(warehouse: str) -> None:
    records = [engagement(i) for i in range(5)]
    records.append(engagement(1, action="webinar_attended"))  # same key again in the batch
    records.append(engagement(9, email="nobody@"))
    result = load(warehouse, records)
    assert (result["read"], result["loaded"], result["quarantined"]) == (8, 5, 3)
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select count(*) from raw.marketing_engagements").fetchone()[0] == 5
        # The first occurrence of a duplicated key wins; the later one is kept in quarantine.
        action = conn.execute("select action from raw.marketing_engagements where engagement_id = 'M1'").fetchone()
        assert action[0] == "email_open"
        reasons = dict(conn.execute("select location, reason from ops.quarantine").fetchall())
        assert reasons["engagements.csv:7"] == "duplicate key in batch (first seen at engagements.csv:3)"
        assert reasons["engagements.csv:8"] == 'invalid email: "nobody@"'
        assert reasons["engagements.csv:99"] == "malformed CSV row: expected 6 fields, got 2"
        audit = conn.execute("select read, loaded, quarantined from ops.load_audit").fetchone()
        assert audit == (8, 5, 3)


def test_reloading_the_same_batch_does_not_touch_a_row(warehouse: str) -> None:
    records = [engagement(i) for i in range(50)]
    load(warehouse, records, "run-1")
    before = raw(warehouse)
    load(warehouse, records, "run-2")
    assert raw(warehouse) == before  # same content, same bookkeeping, same row versions (xmin)


def test_newer_versions_replace_older_ones_and_never_the_reverse(warehouse: str) -> None:
    load(warehouse, [engagement(1, occurred_at="2026-11-10T10:00:00Z", asset_name="v1")])
    load(warehouse, [engagement(1, occurred_at="2026-11-11T10:00:00Z", asset_name="v2")], "run-2")
    load(warehouse, [engagement(1, occurred_at="2026-11-09T10:00:00Z", asset_name="v0")], "run-3")  # late, older
    rows = raw(warehouse)
    assert [(r[4], r[6]) for r in rows] == [("v2", "run-2:engagements.csv")]


def test_schema_drift_adds_a_column(warehouse: str) -> None:
    load(warehouse, [engagement(1, **{"Campaign Id": "C-7", "score": 4})])
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select campaign_id, score from raw.marketing_engagements").fetchone() == ("C-7", "4")


def test_a_crash_before_commit_leaves_nothing(warehouse: str) -> None:
    load(warehouse, [engagement(1)], crash=True)
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select count(*) from raw.marketing_engagements").fetchone()[0] == 0
        assert conn.execute("select count(*) from ops.load_audit").fetchone()[0] == 0
        assert conn.execute("select count(*) from ops.quarantine").fetchone()[0] == 0


def test_values_that_need_escaping_survive_copy(warehouse: str) -> None:
    tricky = "tab\there, back\\slash, new\nline, cr\r, \\N, ünïcödé 🎉"
    load(warehouse, [engagement(1, asset_name=tricky)])
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select asset_name from raw.marketing_engagements").fetchone()[0] == tricky


@pytest.mark.parametrize("size", [1, 20_001])
def test_chunks_of_any_size_balance(warehouse: str, size: int) -> None:
    result = load(warehouse, [engagement(i) for i in range(size)])
    assert (result["read"], result["loaded"], result["quarantined"]) == (size + 1, size, 1)
