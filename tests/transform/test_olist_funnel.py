"""funnel_daily on the real Olist marketing funnel: conversion by origin equals what the CSVs say.

The export is read from ../shared/datasets at test time (never copied), loaded through the pull with
sources.olist.yml, transformed by the real dbt project, and compared with a count straight from the files.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import scratch_warehouse

from .conftest import AS_OF, create_raw_tables, rows

REPO = Path(__file__).resolve().parents[2]
OLIST = REPO.parent / "shared" / "datasets" / "olist_marketing_funnel"
UNKNOWN_SOURCE = "not_set"  # dbt var funnel_unknown_lead_source

pytestmark = pytest.mark.skipif(not OLIST.exists(), reason="the Olist dataset is not in ../shared/datasets")


def _truth() -> dict:
    """MQLs, closed deals and dirty records per origin, straight from the two CSVs."""
    with (OLIST / "olist_marketing_qualified_leads_dataset.csv").open(newline="") as f:
        mqls = {r["mql_id"]: r for r in csv.DictReader(f)}
    with (OLIST / "olist_closed_deals_dataset.csv").open(newline="") as f:
        deals = list(csv.DictReader(f))
    origin = {mql_id: (r["origin"] or UNKNOWN_SOURCE) for mql_id, r in mqls.items()}
    won = {d["mql_id"] for d in deals if d["mql_id"] in mqls}
    return {
        "mqls": Counter(origin.values()),
        "deals": Counter(origin[m] for m in won),
        "origin_missing": sum(1 for r in mqls.values() if not r["origin"]),
        "origin_missing_ids": {m for m, r in mqls.items() if not r["origin"]},
        "won_early": sorted(
            d["mql_id"]
            for d in deals
            if d["mql_id"] in mqls and d["won_date"][:10] < mqls[d["mql_id"]]["first_contact_date"]
        ),
    }


@pytest.fixture(scope="module")
def olist_marts(server_url: str, tmp_path_factory: pytest.TempPathFactory):
    from leadflow.pull.run import pull_source
    from leadflow.transform.dbt import run_dbt

    root = tmp_path_factory.mktemp("olist")
    env = {
        "LEADFLOW_LANDING_DIR": str(root / "landing"),
        "LEADFLOW_SOURCES_FILE": str(REPO / "sources.olist.yml"),
        "OLIST_DIR": str(OLIST),
    }
    with scratch_warehouse(server_url, "olist", **env) as url:
        summary = pull_source("crm", "olist", AS_OF)
        assert summary["crm.lead"]["loaded"] == 8000, summary
        create_raw_tables(url)  # the other sources are not in the export: empty
        run_dbt(["build"], as_of=AS_OF)  # the whole project, its tests included
        yield url


def test_funnel_daily_reproduces_the_true_conversion_by_origin(olist_marts) -> None:
    truth = _truth()
    funnel = rows(
        olist_marts,
        "select lead_source, sum(new_leads)::int, sum(new_leads_won)::int from marts.funnel_daily "
        "where qualification_type = 'any' group by lead_source",
    )
    assert {source: (leads, won) for source, leads, won in funnel} == {
        source: (truth["mqls"][source], truth["deals"][source]) for source in truth["mqls"]
    }
    # the same figures on every type's rows (new leads do not depend on the type)
    per_type = rows(
        olist_marts,
        "select count(distinct (lead_source, leads, won)) from (select qualification_type, lead_source, "
        "sum(new_leads) as leads, sum(new_leads_won) as won from marts.funnel_daily group by 1, 2) t",
    )
    assert per_type == [(len(truth["mqls"]),)]
    # conversion rates as a reader would compute them: closed deals / MQLs per origin
    rates = dict(
        rows(
            olist_marts,
            "select lead_source, round(sum(new_leads_won)::numeric / sum(new_leads), 6)::float "
            "from marts.funnel_daily where qualification_type = 'any' group by 1",
        )
    )
    for source, mqls in truth["mqls"].items():
        assert rates[source] == pytest.approx(truth["deals"][source] / mqls, abs=1e-6), source
    assert truth["deals"]["paid_search"] > 0 and sum(truth["deals"].values()) == 842


def test_dirty_records_the_pull_flagged_reach_leads(olist_marts) -> None:
    truth = _truth()
    flagged = dict(
        rows(
            olist_marts,
            "select flag, count(*) from marts.leads, unnest(string_to_array(data_quality_flags, ', ')) as flag "
            "group by flag",
        )
    )
    assert flagged == {
        "lead.origin_missing": truth["origin_missing"],
        "opportunity.won_before_first_contact": len(truth["won_early"]),
    }
    won_early = rows(
        olist_marts,
        "select lead_id from marts.leads "
        "where 'opportunity.won_before_first_contact' = any(string_to_array(data_quality_flags, ', '))",
    )
    assert sorted(r[0] for r in won_early) == truth["won_early"]
    clean = rows(olist_marts, "select count(*) from marts.leads where data_quality_flags is null")[0][0]
    assert clean == 8000 - truth["origin_missing"] - len(set(truth["won_early"]) - truth["origin_missing_ids"])


def test_lead_to_customer_ratio_and_days_to_won_cover_every_lead(olist_marts) -> None:
    """Nothing qualifies under the default rules on Olist, yet the funnel shows its lead-to-customer figures."""
    from datetime import datetime

    with (OLIST / "olist_marketing_qualified_leads_dataset.csv").open(newline="") as f:
        created = {r["mql_id"]: datetime.fromisoformat(r["first_contact_date"]) for r in csv.DictReader(f)}
    with (OLIST / "olist_closed_deals_dataset.csv").open(newline="") as f:
        days = [
            (datetime.fromisoformat(d["won_date"]) - created[d["mql_id"]]).total_seconds() / 86400
            for d in csv.DictReader(f)
            if d["mql_id"] in created
        ]
    [(leads, won, share, mean)] = rows(
        olist_marts,
        "select sum(new_leads)::int, sum(new_leads_won)::int, round(sum(new_leads_won)::numeric / sum(new_leads), 4), "
        "round(sum(new_leads_avg_days_to_won * new_leads_won) / sum(new_leads_won), 1) "
        "from marts.funnel_daily where qualification_type = 'any'",
    )
    assert (leads, won) == (len(created), len(days))
    assert float(share) == pytest.approx(len(days) / len(created), abs=1e-4)
    assert float(mean) == pytest.approx(sum(days) / len(days), abs=0.05)  # (per-day averages are rounded to 0.01)
    assert rows(olist_marts, "select count(*) from marts.qualified_leads")[0][0] == 0
    # every day's share is its own won / new
    assert rows(
        olist_marts,
        "select count(*) from marts.funnel_daily where new_leads > 0 "
        "and new_leads_won_share <> round(new_leads_won::numeric / new_leads, 4)",
    ) == [(0,)]
