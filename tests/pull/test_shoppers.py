"""Bring your own export: the real Online Shoppers Purchasing Intention CSV, as it is, through sources.shoppers.yml.

No id column, no dates (a Month like "Feb"), semicolons, TRUE/FALSE: generated keys, a value map and the
schema-drift path carry it into the CRM contract with no preprocessing. Read from ../shared/datasets at test
time; never copied into the repository.
"""

from __future__ import annotations

import csv
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from leadflow.settings import reset_settings

REPO = Path(__file__).resolve().parents[2]
SHOPPERS = REPO.parent / "shared" / "datasets" / "online_shoppers_intention"
CSV = SHOPPERS / "online_shoppers_intention.csv"

pytestmark = pytest.mark.skipif(not CSV.exists(), reason="the shoppers dataset is not in ../shared/datasets")


def _truth() -> list[dict]:
    with CSV.open(newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


@pytest.fixture
def shoppers(env, monkeypatch):
    monkeypatch.setenv("LEADFLOW_SOURCES_FILE", str(REPO / "sources.shoppers.yml"))
    monkeypatch.setenv("SHOPPERS_DIR", str(SHOPPERS))
    reset_settings()
    return env, env.pull("crm")


def test_every_session_is_a_lead_and_an_opportunity(shoppers) -> None:
    env, summary = shoppers
    assert {k: (v["read"], v["loaded"], v["quarantined"]) for k, v in summary.items()} == {
        "crm.lead": (12330, 12330, 0),
        "crm.opportunity": (12330, 12330, 0),
    }
    truth = _truth()
    assert env.one("select count(*) from raw.crm_opportunities where is_won") == 1908
    assert dict(env.rows("select stage, count(*) from raw.crm_opportunities group by 1")) == {
        "closed_won": 1908,
        "closed_lost": 12330 - 1908,
    }
    # one opportunity per lead, keyed like it, dated like it
    assert env.rows(
        "select count(*), count(*) filter (where o.created_at = l.created_at and o.closed_at = l.created_at "
        "and o.opportunity_id = o.lead_id) from raw.crm_opportunities o join raw.crm_leads l using (lead_id)"
    ) == [(12330, 12330)]
    # the first data row (line 2 of the file) and the last
    first, last = truth[0], truth[-1]
    lead = env.rows(
        "select lead_id, created_at::date::text, updated_at = created_at, first_touch_at = created_at, "
        "visitortype, weekend, productrelated_duration from raw.crm_leads where lead_id in ('shopper-2', 'shopper-12331') "
        "order by created_at"
    )
    assert lead == [
        ("shopper-2", "2017-02-01", True, True, first["VisitorType"], first["Weekend"],
         first["ProductRelated_Duration"]),
        ("shopper-12331", "2017-11-01", True, True, last["VisitorType"], last["Weekend"],
         last["ProductRelated_Duration"]),
    ]  # fmt: skip
    months = Counter(r["Month"] for r in truth)
    by_month = dict(env.rows("select to_char(created_at, 'MM'), count(*) from raw.crm_leads group by 1"))
    assert sorted(by_month.values()) == sorted(months.values()) and by_month["06"] == months["June"]


def test_session_aggregates_stay_numbers_and_the_outcome_stays_out_of_the_lead(shoppers) -> None:
    env, _ = shoppers
    truth = _truth()
    sums = env.rows(
        "select sum(pagevalues::numeric), sum(productrelated_duration::numeric), sum(bouncerates::numeric), "
        "sum(administrative::int) from raw.crm_leads"
    )[0]
    assert sums == (
        sum(Decimal(r["PageValues"]) for r in truth),
        sum(Decimal(r["ProductRelated_Duration"]) for r in truth),
        sum(Decimal(r["BounceRates"]) for r in truth),
        sum(int(r["Administrative"]) for r in truth),
    )
    lead_columns = {r[0] for r in env.rows(
        "select column_name from information_schema.columns where table_schema = 'raw' and table_name = 'crm_leads'"
    )}  # fmt: skip
    assert {"pagevalues", "traffictype", "visitortype", "weekend", "specialday"} <= lead_columns
    assert "revenue" not in lead_columns and "month" not in lead_columns  # the label cannot leak into features
    opportunity_columns = {r[0] for r in env.rows(
        "select column_name from information_schema.columns where table_schema = 'raw' "
        "and table_name = 'crm_opportunities' and column_name not like '\\_%'"
    )}  # fmt: skip
    from leadflow.pull.contract import BY_KEY

    assert opportunity_columns == set(BY_KEY["crm.opportunity"].columns)  # extra_columns: false


def test_templates_value_maps_and_ignore_on_a_small_export(env) -> None:
    env.write("crm/a.csv", "Region;Month;Bought;Note\n3;Feb;TRUE;x\n4;Mar;FALSE;y\n5;Smarch;TRUE;z\n")
    env.configure({"crm": {"kind": "files", "format": "csv", "delimiter": ";", "entities": {"lead": {
        "pattern": "crm/*.csv",
        "map": {
            "lead_id": {"template": "{_file}#{_line}-r{Region}"},
            "created_at": {"field": "Month", "values": {"Feb": "2017-02-01", "Mar": "2017-03-01"}},
            "updated_at": {"field": "Month", "values": {"Feb": "2017-02-01", "Mar": "2017-03-01"}},
        },
        "ignore": ["Bought"],
    }}}})  # fmt: skip
    assert env.pull("crm")["crm.lead"]["loaded"] == 2
    assert env.rows("select lead_id, created_at::date::text, note from raw.crm_leads order by 1") == [
        ("crm/a.csv#2-r3", "2017-02-01", "x"),
        ("crm/a.csv#3-r4", "2017-03-01", "y"),
    ]
    # a value the map does not know passes unchanged, and the validator names it
    assert env.quarantine() == [("crm/a.csv:4", "created_at", 'invalid timestamp: "Smarch"')]
    assert "bought" not in {r[0] for r in env.rows(
        "select column_name from information_schema.columns where table_name = 'crm_leads'"
    )}  # fmt: skip


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ({"template": "lead"}, "names no field"),
        ({"template": "x-{Id:>5}"}, "no format specs"),
        ({"field": "Won", "values": {True: "closed_won"}}, "quote it"),
    ],
)
def test_mapping_mistakes_are_named(env, how, message) -> None:
    from leadflow.pull.readers import SourceError

    env.write("crm/a.csv", "Id;Won\n1;TRUE\n")
    env.configure({"crm": {"kind": "files", "format": "csv", "delimiter": ";", "entities": {"lead": {
        "pattern": "crm/*.csv", "map": {"lead_id": how}}}}})  # fmt: skip
    with pytest.raises(SourceError, match=message):
        env.pull("crm")
