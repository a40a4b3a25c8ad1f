"""Once a learned score exists, the report shows its lift by decile beside the score it would replace
(marts.score_performance) and its calibration (the model card), with the marts' own figures."""

from __future__ import annotations

import json
import re

import psycopg

from tests.conftest import scratch_warehouse
from tests.learn.conftest import seed_export
from tests.transform.conftest import AS_OF

BUILD = ["build", "--exclude", "resource_type:unit_test"]


def test_report_shows_the_learned_scores_lift_by_decile_and_calibration(server_url: str, tmp_path) -> None:
    from leadflow.learn.dataset import build_training_set
    from leadflow.learn.train import train
    from leadflow.report import render_report
    from leadflow.transform.dbt import run_dbt

    with scratch_warehouse(server_url, "report_learned", LEADFLOW_HOME=str(tmp_path)) as url:
        seed_export(url)
        run_dbt(BUILD, as_of=AS_OF)
        build_training_set(AS_OF)
        card = train(url, as_of=AS_OF, algorithms=("scorecard",), build=False)
        run_dbt(BUILD, as_of=AS_OF)  # score_performance picks the new model up
        text = render_report(url).read_text()
        with psycopg.connect(url) as conn:
            deciles = conn.execute(
                "select score, decile, lift from marts.score_performance where model_id = %s order by 1, 2",
                (card.model_id,),
            ).fetchall()
            calibration = conn.execute(
                "select calibration from ops.score_models where model_id = %s", (card.model_id,)
            ).fetchone()[0]
    assert {s for s, _, _ in deciles} == {"learned", "rules"} and len(deciles) == 20
    assert "No learned score yet" not in text
    assert f"Lift by decile of model {card.model_id} (proposed, not active)" in text
    assert "Calibration: mean predicted probability against observed conversion" in text
    specs = json.loads(re.search(r"const specs = (\{.*?\});\n", text, flags=re.S).group(1))
    records = list(_records(specs))
    charted = {(v["score"], v["decile"]): v["lift"] for v in records if "decile" in v and "score" in v}
    assert charted == {(s, d): (None if lift is None else float(lift)) for s, d, lift in deciles}
    assert [v for v in records if "predicted" in v and "observed" in v] == calibration


def _records(node):
    """Every data row inlined anywhere in a Vega-Lite spec (data.values or datasets)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("values",) and isinstance(value, list):
                yield from (v for v in value if isinstance(v, dict))
            elif key == "datasets" and isinstance(value, dict):
                for rows in value.values():
                    yield from rows
            else:
                yield from _records(value)
    elif isinstance(node, list):
        for item in node:
            yield from _records(item)
