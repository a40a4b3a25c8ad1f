"""The Arrow fast path (pull/fast.py) and the per-record path load exactly the same.

The same landing files are pulled twice into two fresh warehouses, once with the fast path and once
with ``LEADFLOW_PULL_FAST=0``; raw rows, quarantine rows (location, key, field, reason, payload) and the
audit must be equal. The files: the bad-input corpus (every JSONL and CSV case in one file each),
duplicates that cross the two ways in both orders, quoted CSV fields (a quoted line break half-way
sends the rest of the file the careful way), a tab-separated file, Windows line ends, schema drift,
values Arrow refuses (a number, a key twice), and a generated landing zone. Blocks are made small so
that a file spans many of them and duplicates cross block boundaries.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from leadflow.pull import fast
from leadflow.pull.readers import SourceError, files, sql

from ..conftest import scratch_warehouse
from .conftest import AS_OF
from .test_bad_input_corpus import CASES, GOOD_CSV, HEADER, WEB

CONFIG = {
    "web": {"kind": "files", "format": "jsonl", "entities": {"event": {"pattern": "web/*.jsonl"}}},
    "marketing": {"kind": "files", "format": "csv", "entities": {"engagement": {"pattern": "marketing/*.csv"}}},
    "quiz": {"kind": "files", "format": "csv", "delimiter": "\t", "entities": {"response": {"pattern": "quiz/*.tsv"}}},
    "consent": {"kind": "files", "format": "csv", "entities": {"suppression": {"pattern": "consent/*.csv"}}},
}
for _cfg in CONFIG.values():
    _cfg["workers"] = 1  # files in name order: with two pipelines, which of two equal rows lands first is a race
TABLES = ["raw.web_events", "raw.marketing_engagements", "raw.quiz_responses", "raw.consent_suppressions"]


def event(i: int, **changes) -> str:
    record = {**WEB, "event_id": f"E{i}", "occurred_at": f"2026-11-{1 + i % 18:02d}T10:{i % 60:02d}:00Z", **changes}
    return json.dumps({k: v for k, v in record.items() if v is not ...})


def engagement(i: int, email: str = "jane@acme.com", asset: str = "Newsletter") -> str:
    return f"M{i},{email},email,email_open,{asset},2026-11-{1 + i % 18:02d}T10:00:00Z"


def corpus_files(env) -> None:
    web = [event(i) for i in range(300)]
    web += [line if isinstance(line, str) else line.decode("utf-8", "surrogateescape")
            for _, rel, line, _, _ in CASES if rel.startswith("web/")]  # fmt: skip
    web += [
        event(5, email=" Jane@Acme.com "),  # a careful line (trimmed e-mail) repeating an earlier fast key
        # A careful line first, then the same key on a fast line of the same block: the careful one wins.
        # (An escaped character sends a line the careful way; json.dumps escapes the é.)
        *[
            line
            for i in range(900, 906)
            for line in (event(i, email="Late@Acme.com", page_path="/caf\u00e9"), event(i))
        ],
        event(931, page_path=" "),  # a blank text value: stored as NULL both ways
        event(932, email="", referrer="   "),
        event(933, utm_source=7),  # a number where text belongs: Arrow refuses the block, the careful way takes it
        '{"event_id": "E934", "event_id": "E935", "event_type": "page_view", "occurred_at": "2026-11-02T10:00:00Z"}',
        event(936, page_path="/caf\u00e9/\u65e5\u672c"),  # non-ASCII
        event(937, occurred_at="2026-11-20T12:59:59Z"),  # inside the clock tolerance
        event(938, occurred_at="2026-11-20T13:00:01Z"),  # past it
        event(939, occurred_at="2026-11-19 10:00:00"),  # not canonical: careful, normalised
        "",
        "   ",
        event(940, event_type="\u3000"),  # ideographic space: blank for Python, a missing required field
    ]
    web += [event(i) for i in range(300, 600)] + [event(42)]  # a duplicate many blocks later
    env.write("web/events_a.jsonl", ("\n".join(web) + "\n").encode("utf-8", "surrogateescape"))
    env.write("web/events_b.jsonl", "\n".join(event(i) for i in range(590, 700)) + "\n")  # keys of file a again
    crlf = [event(i) for i in range(2000, 2040)] + [event(2005, referrer="x"), "", event(2041, email="bad@")]
    env.write("web/events_crlf.jsonl", "\r\n".join(crlf) + "\r\n")  # Windows line ends
    drift = [event(i, campaign_id=f"c{i}") for i in range(1000, 1010)]
    env.write("web/events_drift.jsonl", "\n".join(drift) + "\n")

    csv_lines = [engagement(i) for i in range(300)]
    for _, rel, line, _, _ in CASES:
        if rel.startswith("marketing/"):
            csv_lines.append(line if isinstance(line, str) else line.decode("utf-8", "surrogateescape"))
    csv_lines += [
        engagement(7, email=" Jane@Acme.com "),
        engagement(950, asset='"Guide, 2nd edition"'),  # a quoted field on one line
        engagement(951, asset='"He said ""hi"""'),
        engagement(952, email=""),  # a required field blank
        engagement(953, asset="  "),
        engagement(954, asset="Caf\u00e9"),
    ]
    csv_lines += [engagement(i) for i in range(300, 500)]
    data = (HEADER + GOOD_CSV.replace("M1,", "M0,") + "\n".join(csv_lines) + "\n").encode("utf-8", "surrogateescape")
    env.write("marketing/engagements_a.csv", data)
    # A quoted line break half-way: the rest of the file goes the careful way.
    multiline = [engagement(i) for i in range(2000, 2100)] + [engagement(2100, asset='"two\nlines"')]
    multiline += [engagement(i) for i in range(2101, 2200)] + [engagement(2005)]
    env.write("marketing/engagements_b.csv", HEADER + "\n".join(multiline) + "\n")
    crlf = [engagement(i) for i in range(3000, 3050)]
    crlf += [engagement(3001, asset="Guide"), "", engagement(3051, email="nobody@"), "M3052"]
    env.write("marketing/engagements_c.csv", (HEADER + "\n".join(crlf) + "\n").replace("\n", "\r\n"))
    env.write("marketing/engagements_d.csv", HEADER + "\n".join(engagement(i) for i in range(4000, 4010)))  # no EOL

    quiz_header = "response_id\temail\tsubmitted_at\trole\tteam_size\tuse_case\tscore\n"
    quiz = [f"Q{i}\tq{i}@acme.com\t2026-11-0{1 + i % 9}T08:00:00Z\tVP\t11-50\trouting\t{i % 100}" for i in range(400)]
    quiz += ["Q5\tq5@acme.com\t2026-11-01T08:00:00Z\tVP\t11-50\trouting\t7", "Q900\tq@acme.com\t2026-11-01T08:00:00Z"]
    quiz += ["Q901\tq901@acme.com\t2026-11-01T08:00:00Z\tVP\t11-50\trouting\t12 points"]
    quiz += ["Q902\tq902@acme.com\t2026-11-01T08:00:00Z\tVP\t11-50\trouting\t99999999999999999999"]
    env.write("quiz/responses.tsv", quiz_header + "\n".join(quiz) + "\n")

    consent = ["email,reason,added_at"] + [f"p{i}@acme.com,unsubscribed,2026-10-01T00:00:00Z" for i in range(200)]
    consent += ["p3@acme.com,bounced,2026-10-01T00:00:00Z", "p3@acme.com,unsubscribed,2026-10-02T00:00:00Z"]
    consent += [" P4@acme.com ,unsubscribed,2026-10-01T00:00:00Z", "p5@acme.com,unsubscribed,1999-10-01T00:00:00Z"]
    env.write("consent/suppressions.csv", "\n".join(consent) + "\n")


def snapshot(url: str) -> dict:
    with psycopg.connect(url) as conn:
        tables = [t for t in TABLES if conn.execute("select to_regclass(%s)", (t,)).fetchone()[0]]
        out = {t: conn.execute(f"select * from {t} order by 1, 2").fetchall() for t in tables}  # noqa: S608
        out["quarantine"] = conn.execute(
            "select run_id, source, entity, location, record_key, field, reason, payload from ops.quarantine "
            "order by source, location, reason"
        ).fetchall()
        out["audit"] = conn.execute(
            "select run_id, source, entity, read, loaded, quarantined from ops.load_audit order by 1, 2, 3"
        ).fetchall()
        out["files"] = conn.execute("select source, path from ops.loaded_files order by 1, 2").fetchall()
    return out


def pull_both_ways(env, server_url: str, monkeypatch, sources) -> tuple[dict, dict, dict]:
    results = {}
    fast_rows = {}
    for way in ("fast", "careful"):
        monkeypatch.setenv("LEADFLOW_PULL_FAST", "1" if way == "fast" else "0")
        before = dict(fast.ROWS)
        with scratch_warehouse(server_url, f"parity_{way}") as url:
            summaries = {}
            for source in sources:
                try:
                    summary = env.pull(source)
                    summaries[source] = {
                        k: {n: v[n] for n in ("read", "loaded", "quarantined")} for k, v in summary.items()
                    }
                except SourceError as err:
                    summaries[source] = str(err)
            results[way] = {"summaries": summaries, **snapshot(url)}
        fast_rows[way] = {k: v - before.get(k, 0) for k, v in fast.ROWS.items() if v - before.get(k, 0)}
    return results["fast"], results["careful"], fast_rows


def assert_same(fast_way: dict, careful_way: dict) -> None:
    for part in careful_way:
        assert fast_way[part] == careful_way[part], part


def test_the_corpus_loads_the_same_both_ways(env, server_url, monkeypatch) -> None:
    monkeypatch.setattr(files, "READ_BYTES", 2048)  # files of many blocks
    env.configure(CONFIG)
    corpus_files(env)
    fast_way, careful_way, rows = pull_both_ways(env, server_url, monkeypatch, list(CONFIG))
    assert_same(fast_way, careful_way)
    # The fast path really ran (and the careful run did not use it).
    assert rows["careful"] == {}
    assert set(rows["fast"]) == {"web.event", "marketing.engagement", "quiz.response", "consent.suppression"}
    assert rows["fast"]["web.event"] > 500
    # What the corpus is meant to show, both ways.
    quarantine = {(q[3], q[6]) for q in careful_way["quarantine"]}
    assert ("web/events_a.jsonl:301", "unparseable JSON line: Expecting ',' delimiter") in quarantine
    assert any(reason == "duplicate key in batch (first seen at web/events_a.jsonl:6)" for _, reason in quarantine)
    assert ("marketing/engagements_b.csv:203", "duplicate key in batch (first seen at marketing/engagements_b.csv:7)") in quarantine  # fmt: skip
    for way in (fast_way, careful_way):
        late = [r[2] for r in way["raw.web_events"] if "E900" <= r[0] <= "E905"]
        assert late == ["Late@Acme.com"] * 6  # the careful line came first and won
    assert "truncated" not in str(careful_way["summaries"]["marketing"])
    balance = [a for a in careful_way["audit"] if a[3] != a[4] + a[5]]
    assert balance == []


def test_a_generated_landing_zone_loads_the_same_both_ways(env, server_url, monkeypatch) -> None:
    from leadflow_demo.generator import generate

    generate(env.landing, leads=300, seed=11, as_of=AS_OF)
    env.configure(
        {
            "web": {"kind": "files", "format": "jsonl", "entities": {"event": {"pattern": "web/events_*.jsonl"}}},
            "marketing": {
                "kind": "files",
                "format": "csv",
                "entities": {"engagement": {"pattern": "marketing/engagements_*.csv"}},
            },
            "quiz": {"kind": "files", "format": "csv", "entities": {"response": {"pattern": "quiz/responses*.csv"}}},
            "consent": {
                "kind": "files",
                "format": "csv",
                "entities": {"suppression": {"pattern": "consent/suppressions*.csv"}},
            },
        }
    )
    fast_way, careful_way, rows = pull_both_ways(env, server_url, monkeypatch, list(CONFIG))
    assert_same(fast_way, careful_way)
    assert rows["fast"]["web.event"] > 0.9 * sum(a[4] for a in careful_way["audit"] if a[2] == "event")
    assert careful_way["quarantine"]  # the generator plants bad records in every file source


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_truncated_file_fails_the_same_both_ways(env, server_url, monkeypatch, fmt) -> None:
    env.configure(CONFIG)
    if fmt == "jsonl":
        env.write("web/events.jsonl", "\n".join(event(i) for i in range(50)) + '\n{"event_id": "E50", "ev')
    else:
        env.write("marketing/engagements.csv", HEADER + "\n".join(engagement(i) for i in range(50)) + "\nM50,x@y.co")
    source = "web" if fmt == "jsonl" else "marketing"
    fast_way, careful_way, _ = pull_both_ways(env, server_url, monkeypatch, [source])
    assert "is truncated at line" in careful_way["summaries"][source]
    assert_same(fast_way, careful_way)


def test_a_delimiter_the_fast_path_cannot_split_on_goes_the_careful_way(env, server_url, monkeypatch) -> None:
    env.configure({"marketing": {**CONFIG["marketing"], "delimiter": "§"}})
    rows = [engagement(i).replace(",", "§") for i in range(20)] + [engagement(3).replace(",", "§")]
    env.write("marketing/engagements.csv", HEADER.replace(",", "§") + "\n".join(rows) + "\n")
    fast_way, careful_way, used = pull_both_ways(env, server_url, monkeypatch, ["marketing"])
    assert_same(fast_way, careful_way)
    assert careful_way["summaries"]["marketing"]["marketing.engagement"] == {"read": 21, "loaded": 20, "quarantined": 1}
    assert used["fast"] == {}


# -- the SQL source ------------------------------------------------------------------------------------
TABLES += ["raw.product_users", "raw.product_events", "raw.product_workspaces"]
PRODUCT = {"users": "user", "events": "event", "workspaces": "workspace"}


def app_user(i, **changes) -> tuple:
    row = {"user_id": f"U{i}", "email": f"u{i}@acme.com", "workspace_id": f"W{i % 7}",
           "signed_up_at": "2026-11-01T00:00:00Z", "plan": "trial", "updated_at": f"2026-11-{1 + i % 18:02d}T10:00:00Z"}  # fmt: skip
    return tuple({**row, **changes}.values())


def app_event(i, **changes) -> tuple:
    row = {"event_id": f"P{i}", "user_id": f"U{i % 50}", "workspace_id": "W1", "event_name": "session_started",
           "properties": '{"device":"desktop"}', "occurred_at": f"2026-11-{1 + i % 18:02d}T10:{i % 60:02d}:00Z"}  # fmt: skip
    return tuple({**row, **changes}.values())


def app_workspace(i, **changes) -> tuple:
    row = {"workspace_id": f"W{i}", "seats": i % 9 + 1, "plan": "free", "trial_ends_at": "2027-01-01T00:00:00Z",
           "updated_at": f"2026-11-{1 + i % 18:02d}T10:00:00Z"}  # fmt: skip
    return tuple({**row, **changes}.values())


def app_db(path, users, events, workspaces, extra_column: bool = False) -> None:
    import sqlite3

    with sqlite3.connect(path) as db:  # no primary keys: the application's own bugs are what is tested
        db.execute("create table users (user_id, email, workspace_id, signed_up_at, plan, updated_at)")
        db.execute("create table events (event_id, user_id, workspace_id, event_name, properties, occurred_at)")
        extra = ", region" if extra_column else ""
        db.execute(f"create table workspaces (workspace_id, seats integer, plan, trial_ends_at, updated_at{extra})")
        db.executemany("insert into users values (?, ?, ?, ?, ?, ?)", users)
        db.executemany("insert into events values (?, ?, ?, ?, ?, ?)", events)
        marks = ", ?" * (6 if extra_column else 5)
        db.executemany(
            f"insert into workspaces values ({marks[2:]})", [(*w, "eu")[: len(marks) // 3] for w in workspaces]
        )


def bad_users() -> list[tuple]:
    """Application users every SQL corpus starts its bad rows with (keys, e-mails, timestamps)."""
    return [
        app_user(0, user_id=None),  # missing key
        app_user(1, user_id="   "),
        app_user(900, email="not-an-email"),
        app_user(901, email=" Jane@Acme.com "),  # careful: trimmed, loaded
        app_user(902, updated_at="2027-01-01T00:00:00Z"),  # in the future
        app_user(903, updated_at="1999-12-31T23:59:59Z"),  # before 2000
        app_user(904, updated_at="2026-11-19 10:00:00"),  # not canonical: careful, normalised
        app_user(905, updated_at="2026-11-20T12:59:59Z"),  # inside the clock tolerance
    ]


def sql_corpus(env, extra_column: bool = False) -> None:
    users = [app_user(i) for i in range(120)]
    users += [
        *bad_users(),
        app_user(5, plan="pro"),  # a duplicate key
        app_user(906, plan="pro\x07"),  # control characters
        app_user(907, plan="a\tb"),  # a tab: careful, loaded escaped
        app_user(908, plan="line\nbreak"),
        app_user(909, plan="back\\slash"),
        app_user(910, plan="x" * 10_001),  # oversize
        app_user(911, plan="x" * 6_000, workspace_id="y" * 6_000),  # a long row of fields within the limit
        app_user(912, email=7),  # wrong types
        app_user(913, signed_up_at=1700000000),
        app_user(914, plan=5),
        app_user(915, plan=b"bytes"),  # a BLOB
        app_user(916, plan=2.5),
        app_user(917, plan="  "),  # blank: NULL
        app_user(918, email="\u3000"),  # blank for Python: a missing required field
        app_user(919, plan='say "hi"', workspace_id="caf\u00e9 \u65e5\u672c"),  # quotes, non-ASCII
        app_user(920, email=None),
        # A careful row (a tab) first, then the same key on a fast row of the same fetch: the careful one wins.
        *[row for i in range(930, 936) for row in (app_user(i, email="Late@Acme.com", plan="a\tb"), app_user(i))],
    ]
    users += [app_user(i) for i in range(120, 200)]
    # BLOBs in a fetch of text otherwise (Arrow would take bytes as text; the validator does not)
    users += [app_user(921, updated_at=b"2026-11-02T10:00:00Z"), app_user(922, plan=b"  ")]
    users += [app_user(i) for i in range(200, 250)] + [app_user(42), app_user(931)]  # duplicates fetches later
    events = [app_event(i) for i in range(200)]
    events += [
        app_event(900, properties='{"a": 1, "b": [1, 2]}'),  # valid JSON with spaces: stored as it is
        app_event(901, properties='{"a":'),  # invalid JSON
        app_event(902, properties="[1,2]"),
        app_event(903, properties='"text"'),
        app_event(904, properties="NaN"),
        app_event(905, properties=""),
        app_event(906, properties=None),
        app_event(907, properties=5),  # a number, not text
        app_event(908, properties='{"a":"\\u0000"}'),  # NUL inside JSON
        app_event(909, properties='{"a":"\\u00e9"}'),  # an escape
        app_event(910, properties='{"k":1,"k":2}'),  # a key given twice
        app_event(911, event_name=None),
        app_event(912, user_id=""),
        app_event(913, occurred_at="2026-11-20T13:00:01Z"),  # past the clock tolerance
        app_event(3, event_name="page_viewed"),
    ]
    events += [app_event(i) for i in range(200, 300)] + [app_event(7)]
    workspaces = [app_workspace(i) for i in range(100)]
    workspaces += [
        app_workspace(900, seats="7"),  # text holding an integer
        app_workspace(901, seats=" 7"),
        app_workspace(902, seats="12 seats"),
        app_workspace(903, seats=3.0),
        app_workspace(904, seats=2.5),
        app_workspace(905, seats=2**62),  # 19 digits
        app_workspace(906, seats=-3),
        app_workspace(907, seats=None),
        app_workspace(908, seats=""),
        app_workspace(909, trial_ends_at="2030-01-01T00:00:00Z"),  # a future date allowed in this column
        app_workspace(910, updated_at="2030-01-01T00:00:00Z"),
        app_workspace(11),
    ]
    app_db(env.landing / "app.db", users, events, workspaces, extra_column)
    entities = {name: {"table": table} for table, name in PRODUCT.items()}
    env.configure({"product": {"kind": "sql", "url": f"sqlite:///{env.landing / 'app.db'}", "entities": entities}})


def test_a_sql_source_loads_the_same_both_ways(env, server_url, monkeypatch) -> None:
    monkeypatch.setattr(sql, "FETCH_ROWS", 37)  # many fetches: duplicates cross them
    sql_corpus(env)
    fast_way, careful_way, rows = pull_both_ways(env, server_url, monkeypatch, ["product"])
    assert_same(fast_way, careful_way)
    assert rows["careful"] == {}
    assert rows["fast"]["product.user"] > 200 and rows["fast"]["product.event"] > 250
    assert rows["fast"]["product.workspace"] > 90
    reasons = {(q[3], q[6]) for q in careful_way["quarantine"]}
    assert ("users row 129", "duplicate key in batch (first seen at users row 6)") in reasons
    assert ("users row 121", "missing required field user_id") in reasons
    assert any(reason.startswith("not an integer") for _, reason in reasons)
    assert any(reason == "invalid JSON in field" for _, reason in reasons)
    late = [r[1] for r in careful_way["raw.product_users"] if "U930" <= r[0] <= "U935"]
    assert late == ["Late@Acme.com"] * 6  # the careful row came first and won
    assert [a for a in careful_way["audit"] if a[3] != a[4] + a[5]] == []


def test_a_sql_table_with_drift_goes_the_careful_way(env, server_url, monkeypatch) -> None:
    sql_corpus(env, extra_column=True)
    fast_way, careful_way, rows = pull_both_ways(env, server_url, monkeypatch, ["product"])
    assert_same(fast_way, careful_way)
    assert "product.workspace" not in rows["fast"] and rows["fast"]["product.user"] > 200


def test_a_generated_app_db_loads_the_same_both_ways(env, server_url, monkeypatch) -> None:
    from leadflow_demo.generator import generate

    generate(env.landing, leads=300, seed=11, as_of=AS_OF)
    entities = {name: {"table": table} for table, name in PRODUCT.items()}
    db = env.landing / "product" / "app.db"
    env.configure({"product": {"kind": "sql", "url": f"sqlite:///{db}", "entities": entities}})
    fast_way, careful_way, rows = pull_both_ways(env, server_url, monkeypatch, ["product"])
    assert_same(fast_way, careful_way)
    assert rows["fast"]["product.event"] > 0.9 * sum(a[4] for a in careful_way["audit"] if a[2] == "event")
    assert careful_way["quarantine"]  # the generator plants bad rows in the application database


# -- duplicates across the two ways, in every order -----------------------------------------------------
def test_duplicates_across_the_two_ways_in_every_order(env, server_url, monkeypatch) -> None:
    """A key first seen on a fast row, then on a careful one, or the other way round, in the same block or
    blocks apart, three times, with a one-part and a composite key, is decided as row by row."""
    monkeypatch.setattr(files, "READ_BYTES", 2048)  # ~10 lines a block
    monkeypatch.setattr(sql, "FETCH_ROWS", 10)
    env.configure({k: CONFIG[k] for k in ("web", "consent")})

    def careful_event(i: int) -> str:
        return event(i, page_path="/caf\u00e9")  # json.dumps escapes the é: the careful way

    web = [event(i) for i in range(100)]
    web += [careful_event(3)]  # fast, then careful 90 lines (blocks) later
    web += [careful_event(500)] + [event(i) for i in range(100, 140)] + [event(500)]  # careful, then fast
    web += [event(501), careful_event(501)]  # fast then careful, same block
    web += [careful_event(502), event(502)]  # careful then fast, same block
    web += [event(i) for i in range(140, 170)] + [careful_event(10), event(10), careful_event(500), event(501)]
    web += [event(i) for i in range(170, 200)] + [event(120), event(120), careful_event(120)]
    env.write("web/events.jsonl", "\n".join(web) + "\n")

    def sup(i: int, reason: str = "unsubscribed", quoted: bool = False, email: str = "") -> str:
        email = email or f"p{i}@acme.com"
        return f'"{email}",{reason},2026-10-01T00:00:00Z' if quoted else f"{email},{reason},2026-10-01T00:00:00Z"

    consent = ["email,reason,added_at"] + [sup(i) for i in range(80)]
    consent += [sup(3, quoted=True), sup(3, "bounced", quoted=True)]  # fast then careful; another reason: new
    consent += [sup(500, quoted=True)] + [sup(i) for i in range(80, 120)] + [sup(500), sup(500, "bounced")]
    consent += [sup(501), sup(501, quoted=True), sup(502, quoted=True), sup(502)]  # the same block
    consent += [sup(5, email=" p5@acme.com "), sup(6, email="P6@acme.com")]  # trimmed: the same key; case: not
    consent += [sup(i) for i in range(120, 150)] + [sup(3), sup(500, "bounced", quoted=True), sup(501)]
    env.write("consent/suppressions.csv", "\n".join(consent) + "\n")

    fast_way, careful_way, rows = pull_both_ways(env, server_url, monkeypatch, ["web", "consent"])
    assert_same(fast_way, careful_way)
    assert rows["fast"]["web.event"] > 150 and rows["fast"]["consent.suppression"] > 100
    reasons = {(q[3], q[6]) for q in careful_way["quarantine"]}
    first = "duplicate key in batch (first seen at {})".format
    assert ("web/events.jsonl:101", first("web/events.jsonl:4")) in reasons  # careful after fast
    assert ("web/events.jsonl:143", first("web/events.jsonl:102")) in reasons  # fast after careful
    assert ("web/events.jsonl:178", first("web/events.jsonl:11")) in reasons  # careful after fast, then
    assert ("web/events.jsonl:179", first("web/events.jsonl:11")) in reasons  # fast again
    assert ("consent/suppressions.csv:82", first("consent/suppressions.csv:5")) in reasons
    assert ("consent/suppressions.csv:125", first("consent/suppressions.csv:84")) in reasons
    assert ("consent/suppressions.csv:131", first("consent/suppressions.csv:7")) in reasons  # " p5@acme.com "
    assert [a for a in careful_way["audit"] if a[3] != a[4] + a[5]] == []


def test_sql_duplicates_across_the_two_ways_in_every_order(env, server_url, monkeypatch) -> None:
    monkeypatch.setattr(sql, "FETCH_ROWS", 10)  # duplicates cross fetches
    users = [app_user(i) for i in range(40)]
    users += [app_user(3, plan="a\tb")]  # fast, then careful fetches later
    users += [app_user(500, plan="a\tb")] + [app_user(i) for i in range(40, 70)] + [app_user(500)]  # the other way
    users += [app_user(501), app_user(501, plan="a\tb"), app_user(502, plan="a\tb"), app_user(502)]  # one fetch
    users += [app_user(i) for i in range(70, 90)] + [app_user(10, plan="a\tb"), app_user(10), app_user(500)]
    app_db(env.landing / "app.db", users, [app_event(i) for i in range(20)], [app_workspace(i) for i in range(5)])
    entities = {name: {"table": table} for table, name in PRODUCT.items()}
    env.configure({"product": {"kind": "sql", "url": f"sqlite:///{env.landing / 'app.db'}", "entities": entities}})
    fast_way, careful_way, rows = pull_both_ways(env, server_url, monkeypatch, ["product"])
    assert_same(fast_way, careful_way)
    assert rows["fast"]["product.user"] > 80
    reasons = {(q[3], q[6]) for q in careful_way["quarantine"]}
    first = "duplicate key in batch (first seen at {})".format
    assert ("users row 41", first("users row 4")) in reasons
    assert ("users row 73", first("users row 42")) in reasons
    assert ("users row 98", first("users row 11")) in reasons and ("users row 99", first("users row 11")) in reasons
    assert ("users row 100", first("users row 42")) in reasons
