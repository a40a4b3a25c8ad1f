"""Contract tests: what the sync sends, and what the fakes answer, validate against the real API's published schema.

Our fakes accept whatever the client sends unless told otherwise, so a request the real API refuses (a JSON
null where the spec says string) could pass every other test. Here every request the HubSpot client sends
in a run with partial rejects, a refused batch and short answers, and every answer the fake gives, is
validated against tests/sync/contracts/hubspot_contacts_batch_upsert.json (written from HubSpot's OpenAPI
spec for CRM contacts v3; see its $comment).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from leadflow.sync.engine import run_sync
from tests.sync.conftest import lead, make_queue, use_destinations

SCHEMA = json.loads((Path(__file__).parent / "contracts" / "hubspot_contacts_batch_upsert.json").read_text())
UPSERT = "/crm/v3/objects/contacts/batch/upsert"


def validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        {**SCHEMA, "$ref": f"#/$defs/{name}"}, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


ANSWERS = {200: "response", 201: "response", 207: "response_with_errors", 400: "error", 404: "error", 409: "error"}


@pytest.mark.parametrize("mode", ["refused-batches", "multi-status", "short-answers"])
def test_hubspot_requests_and_answers_follow_the_published_spec(sync_env, monkeypatch, mode) -> None:
    leads = [lead(i) for i in range(30)]
    leads[3] = lead(3, first_name=None, title=None, company_name=None)  # missing values: still strings
    leads[7]["email"] = "not-an-email"
    make_queue(sync_env["url"], leads, ("hubspot",))
    use_destinations(monkeypatch, "hubspot")
    api = sync_env["servers"].hubspot
    api.multi_status = mode != "refused-batches"
    api.omit_results = 2 if mode == "short-answers" else 0
    api.faults.update(reject_emails={leads[11]["email"]: "owner is not a valid option"})
    run_sync("ok")
    make_queue(sync_env["url"], leads[:20], ("hubspot",))  # ten leads leave: removals
    run_sync("ok")
    exchanges = [(q, a) for q, a in api.exchanges if q.path == UPSERT]
    assert len(exchanges) >= 2
    seen = set()
    for request, answer in exchanges:
        problems = [e.message for e in validator("request").iter_errors(request.json())]
        assert problems == [], f"request refused by the spec: {problems[:3]}"
        seen.add(answer.status)
        problems = [e.message for e in validator(ANSWERS[answer.status]).iter_errors(answer.body)]
        assert problems == [], f"fake answer {answer.status} not in the spec: {problems[:3]}"
    assert {"refused-batches": 400, "multi-status": 207, "short-answers": 207}[mode] in seen


OUTREACH = json.loads((Path(__file__).parent / "contracts" / "outreach_api_v2.json").read_text())
SLACK = json.loads((Path(__file__).parent / "contracts" / "slack_incoming_webhook.json").read_text())


def check(schema: dict, name: str, value) -> list[str]:
    v = jsonschema.Draft202012Validator({**schema, "$ref": f"#/$defs/{name}"})
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"[:200] for e in v.iter_errors(value)]


def test_outreach_requests_and_answers_follow_the_published_reference(sync_env, monkeypatch) -> None:
    leads = [lead(i) for i in range(12)]
    leads[3] = lead(3, first_name=None, title=None, company_name=None, primary_type=None)  # no type: no empty tag
    make_queue(sync_env["url"], leads, ("outreach",))
    use_destinations(monkeypatch, "outreach")
    api = sync_env["servers"].outreach
    api.faults.update(reject_emails={leads[5]["email"]: "email is not allowed"})
    run_sync("ok")
    moved = [dict(r, route="sdr_follow_up") if i % 3 == 0 else r for i, r in enumerate(leads[:8])]
    make_queue(sync_env["url"], moved, ("outreach",))  # route changes and removals
    run_sync("ok")
    seen = set()
    for request, answer in api.exchanges:
        route = api.route_name(request)
        seen.add(route)
        if request.method in ("POST", "PATCH") and "/prospects" in request.path:
            assert check(OUTREACH, "prospect_request", request.json()) == [], route
        elif route == "POST /api/v2/sequenceStates":
            assert check(OUTREACH, "sequence_state_request", request.json()) == [], route
        if answer.status >= 400:
            assert check(OUTREACH, "errors", answer.body) == [], (route, answer.status)
        elif request.method == "GET":
            assert check(OUTREACH, "collection", answer.body) == [], route
        elif answer.body:
            assert check(OUTREACH, "document", answer.body) == [], route
    assert {"POST /api/v2/prospects", "POST /api/v2/sequenceStates"} <= seen


def test_slack_messages_follow_block_kit_limits_even_for_long_values(sync_env, monkeypatch) -> None:
    long = "x" * 5000
    leads = [lead(i) for i in range(8)]
    leads[0] = lead(0, first_name=long, company_name=long, title=long, reasons_text=long)
    make_queue(sync_env["url"], leads, ("slack",))
    use_destinations(monkeypatch, "slack")
    run_sync("ok")
    exchanges = list(sync_env["servers"].slack.exchanges)
    assert len(exchanges) == 2  # the hot leads
    for request, answer in exchanges:
        assert check(SLACK, "message", request.json()) == []
        assert check(SLACK, "answer", answer.body) == []
