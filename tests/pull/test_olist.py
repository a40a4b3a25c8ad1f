"""Bring your own export: the real Olist marketing funnel through the CRM contract (sources.olist.yml).

Read from ../shared/datasets at test time; never copied into the repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from leadflow.settings import reset_settings

REPO = Path(__file__).resolve().parents[2]
OLIST = REPO.parent / "shared" / "datasets" / "olist_marketing_funnel"

pytestmark = pytest.mark.skipif(not OLIST.exists(), reason="the Olist dataset is not in ../shared/datasets")


@pytest.fixture
def olist(env, monkeypatch):
    monkeypatch.setenv("LEADFLOW_SOURCES_FILE", str(REPO / "sources.olist.yml"))
    monkeypatch.setenv("OLIST_DIR", str(OLIST))
    reset_settings()
    summary = env.pull("crm")
    return env, summary


def test_mqls_and_closed_deals_load_through_the_crm_contract(olist) -> None:
    env, summary = olist
    assert {k: (v["read"], v["loaded"], v["quarantined"]) for k, v in summary.items()} == {
        "crm.lead": (8000, 8000, 0),
        "crm.opportunity": (842, 842, 0),
    }
    assert [(a[1], a[2], a[3], a[4], a[5]) for a in env.audit()] == [
        ("crm", "lead", 8000, 8000, 0),
        ("crm", "opportunity", 842, 842, 0),
    ]
    lead = env.rows(
        "select lead_source, created_at::date::text, updated_at = created_at, landing_page_id, email "
        "from raw.crm_leads where lead_id = 'dac32acd4db4c29c230538b72f8dd87d'"
    )
    assert lead == [("social", "2018-02-01", True, "88740e65d5d6b056e0cda098e1ea6313", None)]
    deal = env.rows(
        "select o.lead_id, o.is_won, o.stage, o.closed_at::text, o.amount, o.created_at = l.created_at, "
        "o.business_segment, o.seller_id from raw.crm_opportunities o join raw.crm_leads l using (lead_id) "
        "where o.opportunity_id = 'a555fb36b9368110ede0f043dfc3b9a0'"
    )
    assert deal == [("a555fb36b9368110ede0f043dfc3b9a0", True, "closed_won", "2018-05-08 20:17:59+00", 0, True,
                     "car_accessories", "bbb7d7893a450660432ea6652310ebb7")]  # fmt: skip
    # Every deal belongs to an MQL: the lead-to-customer ratio of the real funnel.
    assert env.one("select count(*) from raw.crm_opportunities o join raw.crm_leads l using (lead_id)") == 842


def test_dirty_records_are_flagged_not_dropped(olist) -> None:
    env, _ = olist
    flags = dict(env.rows("select flag, count(*) from ops.record_flags group by 1"))
    assert flags == {"won_before_first_contact": 1, "origin_missing": 60}
    won_early = env.rows(
        "select o.opportunity_id, o.closed_at < o.created_at from ops.record_flags f "
        "join raw.crm_opportunities o on o.opportunity_id = f.record_key where f.flag = 'won_before_first_contact'"
    )
    assert won_early == [(won_early[0][0], True)]  # still loaded, and visibly dirty
    assert env.one("select count(*) from ops.quarantine") == 0


def test_reloading_the_export_changes_nothing(olist) -> None:
    env, _ = olist
    before = env.snapshot("raw.crm_opportunities"), env.rows("select * from ops.record_flags order by 1, 2, 3, 4")
    from leadflow.pull.run import pull_source

    from .conftest import AS_OF

    assert pull_source("crm", "run-2", AS_OF) == {
        "crm.lead": {"read": 0, "loaded": 0, "quarantined": 0, "seconds": pytest.approx(0, abs=60)},
        "crm.opportunity": {"read": 0, "loaded": 0, "quarantined": 0, "seconds": pytest.approx(0, abs=60)},
    }
    after = env.snapshot("raw.crm_opportunities"), env.rows("select * from ops.record_flags order by 1, 2, 3, 4")
    assert after == before
