"""Honest accounting for re-exports: ops.load_audit says what became of every loaded record (inserted, updated,
unchanged, older than the stored version), and ``on_conflict`` chooses which version raw keeps."""

from __future__ import annotations

import pytest

HEADER = "lead_id,title,created_at,updated_at\n"
T, EARLIER = "2026-11-01T00:00:00Z", "2026-10-01T00:00:00Z"


def _configure(env, rule: str | None = None) -> None:
    crm = {"kind": "files", "format": "csv", "entities": {"lead": {"pattern": "crm/*.csv"}}}
    if rule:
        crm["on_conflict"] = rule
    env.configure({"crm": crm})


def _outcomes(env, run_id: str) -> tuple:
    return env.rows(
        "select read, loaded, inserted, updated, unchanged, older_than_stored from ops.load_audit where run_id = %s",
        (run_id,),
    )[0]


def _first_export_then_a_corrected_one(env) -> None:
    env.write("crm/export-1.csv", HEADER + f"L1,CTO,{T},{T}\nL2,CEO,{T},{T}\nL3,VP,{T},{T}\n")
    env.pull("crm", run_id="run-1")
    # L1 corrected without moving updated_at, L2 as it was, L3 changed but dated before the stored version, L4 new
    env.write("crm/export-2.csv", HEADER + f"L1,CFO,{T},{T}\nL2,CEO,{T},{T}\nL3,Intern,{T},{EARLIER}\nL4,COO,{T},{T}\n")
    env.pull("crm", run_id="run-2")


def test_a_re_export_is_accounted_record_by_record(env) -> None:
    _configure(env)
    _first_export_then_a_corrected_one(env)
    assert _outcomes(env, "run-1") == (3, 3, 3, 0, 0, 0)
    assert _outcomes(env, "run-2") == (4, 4, 1, 1, 1, 1)
    assert env.rows("select lead_id, title from raw.crm_leads order by 1") == [
        ("L1", "CFO"), ("L2", "CEO"), ("L3", "VP"), ("L4", "COO"),
    ]  # fmt: skip


def test_last_file_wins_takes_a_full_re_export_as_it_is(env) -> None:
    _configure(env, "last_file_wins")
    _first_export_then_a_corrected_one(env)
    assert _outcomes(env, "run-2") == (4, 4, 1, 2, 1, 0)
    assert env.rows("select lead_id, title, updated_at::date::text from raw.crm_leads where lead_id = 'L3'") == [
        ("L3", "Intern", "2026-10-01")
    ]


@pytest.mark.parametrize(("rule", "expected"), [(None, (4, 4, 2, 1, 0, 1)), ("last_file_wins", (4, 4, 2, 2, 0, 0))])
def test_repeated_keys_of_a_first_load_are_accounted_too(env, rule, expected) -> None:
    _configure(env, rule)  # the raw table is empty: its key is deferred and repeated keys are settled afterwards
    env.write("crm/a.csv", HEADER + f"L1,CTO,{T},{T}\nL2,CEO,{T},{T}\n")
    env.write("crm/b.csv", HEADER + f"L1,CFO,{T},{T}\nL2,Intern,{T},{EARLIER}\n")
    env.pull("crm", run_id="run-1")
    assert _outcomes(env, "run-1") == expected
    title = "Intern" if rule else "CEO"
    assert env.rows("select lead_id, title from raw.crm_leads order by 1") == [("L1", "CFO"), ("L2", title)]


def test_an_unknown_on_conflict_is_named(env) -> None:
    from leadflow.pull.readers import SourceError

    _configure(env, "first_wins")
    env.write("crm/a.csv", HEADER + f"L1,CTO,{T},{T}\n")
    with pytest.raises(
        SourceError, match="on_conflict: first_wins in sources.test.yml is not one of newer_cursor_wins"
    ):
        env.pull("crm")
