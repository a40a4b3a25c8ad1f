"""The bad-input corpus: each bad record next to a good one, loaded for real.

Every case asserts the exact quarantine reason, the field and the location, that the good record
is in raw, and that the audit balances (read = loaded + quarantined).
"""

from __future__ import annotations

import json

import pytest

WEB = {
    "event_id": "E1",
    "anonymous_id": "a1",
    "email": "jane@acme.com",
    "user_id": None,
    "event_type": "page_view",
    "page_path": "/pricing",
    "referrer": None,
    "utm_source": None,
    "utm_campaign": None,
    "occurred_at": "2026-11-19T10:00:00Z",
}
WORKSPACE = {"workspace_id": "W1", "seats": 3, "plan": "trial", "trial_ends_at": "2026-12-01T00:00:00Z",
             "updated_at": "2026-11-19T00:00:00Z"}  # fmt: skip
ACCOUNT = {"account_id": "A1", "domain": "acme.com", "name": "Acme", "employee_count": "120",
           "annual_revenue": "1500000", "is_customer": "false", "updated_at": "2026-11-19T00:00:00Z"}  # fmt: skip
EVENT = {"event_id": "P1", "user_id": "U1", "workspace_id": "W1", "event_name": "project_created",
         "properties": {"n": 1}, "occurred_at": "2026-11-19T00:00:00Z"}  # fmt: skip
HEADER = "engagement_id,email,channel,action,asset_name,occurred_at\n"
GOOD_CSV = "M1,jane@acme.com,email,email_open,Newsletter,2026-11-19T10:00:00Z\n"

CONFIG = {
    "web": {"kind": "files", "format": "jsonl", "entities": {"event": {"pattern": "web/*.jsonl"}}},
    "marketing": {"kind": "files", "format": "csv", "entities": {"engagement": {"pattern": "marketing/*.csv"}}},
    "product": {
        "kind": "files",
        "format": "jsonl",
        "entities": {
            "workspace": {"pattern": "product/workspaces.jsonl"},
            "event": {"pattern": "product/events.jsonl"},
        },
    },
    "crm": {"kind": "files", "format": "jsonl", "entities": {"account": {"pattern": "crm/accounts.jsonl"}}},
}


def web(**changes) -> str:
    record = {**WEB, "event_id": "E2", **changes}
    return json.dumps({k: v for k, v in record.items() if v is not ...})


def jl(base: dict, key: str, **changes) -> str:
    return json.dumps({**base, key: base[key][0] + "2", **changes})


# (id, file, second line (bytes or str), field, reason) -- the good record is line 1 (CSV: line 2).
CASES = [
    ("unparseable-json", "web/events.jsonl", '{"event_id": "E2" "event_type": "page_view"}', None,
     "unparseable JSON line: Expecting ',' delimiter"),
    ("json-not-an-object", "web/events.jsonl", '["E2", "page_view"]', None, "JSON line is not an object"),
    ("invalid-utf8", "web/events.jsonl", web(page_path="/cafe").replace("/cafe", "/caf\udce9").encode("utf-8", "surrogateescape"),
     None, "invalid UTF-8 in line"),
    ("nan-number", "web/events.jsonl", web()[:-1] + ', "score": NaN}', None, "unparseable JSON line: NaN is not valid JSON"),
    ("missing-key", "web/events.jsonl", web(event_id=...), "event_id", "missing required field event_id"),
    ("blank-key", "web/events.jsonl", web(event_id="   "), "event_id", "missing required field event_id"),
    ("missing-required", "web/events.jsonl", web(event_type=None), "event_type", "missing required field event_type"),
    ("missing-cursor", "web/events.jsonl", web(occurred_at=...), "occurred_at", "missing required field occurred_at"),
    ("email-no-domain", "web/events.jsonl", web(email="jane@"), "email", 'invalid email: "jane@"'),
    ("email-with-space", "web/events.jsonl", web(email="jane doe@acme.com"), "email", 'invalid email: "jane doe@acme.com"'),
    ("email-double-at", "web/events.jsonl", web(email="jane@@acme.com"), "email", 'invalid email: "jane@@acme.com"'),
    ("future-timestamp", "web/events.jsonl", web(occurred_at="2026-11-21T00:00:00Z"), "occurred_at",
     "timestamp in the future: 2026-11-21T00:00:00Z"),
    ("future-with-offset", "web/events.jsonl", web(occurred_at="2026-11-20T15:30:00+02:00"), "occurred_at",
     "timestamp in the future: 2026-11-20T13:30:00Z"),
    ("before-2000", "web/events.jsonl", web(occurred_at="1999-12-31T23:59:59Z"), "occurred_at",
     "timestamp before 2000: 1999-12-31T23:59:59Z"),
    ("not-a-timestamp", "web/events.jsonl", web(occurred_at="yesterday"), "occurred_at", 'invalid timestamp: "yesterday"'),
    ("epoch-number-timestamp", "web/events.jsonl", web(occurred_at=1700000000), "occurred_at",
     'invalid timestamp: "1700000000"'),
    ("duplicate-key-jsonl", "web/events.jsonl", web(event_id="E1", referrer="https://dup.example/"), "event_id",
     "duplicate key in batch (first seen at web/events.jsonl:1)"),
    ("oversize-field", "web/events.jsonl", web(page_path="/" + "x" * 10_000), "page_path",
     "oversize field: 10001 characters (limit 10000)"),
    ("nul-escape", "web/events.jsonl", web(page_path="/docs/\u0000start"), "page_path", "control characters in field"),
    ("ansi-escape", "web/events.jsonl", web(page_path="/fea\u001b[31mtures"), "page_path", "control characters in field"),
    ("raw-del", "web/events.jsonl", json.dumps({**WEB, "event_id": "E2", "referrer": "x\x7fy"}, ensure_ascii=False),
     "referrer", "control characters in field"),
    ("lone-surrogate", "web/events.jsonl", web(page_path="PLACEHOLDER").replace("PLACEHOLDER", "\\ud800"), "page_path",
     "invalid Unicode in field"),
    ("csv-too-few-fields", "marketing/engagements.csv", "M2,jane@acme.com,email,email_open,Newsletter", None,
     "malformed CSV row: expected 6 fields, got 5"),
    ("csv-too-many-fields", "marketing/engagements.csv", "M2,jane@acme.com,email,email_open,News,letter,2026-11-19T10:00:00Z",
     None, "malformed CSV row: expected 6 fields, got 7"),
    ("csv-blank-required", "marketing/engagements.csv", "M2, ,email,email_open,Newsletter,2026-11-19T10:00:00Z", "email",
     "missing required field email"),
    ("csv-invalid-email", "marketing/engagements.csv", "M2,not-an-email,email,email_open,Newsletter,2026-11-19T10:00:00Z",
     "email", 'invalid email: "not-an-email"'),
    ("csv-nul-byte", "marketing/engagements.csv", "M2,jane@acme.com,email,email_open,News\x00letter,2026-11-19T10:00:00Z",
     None, "control characters in line (NUL byte)"),
    ("csv-invalid-utf8", "marketing/engagements.csv", b"M2,jane@acme.com,email,email_open,Caf\xe9,2026-11-19T10:00:00Z",
     None, "invalid UTF-8 in line"),
    ("csv-bell-character", "marketing/engagements.csv", "M2,jane@acme.com,email,email_open,News\x07,2026-11-19T10:00:00Z",
     "asset_name", "control characters in field"),
    ("csv-duplicate-key", "marketing/engagements.csv", "M1,jane@acme.com,email,email_click,Newsletter,2026-11-19T10:05:00Z",
     "engagement_id", "duplicate key in batch (first seen at marketing/engagements.csv:2)"),
    ("integer-with-words", "product/workspaces.jsonl", jl(WORKSPACE, "workspace_id", seats="12 seats"), "seats",
     'not an integer: "12 seats"'),
    ("integer-with-fraction", "product/workspaces.jsonl", jl(WORKSPACE, "workspace_id", seats=12.5), "seats",
     'not an integer: "12.5"'),
    ("integer-overflow", "product/workspaces.jsonl", jl(WORKSPACE, "workspace_id", seats="99999999999999999999"), "seats",
     'not an integer: "99999999999999999999"'),
    ("not-a-number", "crm/accounts.jsonl", jl(ACCOUNT, "account_id", annual_revenue="lots"), "annual_revenue",
     'not a number: "lots"'),
    ("nan-number-string", "crm/accounts.jsonl", jl(ACCOUNT, "account_id", annual_revenue="NaN"), "annual_revenue",
     'not a number: "NaN"'),
    ("not-a-boolean", "crm/accounts.jsonl", jl(ACCOUNT, "account_id", is_customer="maybe"), "is_customer",
     'not a boolean: "maybe"'),
    ("invalid-json-field", "product/events.jsonl", jl(EVENT, "event_id", properties="{oops"), "properties",
     "invalid JSON in field"),
]  # fmt: skip

FIRST = {"web/events.jsonl": json.dumps(WEB), "product/workspaces.jsonl": json.dumps(WORKSPACE),
         "crm/accounts.jsonl": json.dumps(ACCOUNT), "product/events.jsonl": json.dumps(EVENT)}  # fmt: skip


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(("case", "rel", "line", "field", "reason"), CASES, ids=[c[0] for c in CASES])
def test_bad_record_is_quarantined_with_its_exact_reason(env, case, rel, line, field, reason) -> None:
    env.configure(CONFIG)
    line = line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass")
    if rel.endswith(".csv"):
        env.write(rel, HEADER.encode() + GOOD_CSV.encode() + line + b"\n")
        location = f"{rel}:3"
    else:
        env.write(rel, FIRST[rel].encode() + b"\n" + line + b"\n")
        location = f"{rel}:2"
    source = {"web": "web", "marketing": "marketing", "product": "product", "crm": "crm"}[rel.split("/")[0]]
    summary = env.pull(source)

    assert env.quarantine() == [(location, field, reason)]
    entity_key = next(k for k, v in summary.items() if v["read"])
    assert {k: (v["read"], v["loaded"], v["quarantined"]) for k, v in summary.items() if v["read"]} == {
        entity_key: (2, 1, 1)
    }
    (_, _, _, read, loaded, quarantined), *_ = [a for a in env.audit(source) if a[3]]
    assert (read, loaded, quarantined) == (2, 1, 1)
    assert env.one("select count(*) from ops.load_audit where read <> loaded + quarantined") == 0
    table = {"web": "raw.web_events", "marketing": "raw.marketing_engagements", "crm": "raw.crm_accounts"}.get(
        source, "raw.product_workspaces" if "workspaces" in rel else "raw.product_events"
    )
    assert env.one(f"select count(*) from {table}") == 1  # the good neighbour is loaded
    payload = env.one("select payload from ops.quarantine")
    assert payload  # the raw record is kept for the person who fixes it
