"""Learned scoring end to end on a real warehouse: point-in-time training set, training, activation, and dbt
applying the exported points exactly as the trainer reads them."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest

from tests.learn.conftest import seed_export
from tests.transform.conftest import AS_OF, rows

BUILD = ["build", "--exclude", "resource_type:unit_test"]


def _training_rows(url: str) -> tuple[list, list]:
    examples = rows(url, "select lead_id, cutoff_at, label from learning.learn_training_examples order by 1, 2")
    features = rows(
        url,
        "select lead_id, cutoff_at, feature, value_num, value_text from learning.learn_training_features"
        " order by 1, 2, 3",
    )
    return examples, features


@pytest.fixture(scope="module")
def export_warehouse(server_url: str):
    from tests.conftest import scratch_warehouse

    with scratch_warehouse(server_url, "learn") as url:
        from leadflow.learn.dataset import build_training_set
        from leadflow.transform.dbt import run_dbt

        seed_export(url)
        run_dbt(BUILD, as_of=AS_OF)
        build_training_set(AS_OF)
        yield url


def test_training_rows_do_not_change_when_events_move_past_the_cutoff(export_warehouse: str) -> None:
    from leadflow.learn.dataset import build_training_set
    from leadflow.transform.dbt import run_dbt

    url = export_warehouse
    before = _training_rows(url)
    examples, features = before
    assert len(examples) > 500 and {e[2] for e in examples} == {0, 1}
    assert any(f[2] == "crm:segment" for f in features) and any(f[2] == "signal:page_view:count" for f in features)

    # every event after a lead's last cutoff moves further out, and new behaviour arrives after it
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "update raw.web_events as e set occurred_at = e.occurred_at + interval '200 days', _batch_id = 'b2',"
            " _loaded_at = now() from raw.crm_leads as l"
            " where lower(l.email) = e.email and e.occurred_at > l.created_at + interval '30 days'"
        )
        conn.execute(
            "insert into raw.web_events (event_id, email, event_type, occurred_at, _batch_id, _loaded_at)"
            " select 'late-' || lead_id, email, 'demo_request', created_at + interval '31 days', 'b2', now()"
            " from raw.crm_leads"
        )
    run_dbt(BUILD, as_of=AS_OF)
    build_training_set(AS_OF)
    assert _training_rows(url) == before

    # and the same move *before* a cutoff does change them (the test can fail)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into raw.web_events (event_id, email, event_type, occurred_at, _batch_id, _loaded_at)"
            " select 'early-' || lead_id, email, 'demo_request', created_at - interval '1 hour', 'b3', now()"
            " from raw.crm_leads"
        )
    run_dbt(BUILD, as_of=AS_OF)
    build_training_set(AS_OF)
    assert _training_rows(url)[1] != before[1]


def _wide_current_features(url: str, model) -> pd.DataFrame:
    long = pd.DataFrame(
        rows(url, "select lead_id, feature, value_num, value_text from learning.learn_lead_features"),
        columns=["lead_id", "feature", "value_num", "value_text"],
    )
    leads = [r[0] for r in rows(url, "select lead_id from marts.lead_scores order by lead_id")]
    frame = pd.DataFrame(index=leads)
    for fb in model.features:
        part = long[long["feature"] == fb.feature].set_index("lead_id")
        column = part["value_num"] if fb.kind == "numeric" else part["value_text"]
        frame[fb.feature] = column.reindex(leads).astype(float if fb.kind == "numeric" else object)
        if fb.kind != "numeric":
            frame[fb.feature] = frame[fb.feature].where(frame[fb.feature].notna(), None)
    return frame


def test_a_model_that_learns_the_export_is_proposed_activated_and_applied_by_dbt(export_warehouse: str) -> None:
    from leadflow.learn.train import LearnError, activate, load_model, train
    from leadflow.transform.dbt import run_dbt

    url = export_warehouse
    card = train(url, as_of=AS_OF, algorithms=("scorecard",), build=False)
    assert card.recommended, card.message
    assert card.row["holdout_auc"] > card.row["baseline_holdout_auc"] + 0.1  # the rules see no signal here
    assert "crm:segment" in card.row["features"].obj and "crm:budget" in card.row["features"].obj
    assert rows(url, "select status from ops.score_models where model_id = %s", (card.model_id,)) == [("proposed",)]
    # nothing is scored until a person activates it
    run_dbt(BUILD, as_of=AS_OF)
    assert rows(url, "select count(*) from marts.lead_scores where conversion_probability is not null") == [(0,)]

    # a model that cannot clear learn_min_positives stays proposed and needs --force
    weak = train(url, as_of=AS_OF, algorithms=("scorecard",), build=False, overrides={"learn_min_positives": 10**6})
    assert not weak.recommended and "learn_min_positives" in weak.message
    with pytest.raises(LearnError, match="not recommended"):
        activate(url, weak.model_id, by="test")

    # every feature family reaches the model, so the parity check below covers each way dbt reads one
    families = {f.split(":")[0] for f in card.row["features"].obj}
    assert {"signal", "conversation", "quiz", "lead", "account", "crm", "web"} <= families, families
    for feature in ("account:tier", "conversation:topic:pricing", "web:minutes_on_site", "web:session_page_views"):
        assert feature in card.row["features"].obj, feature
    activate(url, card.model_id, by="test")
    run_dbt([*BUILD, "--vars", '{"mql_score": "learned"}'], as_of=AS_OF)
    model = load_model(psycopg.connect(url), card.model_id)
    expected = model.probability(_wide_current_features(url, model))
    got = [float(r[0]) for r in rows(url, "select conversion_probability from marts.lead_scores order by lead_id")]
    assert np.allclose(got, expected, atol=1e-9)

    # the learned score ranks by the columns that decide the outcome, and says so in the reasons
    by_segment = dict(
        rows(
            url,
            "select l.segment, avg(s.conversion_probability) from marts.lead_scores s"
            " join raw.crm_leads l using (lead_id) group by 1",
        )
    )
    assert by_segment["enterprise"] > by_segment["mid"] > by_segment["small"]
    mqls = rows(url, "select reasons_text from marts.qualified_leads where is_mql")
    assert mqls, "mql_score learned qualifies the leads above the model's threshold"
    assert all("learned conversion probability" in r[0] for r in mqls)
    assert any("learned score: segment is enterprise" in r[0] for r in mqls)
    contributions = rows(
        url,
        "select count(*) from marts.lead_score_contributions where category = 'learned' and signal_name = 'crm:segment'",
    )
    assert contributions[0][0] > 0
    performance = rows(url, "select score, count(*) from marts.score_performance group by 1 order by 1")
    assert performance == [("learned", 20), ("rules", 20)]  # two models trained, 10 deciles each
    # retraining now compares with the active model, not the rules
    again = train(url, as_of=AS_OF, algorithms=("scorecard",), build=False)
    assert again.row["baseline_name"] == f"active model {card.model_id}"
    assert AS_OF - timedelta(days=400) < again.row["holdout_start"] < AS_OF


def test_a_column_that_records_the_outcome_is_left_out_and_named(export_warehouse: str) -> None:
    from leadflow.learn.dataset import build_training_set
    from leadflow.learn.train import train

    url = export_warehouse
    with psycopg.connect(url, autocommit=True) as conn:
        # as a CRM export often carries it: the lead's outcome, recorded on the lead after the fact
        conn.execute("alter table raw.crm_leads add column converted text")
        conn.execute(
            "update raw.crm_leads l set converted = case when exists (select 1 from raw.crm_opportunities o"
            " where o.lead_id = l.lead_id and o.is_won) then 'Yes' else 'No' end"
        )
    try:
        build_training_set(AS_OF)
        card = train(url, as_of=AS_OF, algorithms=("scorecard",), build=False)
        assert "crm:converted" not in card.row["features"].obj
        assert "crm:segment" in card.row["features"].obj  # a strong but honest column stays
        assert "left out as recording the outcome" in card.message and "crm:converted (1.000)" in card.message
        assert card.row["holdout_auc"] < 0.95
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("alter table raw.crm_leads drop column converted")
        build_training_set(AS_OF)
