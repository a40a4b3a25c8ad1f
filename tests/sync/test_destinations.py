"""Each destination against its fake API: what it holds, how many requests it took, removals, splits."""

from __future__ import annotations

import json
import math
import os
from datetime import timedelta

import psycopg
import pytest

from leadflow.sync.engine import SyncFailed, run_sync
from tests.sync.conftest import (
    QUALIFIED_AT,
    assert_exactly_once,
    dead_letters,
    held,
    lead,
    ledger,
    make_queue,
    suppress,
    use_destinations,
)

ALL = ("file", "hubspot", "outreach", "slack", "webhook")


def by_name(reports) -> dict:
    return {r.destination: r for r in reports}


def test_every_destination_gets_each_lead_once_and_an_unchanged_rerun_sends_nothing(sync_env) -> None:
    leads = [lead(i) for i in range(37)]
    make_queue(sync_env["url"], leads, ALL)
    first = by_name(run_sync("ok"))
    for name in ALL:
        assert_exactly_once(sync_env["servers"], sync_env["home"], name, leads)
        assert first[name].status == "ok" and first[name].rejected == 0
    assert first["hubspot"].requests == 1 and first["webhook"].requests == 1
    assert first["outreach"].requests == 2 * 37  # create the prospect + enrol it in its route's sequence
    assert first["slack"].requests == first["slack"].sent == 10  # one message per hot lead
    again = by_name(run_sync("ok"))
    assert {n: (r.planned, r.requests) for n, r in again.items()} == {n: (0, 0) for n in ALL}
    with psycopg.connect(sync_env["url"]) as conn:
        runs = conn.execute(
            "select destination, planned, sent, unchanged, status, requests from ops.sync_runs "
            "order by finished_at desc limit 5"
        ).fetchall()
    assert {r[0]: r[1:] for r in runs}["hubspot"] == (0, 0, 37, "ok", 0)


def test_requests_per_changed_lead(sync_env, monkeypatch) -> None:
    leads = [lead(i) for i in range(250)]
    make_queue(sync_env["url"], leads, ("hubspot", "webhook"))
    use_destinations(monkeypatch, "hubspot", "webhook")
    first = by_name(run_sync("ok"))
    assert first["hubspot"].requests == math.ceil(250 / 100)
    assert first["webhook"].requests == math.ceil(250 / 100)
    changed = [dict(r, reasons_text="reason v2") if i % 36 == 0 else r for i, r in enumerate(leads)]
    make_queue(sync_env["url"], changed, ("hubspot", "webhook"))
    second = by_name(run_sync("ok"))
    assert {n: (r.updated, r.unchanged, r.requests) for n, r in second.items()} == {
        "hubspot": (7, 243, 1),
        "webhook": (7, 243, 1),
    }
    for name in ("hubspot", "webhook"):
        assert_exactly_once(sync_env["servers"], sync_env["home"], name, changed)
    contact = next(
        c for c in sync_env["servers"].hubspot.contacts.values() if c["properties"]["email"] == "lead0@example.com"
    )
    assert contact["properties"]["leadflow_reasons"] == "reason v2"


def test_outreach_costs_two_requests_per_new_lead_and_one_per_change(sync_env, monkeypatch) -> None:
    leads = [lead(i) for i in range(12)]
    make_queue(sync_env["url"], leads, ("outreach",))
    use_destinations(monkeypatch, "outreach")
    [first] = run_sync("ok")
    assert first.requests == 2 * 12  # create the prospect, enrol it in its route's sequence
    make_queue(sync_env["url"], [dict(r, title="CTO") if i < 3 else r for i, r in enumerate(leads)], ("outreach",))
    [second] = run_sync("ok")
    assert (second.updated, second.requests) == (3, 3)  # same route: one PATCH each
    assert_exactly_once(sync_env["servers"], sync_env["home"], "outreach", leads)


def test_a_lead_that_stops_qualifying_is_removed_per_destination_and_can_come_back(sync_env) -> None:
    leads = [lead(i) for i in range(8)]
    make_queue(sync_env["url"], leads, ALL)
    run_sync("ok")
    gone = leads[4]  # account_executive: in every destination
    make_queue(sync_env["url"], [r for r in leads if r is not gone], ALL)
    reports = by_name(run_sync("ok"))
    assert {n: r.removed for n, r in reports.items()} == {n: 1 for n in ALL}
    srv = sync_env["servers"]
    contact = next(c for c in srv.hubspot.contacts.values() if c["properties"]["email"] == gone["email"])
    assert contact["properties"]["leadflow_status"] == "disqualified"  # CRM records are marked, not deleted
    prospect = next(p for p in srv.outreach.prospects.values() if p["attributes"]["externalId"] == gone["lead_id"])
    assert [s["state"] for s in srv.outreach.states.values() if s["prospect"] == prospect["id"]] == ["finished"]
    assert srv.webhook.latest[gone["lead_id"]]["action"] == "remove"
    assert len(srv.slack.messages) == 2  # nothing posted for a removal
    assert ledger(sync_env["url"], "hubspot")[gone["lead_id"]][:2] == ("removed", "removed")
    assert {n: r.planned for n, r in by_name(run_sync("ok")).items()} == {n: 0 for n in ALL}
    # qualifies again: back in every destination, re-enrolled, announced again
    make_queue(sync_env["url"], leads, ALL)
    back = by_name(run_sync("ok"))
    assert {n: r.sent for n, r in back.items()} == {n: 1 for n in ALL}
    for name in ("hubspot", "outreach", "webhook", "file"):
        assert_exactly_once(srv, sync_env["home"], name, leads)
    assert held(srv, sync_env["home"], "slack")[gone["lead_id"]] == 2


def test_an_email_suppressed_after_delivery_is_taken_out_of_outreach(sync_env, monkeypatch) -> None:
    leads = [lead(i) for i in range(4)]
    make_queue(sync_env["url"], leads, ("outreach", "hubspot"))
    use_destinations(monkeypatch, "outreach", "hubspot")
    run_sync("ok")
    suppress(sync_env["url"], leads[1]["email"].upper())  # the queue has not caught up yet
    reports = by_name(run_sync("ok"))
    assert reports["outreach"].removed == 1 and reports["outreach"].sent == 0
    api = sync_env["servers"].outreach
    pid = api.by_email[leads[1]["email"]]
    assert {s["state"] for s in api.states.values() if s["prospect"] == pid} == {"finished"}


def test_outreach_route_change_moves_the_lead_to_the_new_sequence(sync_env, monkeypatch) -> None:
    leads = [lead(1)]  # product_led_sales -> sequence 2
    make_queue(sync_env["url"], leads, ("outreach",))
    use_destinations(monkeypatch, "outreach")
    run_sync("ok")
    make_queue(sync_env["url"], [dict(leads[0], route="account_executive", primary_type="sql")], ("outreach",))
    [report] = run_sync("ok")
    assert report.updated == 1 and report.requests == 3  # PATCH, finish the old state, enrol in the new one
    api = sync_env["servers"].outreach
    assert sorted((s["sequence"], s["state"]) for s in api.states.values()) == [(1, "active"), (2, "finished")]
    assert len(api.prospects) == 1


def test_hubspot_email_change_updates_the_same_contact(sync_env, monkeypatch) -> None:
    make_queue(sync_env["url"], [lead(1)], ("hubspot",))
    use_destinations(monkeypatch, "hubspot")
    run_sync("ok")
    make_queue(sync_env["url"], [lead(1, email="new.address@example.com")], ("hubspot",))
    run_sync("ok")
    contacts = list(sync_env["servers"].hubspot.contacts.values())
    assert [c["properties"]["email"] for c in contacts] == ["new.address@example.com"]


@pytest.mark.parametrize("named", [True, False], ids=["errors-name-inputs", "bisect"])
def test_a_refused_hubspot_batch_is_split_until_the_bad_records_are_isolated(sync_env, monkeypatch, named) -> None:
    leads = [lead(i) for i in range(100)]
    leads[17]["email"] = "not-an-email"
    leads[60]["email"] = "also@bad"
    make_queue(sync_env["url"], leads, ("hubspot",))
    use_destinations(monkeypatch, "hubspot")
    sync_env["servers"].hubspot.name_inputs_in_errors = named
    [report] = run_sync("ok")
    assert (report.sent, report.rejected) == (98, 2)
    letters = dead_letters(sync_env["url"], "hubspot")
    assert {k[1] for k in letters} == {"L0017", "L0060"}
    assert all("INVALID_EMAIL" in reason or "is invalid" in reason for reason, _ in letters.values())
    # named: one refused batch + one clean resend; bisecting: about 2·k·log2(n/k) requests
    assert report.requests == 2 if named else report.requests <= 1 + 2 * 2 * math.ceil(math.log2(100))


def test_a_refused_webhook_batch_is_split_too(sync_env, monkeypatch) -> None:
    leads = [lead(i) for i in range(40)]
    make_queue(sync_env["url"], leads, ("webhook",))
    use_destinations(monkeypatch, "webhook")
    srv = sync_env["servers"].webhook
    srv.reject_mode = "batch"
    srv.faults.update(reject_emails={leads[3]["email"]: "unknown territory"})
    [report] = run_sync("ok")
    assert (report.sent, report.rejected) == (39, 1)
    assert dead_letters(sync_env["url"], "webhook")[("webhook", "L0003")][0].startswith("webhook HTTP 422")


def test_slack_message_says_who_company_why_and_sla(sync_env, monkeypatch) -> None:
    make_queue(sync_env["url"], [lead(0, reasons_text="requested a demo; 3 pricing views")], ("slack",))
    use_destinations(monkeypatch, "slack")
    run_sync("ok")
    [message] = sync_env["servers"].slack.messages
    text = json.dumps(message)
    for part in (
        "First0 Last0",
        "VP Sales",
        "Company 0",
        "requested a demo; 3 pricing views",
        "2026-05-20 09:35 UTC",
        "conversion-qualified (hot)",
        "lead L0000",
    ):
        assert part in text, part


def test_webhook_signature_is_checked_and_a_wrong_secret_stops_only_that_destination(sync_env, monkeypatch) -> None:
    leads = [lead(i) for i in range(5)]
    make_queue(sync_env["url"], leads, ("webhook", "file"))
    use_destinations(monkeypatch, "webhook", "file")
    conn = json.loads(sync_env["servers"].connections()["AIRFLOW_CONN_LEADFLOW_WEBHOOK"])
    conn["extra"]["hmac_secret"] = "not-the-secret"
    monkeypatch.setenv("AIRFLOW_CONN_LEADFLOW_WEBHOOK", json.dumps(conn))
    with pytest.raises(SyncFailed, match="webhook: .*HTTP 401") as failed:
        run_sync("ok")
    reports = by_name(failed.value.reports)
    assert reports["file"].sent == 5 and reports["webhook"].status == "failed"
    assert dead_letters(sync_env["url"]) == {}  # wrong credentials are not the records' fault
    assert sync_env["servers"].webhook.applied == []


def test_a_destination_without_a_connection_fails_loudly_without_blocking_the_others(sync_env, monkeypatch) -> None:
    make_queue(sync_env["url"], [lead(0)], ("hubspot", "file"))
    monkeypatch.delenv("AIRFLOW_CONN_LEADFLOW_HUBSPOT")
    use_destinations(monkeypatch, "hubspot", "file")
    with pytest.raises(SyncFailed, match="AIRFLOW_CONN_LEADFLOW_HUBSPOT"):
        run_sync("ok")
    assert ledger(sync_env["url"], "file") and not ledger(sync_env["url"], "hubspot")


def test_file_destination_writes_csv(sync_env, monkeypatch) -> None:
    make_queue(sync_env["url"], [lead(i) for i in range(3)], ("file",))
    monkeypatch.setenv("AIRFLOW_CONN_LEADFLOW_FILE", json.dumps({"conn_type": "file", "extra": {"format": "csv"}}))
    use_destinations(monkeypatch, "file")
    run_sync("ok")
    [path] = (sync_env["home"] / "outbox" / "file").glob("batch-*.csv")
    lines = path.read_text().splitlines()
    assert lines[0].startswith("queue_id,lead_id,action,idempotency_key,content_hash,")
    assert len(lines) == 4 and "lead1@example.com" in lines[2]


def test_file_destination_on_a_url_is_shared_by_every_worker(sync_env, monkeypatch) -> None:
    """The outbox on an fsspec URL (s3:// on a cluster; memory:// here): a second sync, as from another machine
    with a fresh process, sees the batches already there and writes nothing twice."""
    import fsspec

    from leadflow.sync.destinations import FileDestination

    url = f"memory://outbox-{os.getpid()}-{id(sync_env)}/file"
    make_queue(sync_env["url"], [lead(i) for i in range(4)], ("file",))
    monkeypatch.setenv("AIRFLOW_CONN_LEADFLOW_FILE", json.dumps({"conn_type": "file", "extra": {"path": url}}))
    use_destinations(monkeypatch, "file")
    [report] = run_sync("ok")
    assert report.sent == 4
    fs = fsspec.filesystem("memory")
    [batch] = fs.glob(url.removeprefix("memory:/") + "/batch-*.jsonl")
    lines = fs.cat(batch).decode().splitlines()
    assert sorted(json.loads(line)["lead_id"] for line in lines) == sorted(lead(i)["lead_id"] for i in range(4))
    assert not (sync_env["home"] / "outbox" / "file").exists()  # nothing went to the local folder
    # Another worker's destination over the same URL knows every key: re-sending the records writes nothing.
    records = [{"idempotency_key": json.loads(line)["idempotency_key"], "queue_id": "q"} for line in lines]
    FileDestination("file", url).deliver(records)
    assert fs.glob(url.removeprefix("memory:/") + "/batch-*.jsonl") == [batch]


def test_dry_run_sends_nothing_anywhere_and_stores_the_diff(sync_env) -> None:
    leads = [lead(i) for i in range(6)]
    make_queue(sync_env["url"], leads, ALL)
    run_sync("ok")
    make_queue(sync_env["url"], [dict(leads[0], title="CEO")] + leads[1:5], ALL)
    before = {s.kind: s.stats.snapshot()["requests"] for s in sync_env["servers"].all}
    reports = by_name(run_sync("ok", dry_run=True))
    assert {s.kind: s.stats.snapshot()["requests"] for s in sync_env["servers"].all} == before
    assert reports["hubspot"].planned == 2 and reports["hubspot"].status == "dry_run"
    with psycopg.connect(sync_env["url"]) as conn:
        diff = conn.execute(
            "select lead_id, action, detail from ops.sync_log where destination = 'hubspot' and detail like 'dry run%%' "
            "order by lead_id"
        ).fetchall()
        assert conn.execute("select count(*) from ops.sync_pending").fetchone()[0] == 0
    assert diff == [("L0000", "update", "dry run: changed title"), ("L0005", "remove", "dry run")]


def test_the_ledger_keeps_each_qualifications_first_delivery_and_the_sync_writes_only_ops(
    sync_env, monkeypatch
) -> None:
    leads = [lead(i) for i in range(3)]
    make_queue(sync_env["url"], leads, ("file", "webhook"))
    use_destinations(monkeypatch, "file", "webhook")
    with psycopg.connect(sync_env["url"], autocommit=True) as conn:
        # a dbt table: the sync must not write it (marts.speed_to_lead reads the ledger instead)
        conn.execute(
            "create table marts.speed_to_lead as select lead_id, max(qualified_at) as qualifying_event_at, "
            "cast(null as timestamptz) as synced_at from marts.outreach_queue group by lead_id"
        )

    def deliveries() -> dict:
        with psycopg.connect(sync_env["url"]) as conn:
            return {
                (r[0], r[1]): r[2:]
                for r in conn.execute(
                    "select lead_id, destination, qualified_at, qualification_delivered_at, delivered_at "
                    "from ops.sync_ledger"
                )
            }

    run_sync("ok")
    first = deliveries()
    assert len(first) == 6 and all(q == QUALIFIED_AT and at == d for q, at, d in first.values())
    # new content, same qualification: its first delivery stays
    make_queue(sync_env["url"], [dict(r, title="CTO") for r in leads], ("file", "webhook"))
    run_sync("ok")
    second = deliveries()
    assert {k: v[:2] for k, v in second.items()} == {k: v[:2] for k, v in first.items()}
    assert all(d > at for _, at, d in second.values())
    # qualified again at a new time: delivered again, and that is the new qualification's first delivery
    later = QUALIFIED_AT + timedelta(hours=1)
    make_queue(sync_env["url"], [dict(r, title="CTO", qualified_at=later) for r in leads], ("file", "webhook"))
    run_sync("ok")
    third = deliveries()
    assert all(q == later and at == d and at > second[k][1] for k, (q, at, d) in third.items())
    with psycopg.connect(sync_env["url"]) as conn:
        assert conn.execute("select count(*) from marts.speed_to_lead where synced_at is not null").fetchone() == (0,)


def test_hubspot_properties_are_strings_even_when_a_field_is_missing(sync_env, monkeypatch) -> None:
    """HubSpot's spec types every property value as a string: a missing name or title is sent as "" (cleared)."""
    leads = [lead(0, first_name=None, last_name=None, company_name=None, title=None), lead(1)]
    make_queue(sync_env["url"], leads, ("hubspot",))
    use_destinations(monkeypatch, "hubspot")
    [report] = run_sync("ok")
    assert (report.sent, report.rejected) == (2, 0)
    [contact] = [
        c for c in sync_env["servers"].hubspot.contacts.values() if c["properties"]["email"] == "lead0@example.com"
    ]
    assert {k: contact["properties"][k] for k in ("firstname", "lastname", "company", "jobtitle")} == {
        "firstname": "", "lastname": "", "company": "", "jobtitle": ""
    }  # fmt: skip


def test_an_outreach_connection_without_a_mailbox_fails_loudly_and_sends_nothing(sync_env, monkeypatch) -> None:
    """Outreach enrols a prospect in a sequence only with a mailbox: without one every enrolment would be refused."""
    make_queue(sync_env["url"], [lead(0)], ("outreach", "file"))
    conn = json.loads(os.environ["AIRFLOW_CONN_LEADFLOW_OUTREACH"])
    conn["extra"].pop("mailbox_id")
    monkeypatch.setenv("AIRFLOW_CONN_LEADFLOW_OUTREACH", json.dumps(conn))
    use_destinations(monkeypatch, "outreach", "file")
    with pytest.raises(SyncFailed, match="mailbox_id"):
        run_sync("ok")
    assert sync_env["servers"].outreach.stats.snapshot()["requests"] == 0
    assert ledger(sync_env["url"], "file") and not ledger(sync_env["url"], "outreach")
