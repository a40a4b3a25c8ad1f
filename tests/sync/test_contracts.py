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
