"""When dbt fails, the task log (and the error) ends with the failed nodes and their messages, not with
dbt's summary counts: an analyst sees which model broke without scrolling a 300-line build."""

from __future__ import annotations

import logging

import pytest

from tests.transform.conftest import AS_OF


def test_a_failed_dbt_run_ends_with_each_failed_node_and_its_message(warehouse: str, caplog) -> None:
    from leadflow.transform.dbt import DbtFailed, run_dbt

    caplog.set_level(logging.INFO, logger="leadflow.transform.dbt")
    # int_rule_hits_mql alone, on a warehouse where nothing upstream was built: its relations do not exist
    with pytest.raises(DbtFailed) as failure:
        run_dbt(["run", "--select", "int_rule_hits_mql int_rule_hits_sql"], as_of=AS_OF)
    lines = str(failure.value).strip().splitlines()
    assert lines[-3] == "2 dbt node(s) failed:"
    failed = sorted(lines[-2:])
    assert failed[0].startswith("  model.leadflow.int_rule_hits_mql (error): ")
    assert failed[1].startswith("  model.leadflow.int_rule_hits_sql (error): ")
    assert all("does not exist" in line for line in failed)
    records = [r for r in caplog.records if r.name == "leadflow.transform.dbt"]
    assert [r.levelno for r in records[-2:]] == [logging.ERROR, logging.ERROR]
    assert {r.getMessage().split(" (")[0] for r in records[-2:]} == {
        "dbt failed node: model.leadflow.int_rule_hits_mql",
        "dbt failed node: model.leadflow.int_rule_hits_sql",
    }


def test_a_dbt_that_fails_before_running_anything_does_not_blame_an_earlier_runs_nodes(warehouse: str) -> None:
    from leadflow.transform.dbt import DbtFailed, run_dbt

    with pytest.raises(DbtFailed):
        run_dbt(["run", "--select", "int_rule_hits_mql"], as_of=AS_OF)  # leaves a run_results.json behind
    with pytest.raises(DbtFailed) as failure:
        run_dbt(["run", "--select", "int_rule_hits_mql", "--vars", "{broken"], as_of=AS_OF)
    assert "node(s) failed" not in str(failure.value)
