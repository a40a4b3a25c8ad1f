"""The local HubSpot-style API: paging, filters, validation, auth, rate limits and injected faults."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from leadflow_demo.api_server import CrmApiServer, Faults, main
from leadflow_demo.generator import generate

AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ENDPOINTS = {
    "/crm/v3/objects/leads": "crm_api/leads.jsonl",
    "/crm/v3/objects/accounts": "crm_api/accounts.jsonl",
    "/crm/v3/objects/opportunities": "crm_api/opportunities.jsonl",
    "/conversations/v3/conversations": "conversations_api/conversations.jsonl",
}


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("api_landing")
    generate(out, leads=300, seed=11, as_of=AS_OF)
    return out


@pytest.fixture
def server(landing: Path) -> Iterator[CrmApiServer]:
    with CrmApiServer(root=landing, port=0, max_rps=None) as srv:
        yield srv


def _file_objects(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _page_all(client: httpx.Client, url: str, **params: str | int) -> tuple[list[dict], int]:
    results, pages, after = [], 0, None
    while True:
        query = {**params, **({"after": after} if after else {})}
        resp = client.get(url, params=query)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        results += body["results"]
        pages += 1
        if "paging" not in body:
            return results, pages
        after = body["paging"]["next"]["after"]
        assert body["paging"]["next"]["link"].startswith(url)


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_paging_returns_every_object_once_in_order(server: CrmApiServer, landing: Path, endpoint: str) -> None:
    expected = _file_objects(landing / ENDPOINTS[endpoint])
    with httpx.Client() as client:
        got, pages = _page_all(client, server.url + endpoint, limit=37)
    assert got == expected  # the generator writes the files in the API's (updatedAt, id) order
    assert pages == -(-len(expected) // 37)
    keys = [(o["updatedAt"], o["id"]) for o in got]
    assert keys == sorted(keys)


def test_default_limit_and_next_link(server: CrmApiServer) -> None:
    with httpx.Client() as client:
        first = client.get(server.url + "/crm/v3/objects/leads").json()
        assert len(first["results"]) == 100
        second = client.get(first["paging"]["next"]["link"]).json()
    assert second["results"][0] != first["results"][-1]
    assert len(second["results"]) == 100


def test_updated_after_is_strictly_greater(server: CrmApiServer, landing: Path) -> None:
    objects = _file_objects(landing / ENDPOINTS["/crm/v3/objects/leads"])
    cut = objects[len(objects) // 2]["updatedAt"]
    with httpx.Client() as client:
        got, _ = _page_all(client, server.url + "/crm/v3/objects/leads", updatedAfter=cut, limit=50)
        millis = int(datetime.fromisoformat(cut).timestamp() * 1000)
        same, _ = _page_all(client, server.url + "/crm/v3/objects/leads", updatedAfter=str(millis), limit=100)
    assert got == [o for o in objects if o["updatedAt"] > cut]
    assert same == got
    assert got and all(o["updatedAt"] > cut for o in got)


@pytest.mark.parametrize(
    "params", [{"limit": 101}, {"limit": 0}, {"limit": "ten"}, {"updatedAfter": "yesterday"}, {"after": "%%%"}]
)
def test_bad_parameters_are_400(server: CrmApiServer, params: dict) -> None:
    resp = httpx.get(server.url + "/crm/v3/objects/leads", params=params)
    assert resp.status_code == 400
    assert resp.json()["status"] == "error" and resp.json()["category"] == "VALIDATION_ERROR"


def test_unknown_endpoint_is_404(server: CrmApiServer) -> None:
    assert httpx.get(server.url + "/crm/v3/objects/contacts").status_code == 404


def test_rate_limit_gives_429_with_retry_after(landing: Path) -> None:
    with CrmApiServer(root=landing, max_rps=5) as srv, httpx.Client() as client:
        responses = [client.get(srv.url + "/crm/v3/objects/accounts", params={"limit": 1}) for _ in range(20)]
        limited = [r for r in responses if r.status_code == 429]
        assert limited and any(r.status_code == 200 for r in responses)
        assert int(limited[0].headers["Retry-After"]) >= 1
        assert limited[0].json() == {
            "status": "error",
            "message": "You have reached your secondly limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": limited[0].json()["correlationId"],
            "policyName": "SECONDLY",
        }
        assert srv.stats()["rate_limited"] == len(limited)
        time.sleep(1.1)  # the bucket refills
        assert client.get(srv.url + "/crm/v3/objects/accounts", params={"limit": 1}).status_code == 200


def test_token_is_required_when_set(landing: Path) -> None:
    with CrmApiServer(root=landing, token="s3cret", max_rps=None) as srv, httpx.Client() as client:
        url = srv.url + "/crm/v3/objects/leads"
        assert client.get(url).status_code == 401
        assert client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get(url, headers={"Authorization": "Basic s3cret"}).status_code == 401
        ok = client.get(url, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and ok.json()["results"]
        # the admin endpoints (faults, stats, reset) are guarded by the same token
        assert client.get(srv.url + "/_admin/stats").status_code == 401
        assert client.post(srv.url + "/_admin/faults", json={"fail_next": 5}).status_code == 401
        assert client.post(srv.url + "/_admin/reset").status_code == 401
        admin = {"Authorization": "Bearer s3cret"}
        assert client.get(srv.url + "/_admin/faults", headers=admin).json()["fail_next"] == 0
        assert client.get(srv.url + "/_admin/stats", headers=admin).json()["unauthorized"] == 3


def test_fault_injection_over_http(server: CrmApiServer) -> None:
    url = server.url + "/crm/v3/objects/opportunities"
    with httpx.Client() as client:
        settings = client.post(server.url + "/_admin/faults", json={"fail_next": 2}).json()
        assert settings["fail_next"] == 2
        assert [client.get(url).status_code for _ in range(3)] == [503, 503, 200]
        client.post(server.url + "/_admin/faults", json={"status_5xx_every": 3, "status": 500})
        assert [client.get(url).status_code for _ in range(6)] == [200, 200, 500, 200, 200, 500]
        client.post(server.url + "/_admin/faults", json={"status_5xx_every": 0, "delay_seconds": 0.3})
        started = time.perf_counter()
        assert client.get(url).status_code == 200
        assert time.perf_counter() - started >= 0.3
        assert client.post(server.url + "/_admin/faults", json={"nonsense": 1}).status_code == 400
        stats = client.get(server.url + "/_admin/stats").json()
        assert stats["faults_injected"] == 4
        assert stats["by_status"] == {"200": 6, "500": 2, "503": 2}
        assert stats["by_path"] == {"/crm/v3/objects/opportunities": 10}
        client.post(server.url + "/_admin/reset")
        assert client.get(server.url + "/_admin/faults").json()["delay_seconds"] == 0
        assert client.get(server.url + "/_admin/stats").json()["requests"] == 0


def test_fault_injection_from_python(landing: Path) -> None:
    with CrmApiServer(root=landing, max_rps=None, faults=Faults(fail_next=1)) as srv:
        url = srv.url + "/conversations/v3/conversations"
        assert httpx.get(url).status_code == 503
        assert httpx.get(url).status_code == 200
        srv.faults.update(fail_next=1, status=502)
        assert httpx.get(url).status_code == 502


def test_index_follows_file_changes(landing: Path, tmp_path: Path) -> None:
    shutil.copytree(landing / "crm_api", tmp_path / "crm_api")
    path = tmp_path / "crm_api" / "accounts.jsonl"
    with CrmApiServer(root=tmp_path, max_rps=None) as srv, httpx.Client() as client:
        url = srv.url + "/crm/v3/objects/accounts"
        total = len(_page_all(client, url)[0])
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("\n".join(lines[:10]) + "\n", encoding="utf-8")
        assert len(_page_all(client, url)[0]) == 10 < total
        path.unlink()
        assert client.get(url).json() == {"results": []}


def test_cursor_survives_an_appended_file(landing: Path, tmp_path: Path) -> None:
    shutil.copytree(landing / "crm_api", tmp_path / "crm_api")
    path = tmp_path / "crm_api" / "leads.jsonl"
    with CrmApiServer(root=tmp_path, max_rps=None) as srv, httpx.Client() as client:
        url = srv.url + "/crm/v3/objects/leads"
        first = client.get(url, params={"limit": 10}).json()
        new = {
            "id": "L9999999",
            "properties": {"lead_id": "L9999999"},
            "createdAt": "2026-11-20T11:59:00Z",
            "updatedAt": "2026-11-20T11:59:59Z",
            "archived": False,
        }
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(new) + "\n")
        rest, _ = _page_all(client, url, limit=100, after=first["paging"]["next"]["after"])
    ids = [o["id"] for o in first["results"] + rest]
    assert ids[-1] == "L9999999"
    assert len(ids) == len(path.read_text(encoding="utf-8").splitlines())


def test_cli_help() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0 and "--max-rps" in result.output


def test_unreadable_lines_and_bad_timestamps(tmp_path: Path) -> None:
    (tmp_path / "crm_api").mkdir()
    lines = [
        '{"id": "b", "properties": {}, "updatedAt": "2026-01-02T00:00:00Z"}',
        '{"id": "a", "properties": {}, "updatedAt": "2026-01-02T00:00:00Z"}',
        '{"id": "broken", "properties": {',
        "[1, 2]",
        '{"id": "c", "properties": {}, "updatedAt": "not a time"}',
        "",
        '{"id": "d", "properties": {}, "updatedAt": "2026-01-01T00:00:00+00:00"}',
    ]
    (tmp_path / "crm_api" / "leads.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with CrmApiServer(root=tmp_path, max_rps=None) as srv, httpx.Client() as client:
        got, _ = _page_all(client, srv.url + "/crm/v3/objects/leads", limit=2)
        assert [o["id"] for o in got] == ["c", "d", "a", "b"]  # bad updatedAt first, then (updatedAt, id)
        after, _ = _page_all(client, srv.url + "/crm/v3/objects/leads", updatedAfter="2026-01-01T00:00:00Z")
        assert [o["id"] for o in after] == ["a", "b"]
        assert client.get(srv.url + "/crm/v3/objects/accounts").json() == {"results": []}  # no file
