"""The first load of an empty raw table builds its primary key once at the end: same rows as keyed loading."""

from __future__ import annotations

import pytest

from leadflow.pull import loader

from .test_bad_input_corpus import WEB

# One loading pipeline, so the keyed merge sees the files in name order, as the rebuilt key settles them.
CONFIG = {"web": {"kind": "files", "format": "jsonl", "workers": 1, "entities": {"event": {"pattern": "web/*.jsonl"}}}}


def event(key: str, hour: int, page: str) -> dict:
    return {**WEB, "event_id": key, "page_path": page, "occurred_at": f"2026-11-19T{hour:02d}:00:00Z"}


FILES = {
    "web/events_01.jsonl": [event("K1", 10, "/a"), event("K2", 10, "/a"), event("K3", 11, "/a")],
    # K1 again, identical: the first copy stays (its bookkeeping too); K2 same time, other content: replaced;
    # K3 older: ignored
    "web/events_02.jsonl": [event("K1", 10, "/a"), event("K2", 10, "/b"), event("K3", 9, "/c")],
    "web/events_03.jsonl": [event("K1", 12, "/d")],  # K1 newer: replaced
}
EXPECTED = {"K1": ("/d", "events_03"), "K2": ("/b", "events_02"), "K3": ("/a", "events_01")}


def rows(env) -> dict:
    return {
        key: (page, batch.rsplit("/", 1)[1].removesuffix(".jsonl"))
        for key, page, batch in env.rows("select event_id, page_path, _batch_id from raw.web_events order by 1")
    }


@pytest.fixture
def drops(monkeypatch) -> list[bool]:
    """Whether each load of an entity dropped its key (only an empty table's is)."""
    seen: list[bool] = []
    original = loader._drop_key_if_empty
    monkeypatch.setattr(loader, "_drop_key_if_empty", lambda *a: seen.append(original(*a)) or seen[-1])
    return seen


def has_key(env) -> bool:
    return env.one("select count(*) from pg_constraint where conrelid = 'raw.web_events'::regclass and contype = 'p'")


@pytest.mark.parametrize("defer", ["1", "0"])
def test_a_first_load_keeps_what_the_keyed_merge_keeps(env, monkeypatch, drops, defer: str) -> None:
    monkeypatch.setenv("LEADFLOW_PULL_DEFER_KEYS", defer)
    env.configure(CONFIG)
    for path, records in FILES.items():
        env.jsonl(path, records)
    env.pull("web")
    assert drops == ([True] if defer == "1" else [])
    assert rows(env) == EXPECTED
    assert has_key(env) and env.one("select count(*) from ops.deferred_keys") == 0
    assert env.audit("web") == [("run-1", "web", "event", 7, 7, 0)]


def test_a_pull_that_died_with_the_key_deferred_is_repaired_by_the_next_pull(env, monkeypatch) -> None:
    env.configure(CONFIG)
    for path in ("web/events_01.jsonl", "web/events_02.jsonl"):
        env.jsonl(path, FILES[path])
    with monkeypatch.context() as m:
        m.setattr(loader, "restore_key", lambda conn, entity, *rule: None)  # the process dies before rebuilding
        env.pull("web")
    assert not has_key(env)
    assert env.rows("select source, entity, key_columns from ops.deferred_keys") == [("web", "event", ["event_id"])]
    assert env.one("select count(*) from raw.web_events") == 6  # both files appended, repeats and all

    env.jsonl("web/events_03.jsonl", FILES["web/events_03.jsonl"])
    env.pull("web", run_id="run-2")  # rebuilds the key first (settling the repeats), then merges on it
    assert rows(env) == EXPECTED
    assert has_key(env) and env.one("select count(*) from ops.deferred_keys") == 0


def test_a_table_with_rows_keeps_its_key_while_loading(env, drops) -> None:
    env.configure(CONFIG)
    env.jsonl("web/events_01.jsonl", FILES["web/events_01.jsonl"])
    env.pull("web")
    env.jsonl("web/events_02.jsonl", FILES["web/events_02.jsonl"])
    env.pull("web", run_id="run-2")
    assert drops == [True, False] and has_key(env)
