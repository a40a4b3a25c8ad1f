"""Destination faults: after the retries and the next run, every lead is at the destination exactly once.

Each scenario runs against the fake API of one destination (demo/leadflow_demo/destinations_server.py)
with its faults switched on, then checks what the destination holds: no lead lost, none duplicated.
Slack has no idempotency key, so the scenarios where Slack *applied* a message whose answer was lost
are in their own tests, which pin the documented at-least-once window (one message per lost answer).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import psycopg
import pytest

from leadflow.sync.engine import SyncFailed, run_sync
from tests.sync.conftest import (
    assert_exactly_once,
    dead_letters,
    held,
    lead,
    ledger,
    make_queue,
    run_worker,
    use_destinations,
)

HTTP_DESTINATIONS = ("hubspot", "outreach", "webhook", "slack")
IDEMPOTENT = ("hubspot", "outreach", "webhook")
LEADS = 24


def fake(sync_env, destination):
    return getattr(sync_env["servers"], destination)


def setup(sync_env, monkeypatch, destination, n=LEADS):
    leads = [lead(i) for i in range(n)]
    make_queue(sync_env["url"], leads, (destination,))
    use_destinations(monkeypatch, destination)
    return leads


def sync(expect_failure: bool = False):
    if expect_failure:
        with pytest.raises(SyncFailed) as failed:
            run_sync("ok")
        return failed.value.reports[0]
    [report] = run_sync("ok")
    return report


@pytest.mark.parametrize("destination", HTTP_DESTINATIONS)
def test_429_storm_is_waited_out(sync_env, monkeypatch, destination) -> None:
    leads = setup(sync_env, monkeypatch, destination)
    fake(sync_env, destination).faults.update(storm_429=5, retry_after=0.05)
    report = sync()
    assert report.rate_limited >= 5 and report.request_retries >= 5
    assert report.status == "ok" and report.sent == len(held(sync_env["servers"], sync_env["home"], destination))
    assert sync().planned == 0
    assert_exactly_once(sync_env["servers"], sync_env["home"], destination, leads)


@pytest.mark.parametrize("destination", HTTP_DESTINATIONS)
def test_500s_are_retried(sync_env, monkeypatch, destination) -> None:
    leads = setup(sync_env, monkeypatch, destination)
    fake(sync_env, destination).faults.update(fail_next=2, fail_every=3, fail_status=500)
    report = sync()
    assert report.status == "ok" and report.request_retries >= 2
    fake(sync_env, destination).faults.reset()
    assert sync().planned == 0
    assert_exactly_once(sync_env["servers"], sync_env["home"], destination, leads)


@pytest.mark.parametrize("destination", IDEMPOTENT)
def test_timeouts_with_and_without_the_write_applied(sync_env, monkeypatch, destination) -> None:
    leads = setup(sync_env, monkeypatch, destination)
    # late: the destination applied the write but answered after the client gave up; drop: it never applied it
    fake(sync_env, destination).faults.update(late_next=2, drop_next=1, delay_seconds=0.8)
    report = sync()
    assert report.status == "ok" and report.details["timeouts"] >= 3
    sync()
    assert_exactly_once(sync_env["servers"], sync_env["home"], destination, leads)


@pytest.mark.parametrize("destination", IDEMPOTENT)
def test_connection_reset_mid_batch(sync_env, monkeypatch, destination) -> None:
    leads = setup(sync_env, monkeypatch, destination)
    # reset after the write was applied (the answer is lost), and reset before it was
    fake(sync_env, destination).faults.update(reset_after_next=2, reset_next=1)
    report = sync()
    assert report.status == "ok" and report.details["connection_errors"] >= 2
    sync()
    assert_exactly_once(sync_env["servers"], sync_env["home"], destination, leads)


def test_slack_timeouts_and_resets_before_the_message_is_posted(sync_env, monkeypatch) -> None:
    leads = setup(sync_env, monkeypatch, "slack")
    sync_env["servers"].slack.faults.update(drop_next=1, reset_next=2, delay_seconds=0.8)
    assert sync().status == "ok"
    assert_exactly_once(sync_env["servers"], sync_env["home"], "slack", leads)


def test_slack_lost_answer_is_the_documented_at_least_once_window(sync_env, monkeypatch) -> None:
    """Slack posted the message, the answer was lost: the retry posts it again — one duplicate per lost answer."""
    leads = setup(sync_env, monkeypatch, "slack")
    sync_env["servers"].slack.faults.update(reset_after_next=1)
    assert sync().status == "ok"
    counts = held(sync_env["servers"], sync_env["home"], "slack")
    assert sorted(counts.values()).count(2) == 1 and max(counts.values()) == 2
    assert set(counts) == {r["lead_id"] for r in leads if r["route"] == "account_executive"}


@pytest.mark.parametrize("destination", HTTP_DESTINATIONS)
def test_partial_rejects_go_to_dead_letter_and_are_retried_every_run(sync_env, monkeypatch, destination) -> None:
    leads = setup(sync_env, monkeypatch, destination)
    hot = [r for r in leads if destination != "slack" or r["route"] == "account_executive"]
    bad = {hot[1]["email"]: "owner is not a valid option", hot[5]["email"]: "owner is not a valid option"}
    api = fake(sync_env, destination)
    api.faults.update(reject_emails=bad)
    first = sync()
    assert (first.rejected, first.status) == (2, "partial")
    letters = dead_letters(sync_env["url"], destination)
    assert {k[1] for k in letters} == {hot[1]["lead_id"], hot[5]["lead_id"]}
    assert all(("not a valid option" in reason or "invalid_blocks" in reason) for reason, _ in letters.values())
    # unchanged and still refused: retried anyway, attempts counted
    requests_before = api.stats.snapshot()["requests"]
    second = sync()
    assert second.planned == 2 and second.rejected == 2
    assert api.stats.snapshot()["requests"] > requests_before
    assert {v[1] for v in dead_letters(sync_env["url"], destination).values()} == {2}
    # the destination accepts them now: retried again, delivered, dead letters cleared
    api.faults.update(reject_emails={})
    third = sync()
    assert (third.retried, third.rejected) == (2, 0)
    assert dead_letters(sync_env["url"], destination) == {}
    assert sync().planned == 0
    assert_exactly_once(sync_env["servers"], sync_env["home"], destination, leads)


@pytest.mark.parametrize("destination", HTTP_DESTINATIONS)
def test_outage_fails_the_run_loses_nothing_and_the_next_run_delivers(sync_env, monkeypatch, destination) -> None:
    leads = setup(sync_env, monkeypatch, destination)
    api = fake(sync_env, destination)
    api.faults.update(fail_next=10_000, fail_status=503)
    report = sync(expect_failure=True)
    assert report.status == "failed" and "503" in report.error
    assert dead_letters(sync_env["url"]) == {}  # a down destination is not the records' fault
    api.faults.reset()
    report = sync()
    assert report.status == "ok"
    assert_exactly_once(sync_env["servers"], sync_env["home"], destination, leads)


@pytest.mark.parametrize("destination", ("file", *IDEMPOTENT))
def test_worker_killed_after_the_destination_accepted_before_the_ledger_commit(
    sync_env, monkeypatch, destination
) -> None:
    leads = setup(sync_env, monkeypatch, destination, n=30)
    batch_size = {"file": "5", "hubspot": "5", "outreach": "5", "webhook": "5"}[destination]
    # smaller batches so the kill lands mid-run
    _set_batch_size(monkeypatch, destination, batch_size)
    code = run_worker({"LEADFLOW_SYNC_FAILPOINT": "after_deliver:3"})
    assert code == -signal.SIGKILL
    with psycopg.connect(sync_env["url"]) as conn:
        pending = conn.execute("select count(*) from ops.sync_pending").fetchone()[0]
        delivered = conn.execute("select count(*) from ops.sync_ledger").fetchone()[0]
    assert pending > 0 and delivered < len(leads)
    report = sync()
    assert report.resumed > 0 and report.status == "ok"
    assert sync().planned == 0
    assert_exactly_once(sync_env["servers"], sync_env["home"], destination, leads)


@pytest.mark.parametrize("destination", IDEMPOTENT)
def test_worker_killed_by_the_destination_while_it_answers(sync_env, monkeypatch, destination) -> None:
    """SIGKILL at the instant the destination applied a write, before the worker reads the answer."""
    leads = setup(sync_env, monkeypatch, destination, n=30)
    _set_batch_size(monkeypatch, destination, "5")
    api = fake(sync_env, destination)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from leadflow.sync.engine import run_sync\nrun_sync('ok')\n"],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    applied = []
    lock = threading.Lock()

    def kill_on_third_write(server, request) -> None:
        with lock:
            applied.append(request.path)
            if len(applied) == 3:
                proc.kill()
                proc.wait()

    api.on_apply = kill_on_third_write
    proc.wait(timeout=120)
    api.on_apply = None
    assert proc.returncode == -signal.SIGKILL
    report = sync()
    assert report.status == "ok"
    assert sync().planned == 0
    assert_exactly_once(sync_env["servers"], sync_env["home"], destination, leads)


def test_slack_worker_killed_before_or_after_the_message(sync_env, monkeypatch) -> None:
    leads = setup(sync_env, monkeypatch, "slack", n=30)
    hot = [r for r in leads if r["route"] == "account_executive"]
    # killed after the "sending" row and before the POST: re-sent once, exactly once
    assert run_worker({"LEADFLOW_SYNC_FAILPOINT": "before_deliver:3"}) == -signal.SIGKILL
    assert len(sync_env["servers"].slack.messages) == 2
    assert sync().resumed == 1
    assert_exactly_once(sync_env["servers"], sync_env["home"], "slack", leads)
    # killed after Slack's "ok" and before the ledger commit: that one message is posted again (at-least-once)
    make_queue(sync_env["url"], [dict(r, qualified_at=r["qualified_at"].replace(hour=11)) for r in leads], ("slack",))
    before = len(sync_env["servers"].slack.messages)
    assert run_worker({"LEADFLOW_SYNC_FAILPOINT": "after_deliver:2"}) == -signal.SIGKILL
    report = sync()
    assert report.resumed == 1
    assert len(sync_env["servers"].slack.messages) - before == len(hot) + 1


def _set_batch_size(monkeypatch, destination: str, size: str) -> None:
    import json

    key = f"AIRFLOW_CONN_LEADFLOW_{destination.upper()}"
    if destination == "file":
        monkeypatch.setenv(key, json.dumps({"conn_type": "file", "extra": {"batch_size": int(size)}}))
        return
    conn = json.loads(os.environ[key])
    conn["extra"]["batch_size"] = int(size)
    monkeypatch.setenv(key, json.dumps(conn))


# --- answers the client cannot attribute record by record: fail closed ---------------------------------------------


@pytest.mark.parametrize("context", ["ids", "emails", "none"])
def test_hubspot_207_whose_errors_name_inputs_another_way_loses_nothing(sync_env, monkeypatch, context) -> None:
    """A 207 naming its failed inputs by id, by email or not at all: those are not delivered, the rest are."""
    leads = setup(sync_env, monkeypatch, "hubspot")
    api = sync_env["servers"].hubspot
    api.multi_status, api.error_context = True, context
    bad = {leads[i]["email"]: "owner is not a valid option" for i in (2, 7, 11, 19)}
    api.faults.update(reject_emails=bad)
    first = sync()
    assert (first.sent, first.rejected, first.status) == (LEADS - 4, 4, "partial")
    letters = dead_letters(sync_env["url"], "hubspot")
    assert {k[1] for k in letters} == {leads[i]["lead_id"] for i in (2, 7, 11, 19)}
    # the answer is attached to each dead letter
    assert all("207" in reason and "numErrors 4" in reason for reason, _ in letters.values())
    if context != "none":  # named another way, the error's own message is kept
        assert all("not a valid option" in reason for reason, _ in letters.values())
    assert set(ledger(sync_env["url"], "hubspot")) == {r["lead_id"] for r in leads} - {k[1] for k in letters}
    api.faults.update(reject_emails={})
    second = sync()
    assert (second.retried, second.rejected) == (4, 0)
    assert dead_letters(sync_env["url"], "hubspot") == {}
    assert sync().planned == 0
    assert_exactly_once(sync_env["servers"], sync_env["home"], "hubspot", leads)


def test_hubspot_answer_with_fewer_results_than_inputs_is_not_taken_as_all_delivered(sync_env, monkeypatch) -> None:
    leads = setup(sync_env, monkeypatch, "hubspot")
    _set_batch_size(monkeypatch, "hubspot", "8")
    api = sync_env["servers"].hubspot
    api.omit_results = 1  # every batch of 8 is written, its answer confirms 7
    first = sync()
    assert (first.sent, first.rejected) == (LEADS - 3, 3)
    letters = dead_letters(sync_env["url"], "hubspot")
    assert len(letters) == 3
    assert all("did not confirm" in reason and "7 result(s) for 8 input(s)" in reason for reason, _ in letters.values())
    assert len(ledger(sync_env["url"], "hubspot")) == LEADS - 3
    api.omit_results = 0
    second = sync()
    assert (second.planned, second.retried, second.rejected) == (3, 3, 0)
    assert sync().planned == 0
    assert_exactly_once(sync_env["servers"], sync_env["home"], "hubspot", leads)


def test_hubspot_contradictory_answer_confirms_nothing(sync_env, monkeypatch) -> None:
    """All inputs in the results and an error too: no input is counted as delivered on that answer."""
    leads = setup(sync_env, monkeypatch, "hubspot", n=4)
    api = sync_env["servers"].hubspot
    api.multi_status, api.error_context = True, "none"
    api.faults.update(reject_emails={leads[0]["email"]: "owner is not a valid option"})
    api.list_failed_in_results = True  # the failed input shows up in the results as well
    report = sync()
    assert report.rejected == 4 and report.sent == 0
    assert all("contradictory" in r for r, _ in dead_letters(sync_env["url"], "hubspot").values())


def test_outreach_2xx_without_an_id_is_not_taken_as_done(sync_env, monkeypatch) -> None:
    """A 201 naming no prospect / sequence state: that lead is dead-lettered with the answer, the rest go on."""
    leads = setup(sync_env, monkeypatch, "outreach", n=8)
    api = sync_env["servers"].outreach
    api.answers_without_id = 2
    first = sync()
    assert (first.rejected, first.status) == (2, "partial")
    letters = dead_letters(sync_env["url"], "outreach")
    assert len(letters) == 2 and all("named no id" in reason for reason, _ in letters.values())
    second = sync()
    assert (second.retried, second.rejected) == (2, 0)
    assert sync().planned == 0
    assert_exactly_once(sync_env["servers"], sync_env["home"], "outreach", leads)


def test_slack_200_that_is_not_ok_is_not_a_delivered_alert(sync_env, monkeypatch) -> None:
    leads = setup(sync_env, monkeypatch, "slack", n=8)
    api = sync_env["servers"].slack
    api.proxy_200_next = 1
    first = sync()
    assert first.rejected == 1
    [(reason, _)] = dead_letters(sync_env["url"], "slack").values()
    assert "Slack HTTP 200" in reason and "html" in reason
    assert sync().retried == 1
    assert_exactly_once(sync_env["servers"], sync_env["home"], "slack", leads)


def test_webhook_answer_that_leaves_a_record_out_does_not_confirm_it(sync_env, monkeypatch) -> None:
    leads = setup(sync_env, monkeypatch, "webhook")
    sync_env["servers"].webhook.drop_last_silently = 1
    first = sync()
    assert first.rejected == 1
    [(reason, _)] = dead_letters(sync_env["url"], "webhook").values()
    assert "no outcome for this record" in reason
    assert sync().retried == 1
    assert sync().planned == 0
    assert_exactly_once(sync_env["servers"], sync_env["home"], "webhook", leads)


@pytest.mark.parametrize("short", [False, True], ids=["one-result-per-input", "one-result-missing"])
def test_hubspot_results_that_name_no_input_confirm_by_count_only_when_every_input_is_answered(
    sync_env, monkeypatch, short
) -> None:
    """HubSpot need not echo the email or trace id in a result: one result per input (and every error naming its
    inputs) still confirms the batch; one result short confirms none of the unnamed ones."""
    leads = setup(sync_env, monkeypatch, "hubspot", n=10)
    api = sync_env["servers"].hubspot
    api.anonymous_results, api.multi_status = True, True
    api.faults.update(reject_emails={leads[4]["email"]: "owner is not a valid option"})
    api.omit_results = 1 if short else 0
    report = sync()
    assert (report.sent, report.rejected) == ((0, 10) if short else (9, 1))
    api.anonymous_results, api.omit_results = False, 0
    api.faults.update(reject_emails={})
    sync()
    assert sync().planned == 0
    assert_exactly_once(sync_env["servers"], sync_env["home"], "hubspot", leads)
