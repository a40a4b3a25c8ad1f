"""SQLite read as Arrow record batches (ADBC, ``readers/sql.py: _read_sqlite_arrow``) loads exactly what the
standard library's sqlite3 and the per-record path load.

Each application database is pulled three ways into fresh warehouses: Arrow batches through the fast
path, sqlite3 tuples through the fast path (``LEADFLOW_PULL_ADBC=0``) and the per-record path
(``LEADFLOW_PULL_FAST=0``); raw rows, quarantine rows (location, key, field, reason, payload) and the
audit must be equal. SQLite is dynamically typed and ADBC types a column by its first batch, so the
cases are what it would coerce or fail on: integers and text mixed in an INTEGER column (an integer's
row quarantined for another reason keeps the integer in its payload), a column only NULL in the first
fetch and text later (ADBC fails: the rest goes through sqlite3), integers, reals and BLOBs in text
columns (the whole table goes through sqlite3), text that is not UTF-8, and the usual bad values:
numbers held as text, control characters, blanks, future timestamps, duplicates across fetches.
"""

from __future__ import annotations

import importlib.util
import logging
import sqlite3
from datetime import UTC, datetime

import pytest

from leadflow.pull import fast
from leadflow.pull.batch import Batcher
from leadflow.pull.contract import BY_KEY
from leadflow.pull.readers import SourceError, base, sql

from ..conftest import scratch_warehouse
from .conftest import AS_OF
from .test_fast_path_parity import PRODUCT, app_event, app_user, app_workspace, bad_users, snapshot, sql_corpus

# Without the driver (it is in requirements.lock) the Arrow way is the sqlite3 way: nothing to compare.
needs_adbc = pytest.mark.skipif(importlib.util.find_spec("adbc_driver_sqlite") is None, reason="no adbc_driver_sqlite")

WAYS = {
    "arrow": {"LEADFLOW_PULL_FAST": "1", "LEADFLOW_PULL_ADBC": "1"},
    "sqlite3": {"LEADFLOW_PULL_FAST": "1", "LEADFLOW_PULL_ADBC": "0"},
    "careful": {"LEADFLOW_PULL_FAST": "0", "LEADFLOW_PULL_ADBC": "1"},
}


def pull_three_ways(env, server_url, monkeypatch) -> tuple[dict, dict, dict]:
    """Per way: the warehouse snapshot (and summary), the tables read as Arrow, the rows of the fast path."""
    results, arrow, rows = {}, {}, {}
    for way, variables in WAYS.items():
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        tables, fast_rows = dict(sql.ARROW_TABLES), dict(fast.ROWS)
        with scratch_warehouse(server_url, f"sql_arrow_{way}") as url:
            try:
                summary = {
                    k: {n: v[n] for n in ("read", "loaded", "quarantined")} for k, v in env.pull("product").items()
                }
            except SourceError as err:
                summary = str(err)
            results[way] = {"summary": summary, **snapshot(url)}
        arrow[way] = {t for t, n in sql.ARROW_TABLES.items() if n > tables.get(t, 0)}
        rows[way] = {k: v - fast_rows.get(k, 0) for k, v in fast.ROWS.items() if v - fast_rows.get(k, 0)}
    for way in ("sqlite3", "careful"):
        for part in results["careful"]:
            assert results["arrow"][part] == results[way][part], (way, part)
    return results["careful"], arrow, rows


def typed_db(path, users, events, workspaces) -> None:
    """Text columns declared TEXT (SQLite keeps only text, NULL and BLOBs in them); ``seats`` without a
    type, so that it holds integers and text exactly as inserted."""
    with sqlite3.connect(path) as db:
        db.execute(
            "create table users (user_id text, email text, workspace_id text, signed_up_at text, plan text, "
            "updated_at text)"
        )
        db.execute(
            "create table events (event_id text, user_id text, workspace_id text, event_name text, "
            "properties text, occurred_at text)"
        )
        db.execute("create table workspaces (workspace_id text, seats, plan text, trial_ends_at text, updated_at text)")
        db.executemany("insert into users values (?, ?, ?, ?, ?, ?)", users)
        db.executemany("insert into events values (?, ?, ?, ?, ?, ?)", events)
        db.executemany("insert into workspaces values (?, ?, ?, ?, ?)", workspaces)


def text_corpus(env, leading_nulls: bool = False) -> None:
    # leading_nulls: workspace_id only NULL in the first fetch (37 rows): ADBC would type it int64 and fail on the
    # text later, so the table goes the sqlite3 way from the start.
    users = [app_user(i, workspace_id=None if leading_nulls else f"W{i % 7}") for i in range(40)]
    users += [app_user(i) for i in range(40, 120)]
    users += [
        *bad_users(),
        app_user(906, updated_at="2026-11-20T13:00:01Z"),  # past it
        app_user(5, plan="pro"),  # a duplicate key
        app_user(907, plan="pro\x07"),  # control characters
        app_user(908, plan="a\tb"),  # a tab: careful, loaded escaped
        app_user(909, plan="line\nbreak"),
        app_user(910, plan="back\\slash"),
        app_user(911, plan="nul\x00inside"),
        app_user(912, plan="x" * 10_001),  # oversize
        app_user(913, plan="x" * 6_000, workspace_id="y" * 6_000),  # a long row of fields within the limit
        app_user(914, plan=5),  # numbers into TEXT columns: stored as text
        app_user(915, plan=2.5, email=7),
        app_user(916, signed_up_at=1700000000),
        app_user(917, plan="  "),  # blank: NULL
        app_user(918, email="\u3000"),  # blank for Python: a missing required field
        app_user(919, plan='say "hi"', workspace_id="caf\u00e9 \u65e5\u672c"),  # quotes, non-ASCII
        app_user(920, email=None),
        # A careful row (a tab) first, then the same key on a fast row of the same fetch: the careful one wins.
        *[row for i in range(930, 936) for row in (app_user(i, email="Late@Acme.com", plan="a\tb"), app_user(i))],
    ]
    users += [app_user(i) for i in range(120, 250)] + [app_user(42), app_user(931)]  # duplicates fetches later
    events = [app_event(i) for i in range(200)]
    events += [
        app_event(900, properties='{"a": 1, "b": [1, 2]}'),
        app_event(901, properties='{"a":'),  # invalid JSON
        app_event(902, properties="[1,2]"),
        app_event(903, properties="5"),
        app_event(904, properties="NaN"),
        app_event(905, properties=""),
        app_event(906, properties=None),
        app_event(908, properties='{"a":"\\u0000"}'),
        app_event(910, properties='{"k":1,"k":2}'),
        app_event(911, event_name=None),
        app_event(912, user_id=""),
        app_event(913, occurred_at="2026-11-20T13:00:01Z"),
        app_event(3, event_name="page_viewed"),
    ]
    events += [app_event(i) for i in range(200, 300)] + [app_event(7)]
    # integer seats (with leading_nulls: only NULL in the first fetch, so ADBC types them int64 and fails on the
    # next fetch: the integers come as their text)
    workspaces = [app_workspace(i, seats=None if leading_nulls and i < 40 else i % 9 + 1) for i in range(100)]
    workspaces += [
        app_workspace(900, seats="7"),  # text holding an integer
        app_workspace(901, seats=" 7"),
        app_workspace(902, seats="12 seats"),
        app_workspace(905, seats=2**62),  # 19 digits: careful
        app_workspace(906, seats=-3),
        app_workspace(907, seats=None),
        app_workspace(908, seats=""),
        app_workspace(909, trial_ends_at="2030-01-01T00:00:00Z"),  # a future date allowed in this column
        app_workspace(910, seats=4, updated_at="2030-01-01T00:00:00Z"),  # quarantined: its payload holds 4, not "4"
        app_workspace(911, seats="4", updated_at="2030-01-01T00:00:00Z"),  # ... and this one "4"
        app_workspace(11, seats=5),  # a duplicate: its payload holds 5
        app_workspace(12, seats="5"),
    ]
    workspaces += [app_workspace(i) for i in range(100, 140)]
    typed_db(env.landing / "app.db", users, events, workspaces)
    entities = {name: {"table": table} for table, name in PRODUCT.items()}
    env.configure({"product": {"kind": "sql", "url": f"sqlite:///{env.landing / 'app.db'}", "entities": entities}})


@needs_adbc
@pytest.mark.parametrize("leading_nulls", [False, True], ids=["text", "leading-nulls"])
def test_text_tables_read_as_arrow_load_the_same_as_sqlite3_and_the_careful_way(
    env, server_url, monkeypatch, caplog, leading_nulls
) -> None:
    monkeypatch.setattr(sql, "FETCH_ROWS", 37)  # many fetches: duplicates cross them
    text_corpus(env, leading_nulls)
    with caplog.at_level(logging.INFO, logger="leadflow.pull.readers"):
        careful, arrow, rows = pull_three_ways(env, server_url, monkeypatch)
    # The Arrow way really ran, and only when asked; with leading NULLs users and workspaces went the sqlite3
    # way from their first row (a column typed by NULLs alone would stop ADBC part-way).
    tables = {"events"} | (set() if leading_nulls else {"users", "workspaces"})
    assert arrow == {"arrow": tables, "sqlite3": set(), "careful": set()}
    assert rows["arrow"]["product.event"] > 250 and rows["arrow"]["product.workspace"] > 120
    assert rows["careful"] == {}
    reasons = {(q[3], q[6]): q[7] for q in careful["quarantine"]}
    assert ("users row 130", "duplicate key in batch (first seen at users row 6)") in reasons
    future = "timestamp in the future: 2030-01-01T00:00:00Z"
    assert reasons["workspaces row 109", future] == "W910,4,free,2027-01-01T00:00:00Z,2030-01-01T00:00:00Z"
    assert reasons["workspaces row 110", future] == "W911,4,free,2027-01-01T00:00:00Z,2030-01-01T00:00:00Z"
    assert ("workspaces row 111", "duplicate key in batch (first seen at workspaces row 12)") in reasons
    late = [r[1] for r in careful["raw.product_users"] if "U930" <= r[0] <= "U935"]
    assert late == ["Late@Acme.com"] * 6  # the careful row came first and won
    assert [a for a in careful["audit"] if a[3] != a[4] + a[5]] == []


@needs_adbc
@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("event_name", 5),
        ("event_name", 0.1 + 0.2),
        ("event_name", 1e20),
        ("event_name", b"page_viewed"),
        ("properties", 5),
        ("properties", b"{}"),
    ],
    ids=["integer", "real", "real-exponent", "blob", "integer-json", "blob-json"],
)
def test_a_value_that_is_not_text_sends_the_table_the_sqlite3_way(env, server_url, monkeypatch, column, value) -> None:
    """In a column without a declared type, one value of another type, fetches after the first: ADBC
    would turn it into text silently (SQLite writes 0.1 + 0.2 as 0.3 and 1e20 as 1.0e+20; Python's
    str does not). The whole table goes through sqlite3, as ever."""
    monkeypatch.setattr(sql, "FETCH_ROWS", 37)
    text_corpus(env)
    with sqlite3.connect(env.landing / "app.db") as db:
        db.execute("create table odd as select * from events")
        db.execute("drop table events")
        db.execute("create table events (event_id, user_id, workspace_id, event_name, properties, occurred_at)")
        db.execute("insert into events select * from odd")
        db.execute(f"update events set {column} = ? where rowid = 280", (value,))  # noqa: S608
    careful, arrow, _ = pull_three_ways(env, server_url, monkeypatch)
    assert arrow["arrow"] == {"users", "workspaces"}
    assert careful["audit"]


@needs_adbc
def test_the_mixed_type_corpus_goes_the_sqlite3_way_and_loads_the_same(env, server_url, monkeypatch) -> None:
    monkeypatch.setattr(sql, "FETCH_ROWS", 37)
    sql_corpus(env)  # untyped columns: integers, reals and BLOBs among the text
    careful, arrow, _ = pull_three_ways(env, server_url, monkeypatch)
    assert arrow["arrow"] == set()
    assert careful["quarantine"]


def read_table(url: str, table: str, entity: str, since, fetch: int) -> tuple:
    chunks = []
    sink = Batcher(BY_KEY[entity], AS_OF, chunks.append)
    error = None
    try:
        sql.read_sql(url, table, sink.entity.cursor, since, sink, "product", fetch)
    except SourceError as err:
        error = str(err)
    summary = sink.finish()
    return [(c.rows, c.count, c.quarantine, c.extras) for c in chunks], summary, error


@needs_adbc
@pytest.mark.parametrize("leading_nulls", [False, True], ids=["text", "leading-nulls"])
@pytest.mark.parametrize("since", [None, datetime(2026, 11, 10, tzinfo=UTC)], ids=["all", "since"])
def test_the_cursor_filter_and_the_row_numbers_are_the_same(env, monkeypatch, since, leading_nulls) -> None:
    """With the cursor filter (through the cursor columns' indexes, as the application database has them),
    and when ADBC stops part-way (leading NULLs) and sqlite3 reads on from that row."""
    text_corpus(env, leading_nulls)
    with sqlite3.connect(env.landing / "app.db") as db:
        for table, entity in PRODUCT.items():
            db.execute(f"create index {table}_cursor on {table} ({BY_KEY['product.' + entity].cursor})")
    url = f"sqlite:///{env.landing / 'app.db'}"
    out = {}
    for way in ("arrow", "sqlite3"):
        monkeypatch.setenv("LEADFLOW_PULL_ADBC", "1" if way == "arrow" else "0")
        before = sql.ARROW_TABLES["events"]
        out[way] = [read_table(url, t, f"product.{e}", since, 23) for t, e in PRODUCT.items()]
        assert (sql.ARROW_TABLES["events"] > before) == (way == "arrow")
    assert out["arrow"] == out["sqlite3"]
    events = out["arrow"][1]
    assert (events[1].read < 300) == (since is not None)  # the filter took rows out
    assert b"\tevents row 24\t" in b"".join(c[0] for c in events[0])  # the first row of the second fetch


@needs_adbc
def test_text_that_is_not_utf8_fails_the_unit_after_the_same_row(env, monkeypatch) -> None:
    text_corpus(env)
    with sqlite3.connect(env.landing / "app.db") as db:
        db.execute("update events set event_name = cast(x'ff41' as text) where rowid = 60")
    url = f"sqlite:///{env.landing / 'app.db'}"
    out = {}
    for way in ("arrow", "sqlite3"):
        monkeypatch.setenv("LEADFLOW_PULL_ADBC", "1" if way == "arrow" else "0")
        out[way] = read_table(url, "events", "product.event", None, 23)
    assert out["arrow"][:2] == out["sqlite3"][:2]  # the same rows went on before the failure
    assert out["sqlite3"][2].startswith("product: SQL table events failed after row 46: OperationalError")
    assert out["arrow"][2].startswith("product: SQL table events failed after row 46: a value that is not text")
    assert "LEADFLOW_PULL_ADBC=0" in out["arrow"][2]


def test_a_batch_of_integers_loads_as_the_same_rows_as_tuples() -> None:
    """``Rows.batch`` on int64 columns (an INTEGER column's integers, another column's, NULLs) does what
    ``Rows.rows`` does on the same rows as sqlite3 gives them."""
    import pyarrow as pa

    fields = ["workspace_id", "seats", "plan", "trial_ends_at", "updated_at"]
    rows = [app_workspace(i) for i in range(30)] + [app_workspace(5), app_workspace(31, seats=2**62)]
    rows += [app_workspace(32, seats=-3, updated_at="2030-01-01T00:00:00Z"), app_workspace(33, seats=None)]
    out = []
    for way in ("rows", "batch"):
        chunks = []
        sink = Batcher(BY_KEY["product.workspace"], AS_OF, chunks.append)
        sink.layout(fields)
        reader = fast.Rows(sink, "workspaces row ", fields, base.row_clean)
        if way == "rows":
            reader.rows(rows, 0)
        else:
            types = [pa.string(), pa.int64(), pa.string(), pa.string(), pa.string()]
            columns = [pa.array(c, t) for c, t in zip(zip(*rows, strict=True), types, strict=True)]
            reader.batch(pa.RecordBatch.from_arrays(columns, fields), 0)
        summary = sink.finish()
        out.append(([(c.rows, c.count, c.quarantine) for c in chunks], summary))
    assert out[0] == out[1]
    assert b"W31\t4611686018427387904\t" in b"".join(c[0] for c in out[0][0])
    assert out[0][1].quarantined == 2
