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

from leadflow.pull import fast, readers
from leadflow.pull.readers import SourceError

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
    monkeypatch.setattr(readers, "READ_BYTES", 2048)  # files of many blocks
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
    from leadflow.demo.generator import generate

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
