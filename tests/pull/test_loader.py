"""The loader against the real embedded PostgreSQL: merge, quarantine, audit balance, idempotency."""

from datetime import UTC, datetime

import psycopg
import pytest

from leadflow.pull.contract import BY_KEY
from leadflow.pull.loader import RawLoad
from leadflow.warehouse.db import ensure_ops_schema

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


def load(url: str, records: list[dict], run_id: str = "run-1") -> dict:
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_ops_schema(conn)
        conn.execute(ENTITY.ddl())
        job = RawLoad(conn, ENTITY, run_id, AS_OF)
        for n, record in enumerate(records, 1):
            job.add(record, f"engagements.csv:{n + 1}")
        job.reject_unparsed("engagements.csv:99", "a,b", "malformed CSV row: expected 6 fields, got 2")
        result = job.commit()
    return result.__dict__


def test_good_rows_merge_and_bad_rows_are_quarantined_with_reasons(warehouse: str) -> None:
    records = [engagement(i) for i in range(5)]
    records.append(engagement(1, action="webinar_attended"))  # same key again in the batch
    records.append(engagement(9, email="nobody@"))
    result = load(warehouse, records)
    assert (result["read"], result["loaded"], result["quarantined"]) == (8, 5, 3)
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select count(*) from raw.marketing_engagements").fetchone()[0] == 5
        # The first occurrence of a duplicated key wins; the later one is kept in quarantine.
        assert conn.execute("select action from raw.marketing_engagements where engagement_id = 'M1'").fetchone()[
            0
        ] == ("email_open")
        reasons = dict(conn.execute("select location, reason from ops.quarantine").fetchall())
        assert reasons["engagements.csv:7"].startswith("duplicate key in batch (first seen at engagements.csv:3)")
        assert reasons["engagements.csv:8"].startswith("invalid email")
        assert reasons["engagements.csv:99"].startswith("malformed CSV row")
        audit = conn.execute("select read, loaded, quarantined from ops.load_audit").fetchone()
        assert audit == (8, 5, 3)


def test_reloading_the_same_batch_changes_nothing(warehouse: str) -> None:
    records = [engagement(i) for i in range(50)]
    load(warehouse, records, "run-1")
    with psycopg.connect(warehouse) as conn:
        before = conn.execute("select * from raw.marketing_engagements order by 1").fetchall()
    load(warehouse, records, "run-2")
    with psycopg.connect(warehouse) as conn:
        after = conn.execute("select * from raw.marketing_engagements order by 1").fetchall()
    strip = [r[:-3] for r in before], [r[:-3] for r in after]  # bookkeeping columns differ by run
    assert strip[0] == strip[1]
    assert len(after) == 50


def test_schema_drift_adds_a_column(warehouse: str) -> None:
    load(warehouse, [engagement(1, **{"Campaign Id": "C-7"})])
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select campaign_id from raw.marketing_engagements").fetchone()[0] == "C-7"


def test_a_crash_before_commit_leaves_nothing(warehouse: str) -> None:
    with psycopg.connect(warehouse, autocommit=True) as conn:
        ensure_ops_schema(conn)
        conn.execute(ENTITY.ddl())
        job = RawLoad(conn, ENTITY, "run-1", AS_OF)
        job.add(engagement(1), "x:1")
        with pytest.raises(RuntimeError):
            try:
                raise RuntimeError("worker killed")
            except RuntimeError as err:
                job.rollback(err)
                raise
        assert conn.execute("select count(*) from raw.marketing_engagements").fetchone()[0] == 0
        assert conn.execute("select count(*) from ops.load_audit").fetchone()[0] == 0
