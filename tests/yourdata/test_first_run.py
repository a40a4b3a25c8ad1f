"""A configured source that reads nothing on its first run, or whose folder does not exist, is an error that names
the source, the setting and the path (it used to load 0 records and report success with a warning)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from leadflow.pull.readers import SourceError
from leadflow.settings import reset_settings

REPO = Path(__file__).resolve().parents[2]


def test_the_olist_example_from_a_clone_that_is_not_beside_the_datasets(env, monkeypatch, tmp_path: Path) -> None:
    from leadflow.cli import main

    clone = tmp_path / "clone"
    clone.mkdir()
    shutil.copy(REPO / "sources.olist.yml", clone / "sources.olist.yml")
    monkeypatch.setenv("LEADFLOW_SOURCES_FILE", str(clone / "sources.olist.yml"))
    monkeypatch.delenv("OLIST_DIR", raising=False)
    reset_settings()
    with pytest.raises(SourceError) as err:
        env.pull("crm")
    expected = tmp_path / "shared" / "datasets" / "olist_marketing_funnel"
    message = str(err.value)
    assert (
        "crm.lead: the folder does not exist: location: ${OLIST_DIR:-../shared/datasets/olist_marketing_funnel}"
        in message
    )
    assert f"(= {expected}) in sources.olist.yml" in message
    assert "crm.opportunity: the folder does not exist" in message
    result = CliRunner().invoke(main, ["pull"], catch_exceptions=False)
    assert result.exit_code == 1 and "the folder does not exist" in result.output and "Traceback" not in result.output


def test_no_file_matching_on_a_first_run_fails_and_later_runs_may_find_nothing_new(env) -> None:
    env.configure({"quiz": {"kind": "files", "format": "csv", "entities": {"response": {"pattern": "quiz/*.csv"}}}})
    (env.landing / "quiz").mkdir()
    with pytest.raises(SourceError, match=r"quiz: configured, but read nothing on its first pull: quiz.response: no file matches pattern: "
                       r"quiz/\*.csv \(entities.response\) under the landing zone"):  # fmt: skip
        env.pull("quiz")
    env.write("quiz/r.csv", "response_id,email,submitted_at\nq1,a@acme.com,2026-11-01T00:00:00Z\n")
    assert env.pull("quiz", run_id="run-2")["quiz.response"]["loaded"] == 1
    assert env.pull("quiz", run_id="run-3")["quiz.response"]["read"] == 0  # nothing new is not an error


def test_a_header_only_file_on_a_first_run_fails(env) -> None:
    env.configure({"quiz": {"kind": "files", "format": "csv", "entities": {"response": {"pattern": "quiz/*.csv"}}}})
    env.write("quiz/r.csv", "response_id,email,submitted_at\n")
    with pytest.raises(SourceError, match="the files matching pattern: quiz/\\*.csv .* hold no records"):
        env.pull("quiz")


def test_an_empty_sql_table_on_a_first_run_fails(env) -> None:
    db = env.root / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table responses (response_id text, email text, submitted_at text)")
    env.configure({"quiz": {"kind": "sql", "url": f"sqlite:///{db}", "entities": {"response": {"table": "responses"}}}})
    with pytest.raises(
        SourceError,
        match=r"quiz: configured, but read nothing on its first pull: quiz.response: table: responses .* returned no records",
    ):
        env.pull("quiz")


def test_an_empty_entity_beside_one_that_reads_records_is_no_error(env) -> None:
    env.configure({"crm": {"kind": "files", "format": "csv", "entities": {
        "lead": {"pattern": "crm/leads*.csv"}, "account": {"pattern": "crm/accounts*.csv"}}}})  # fmt: skip
    env.write("crm/leads.csv", "lead_id,created_at,updated_at\nL1,2026-11-01T00:00:00Z,2026-11-01T00:00:00Z\n")
    summary = env.pull("crm")
    assert (summary["crm.lead"]["loaded"], summary["crm.account"]["read"]) == (1, 0)
