"""The run's as-of reaches dbt without costing a full re-parse.

The pipeline passes a new as-of every run. Passed as `--vars`, dbt would throw its saved manifest away each
time ("config vars ... have changed") and parse the whole project again; passed in LEADFLOW_AS_OF, partial
parsing survives and every model still compiles with the new as-of.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from .conftest import AS_OF, create_raw_tables


def _compiled(model: str) -> str:
    from leadflow.transform.dbt import dbt_target_dir

    return (dbt_target_dir() / "compiled" / "leadflow" / "models" / "intermediate" / f"{model}.sql").read_text()


def test_a_new_as_of_keeps_partial_parsing_and_reaches_the_models(
    warehouse: str, tmp_path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from leadflow.settings import reset_settings
    from leadflow.transform.dbt import run_dbt

    monkeypatch.setenv("LEADFLOW_HOME", str(tmp_path / "home"))  # own dbt artifacts: a first parse is a full one
    monkeypatch.delenv("LEADFLOW_AS_OF", raising=False)
    reset_settings()
    create_raw_tables(warehouse)
    compile_one = ["compile", "--select", "int_score_contributions"]

    run_dbt(compile_one, as_of=AS_OF)
    assert AS_OF.isoformat() in _compiled("int_score_contributions")

    later = AS_OF + timedelta(hours=1)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="leadflow.transform.dbt"):
        run_dbt(compile_one, as_of=later)
    output = "\n".join(r.getMessage() for r in caplog.records)
    assert "dbt | " in output  # dbt's own output was captured
    assert "Unable to do partial parsing" not in output
    compiled = _compiled("int_score_contributions")
    assert later.isoformat() in compiled and AS_OF.isoformat() not in compiled

    # an analyst's --vars still wins over the environment
    earlier = AS_OF - timedelta(days=2)
    run_dbt(compile_one, as_of=later, extra_vars={"as_of": earlier.isoformat()})
    compiled = _compiled("int_score_contributions")
    assert earlier.isoformat() in compiled and later.isoformat() not in compiled


def test_dbt_gets_no_credentials_it_does_not_need(
    warehouse: str, tmp_path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A model can read any variable dbt's process has (env_var()): the destinations' secrets are not there."""
    from leadflow.settings import reset_settings
    from leadflow.transform.dbt import run_dbt

    monkeypatch.setenv("LEADFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AIRFLOW_CONN_LEADFLOW_HUBSPOT", '{"password": "pat-na1-secret-0001"}')
    monkeypatch.setenv("LEADFLOW_API_TOKEN", "api-secret-0002")
    monkeypatch.setenv("LEADFLOW_ALERT_WEBHOOK_URL", "https://hooks.example/secret-0003")
    reset_settings()
    create_raw_tables(warehouse)
    probe = (
        "select '{{ env_var('AIRFLOW_CONN_LEADFLOW_HUBSPOT', 'absent') }}|{{ env_var('LEADFLOW_API_TOKEN', 'absent') }}"
        "|{{ env_var('LEADFLOW_ALERT_WEBHOOK_URL', 'absent') }}|{{ env_var('LEADFLOW_PG_DATABASE', 'absent') }}' as x"
    )
    with caplog.at_level(logging.INFO, logger="leadflow.transform.dbt"):
        run_dbt(["compile", "--inline", probe], as_of=AS_OF)
    text = caplog.text
    assert "absent|absent|absent|" in text and "secret-000" not in text
    assert "|absent' as x" not in text  # what dbt does need (its connection) is still there
