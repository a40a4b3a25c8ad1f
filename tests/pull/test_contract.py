"""The raw contract's table names, and a warehouse made under an old name brought to the new one."""

from __future__ import annotations

import psycopg

from leadflow.pull.contract import BY_KEY, ENTITIES, ensure_raw_tables

OPPORTUNITY = BY_KEY["crm.opportunity"]


def test_tables_are_the_entities_in_the_plural() -> None:
    assert OPPORTUNITY.table == "crm_opportunities"
    assert {e.table for e in ENTITIES} >= {"crm_leads", "crm_accounts", "web_events", "quiz_responses"}


def test_a_warehouse_with_the_old_opportunities_table_keeps_its_rows_under_the_new_name(warehouse: str) -> None:
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("create schema raw")
        conn.execute(OPPORTUNITY.ddl().replace("raw.crm_opportunities", "raw.crm_opportunitys"))
        conn.execute("create index fastlane_crm_opportunitys_0 on raw.crm_opportunitys (lead_id)")
        conn.execute("insert into raw.crm_opportunitys (opportunity_id, lead_id) values ('O1', 'L1')")

        ensure_raw_tables(conn)
        ensure_raw_tables(conn)  # once renamed, nothing left to do

        assert conn.execute("select opportunity_id, lead_id from raw.crm_opportunities").fetchall() == [("O1", "L1")]
        assert conn.execute("select to_regclass('raw.crm_opportunitys')").fetchone()[0] is None
        indexes = {r[0] for r in conn.execute("select indexname from pg_indexes where tablename = 'crm_opportunities'")}
        assert indexes == {"crm_opportunities_pkey", "fastlane_crm_opportunities_0"}
