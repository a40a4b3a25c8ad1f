"""A local REST API shaped like HubSpot's CRM v3 list endpoints, serving the generator's JSONL files.

``CrmApiServer`` runs it in a background thread (its docstring lists the endpoints, paging, auth, rate
limit and the order of checks); ``Faults`` and ``/_admin/*`` inject failures and report stats for tests;
``main`` serves a landing zone from the command line. The pull reads it as a ``rest_api`` source
(docs/pull.md, Sources and readers); where the harness sits: docs/layout.md.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import math
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import click

log = logging.getLogger(__name__)

ROUTES = {
    "/crm/v3/objects/leads": "crm_api/leads.jsonl",
    "/crm/v3/objects/accounts": "crm_api/accounts.jsonl",
    "/crm/v3/objects/opportunities": "crm_api/opportunities.jsonl",
    "/conversations/v3/conversations": "conversations_api/conversations.jsonl",
}
MAX_LIMIT = 100
RATE_LIMIT_BODY = {
    "status": "error",
    "message": "You have reached your secondly limit.",
    "errorType": "RATE_LIMIT",
    "correlationId": "00000000-0000-0000-0000-000000000000",
    "policyName": "SECONDLY",
}


def parse_timestamp_ms(value: str) -> int:
    """ISO 8601 (``Z`` or offset; naive = UTC) or epoch milliseconds -> epoch milliseconds."""
    value = value.strip()
    if value.lstrip("-").isdigit():
        return int(value)
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return math.floor(dt.timestamp() * 1000)


@dataclass
class Faults:
    """Injected failures; mutate through :meth:`update` (thread-safe) or ``POST /_admin/faults`` (any subset
    of the fields as JSON; ``GET`` returns them). ``fail_next``: the next N API requests fail with ``status``;
    ``status_5xx_every``: every N-th API request fails; ``delay_seconds``: every API request sleeps first (to
    provoke client timeouts). ``GET /_admin/stats``: request counts (total, by status, by path, rate-limited,
    faults injected); ``POST /_admin/reset`` clears faults and stats. ``/_admin/*`` needs the token when one
    is set, and is never limited or faulted.

    Every :meth:`update` restarts the ``status_5xx_every`` count, so "every 3rd" means the 3rd request
    after the change. ``fail_next`` takes precedence and counts down.
    """

    status_5xx_every: int = 0
    delay_seconds: float = 0.0
    fail_next: int = 0
    status: int = 503
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _seen: int = field(default=0, repr=False, compare=False)

    def update(self, **changes: Any) -> dict[str, Any]:
        with self._lock:
            for name, value in changes.items():
                if name not in ("status_5xx_every", "delay_seconds", "fail_next", "status"):
                    raise ValueError(f"unknown fault setting: {name}")
                kind = float if name == "delay_seconds" else int
                value = kind(value)
                if value < 0 or (name == "status" and not 500 <= value <= 599):
                    raise ValueError(f"bad value for {name}: {value}")
                setattr(self, name, value)
            self._seen = 0
            return self.settings()

    def settings(self) -> dict[str, Any]:
        return {
            "status_5xx_every": self.status_5xx_every,
            "delay_seconds": self.delay_seconds,
            "fail_next": self.fail_next,
            "status": self.status,
        }

    def reset(self) -> None:
        self.update(status_5xx_every=0, delay_seconds=0.0, fail_next=0, status=503)

    def next_failure(self) -> int | None:
        """Count one API request; return the status to fail it with, or None."""
        with self._lock:
            self._seen += 1
            if self.fail_next > 0:
                self.fail_next -= 1
                return self.status
            if self.status_5xx_every and self._seen % self.status_5xx_every == 0:
                return self.status
            return None


class _TokenBucket:
    def __init__(self, rate: float | None) -> None:
        self.rate = rate or 0.0
        self.tokens = self.rate
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> float:
        """0.0 if a request may pass, else the seconds until the next token."""
        if self.rate <= 0:
            return 0.0
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return 0.0
            return (1.0 - self.tokens) / self.rate


@dataclass(frozen=True)
class _Snapshot:
    """One version of a file's index: (updatedAt ms, id, byte offset) sorted, plus line lengths."""

    path: Path
    keys: list[tuple[int, str, int]]
    ms: list[int]
    lengths: dict[int, int]

    def page(self, start: int, limit: int) -> tuple[list[bytes], tuple[int, str, int] | None]:
        """Raw JSON of up to ``limit`` objects from position ``start``, and the last key if more follow."""
        chosen = self.keys[start : start + limit]
        out = []
        if chosen:
            try:
                with open(self.path, "rb") as f:
                    for _, _, offset in chosen:
                        f.seek(offset)
                        out.append(f.read(self.lengths[offset]))
            except FileNotFoundError:  # deleted since the index was checked: nothing to serve
                return [], None
        more = start + limit < len(self.keys)
        return out, (chosen[-1] if more and chosen else None)


class _Index:
    """The index of one JSONL file, rebuilt when its (mtime, size) changes.

    Requests work on an immutable snapshot, so a rebuild by another thread never mixes versions.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.version: tuple[int, int] | None = None
        self.snapshot = _Snapshot(path, [], [], {})
        self.lock = threading.Lock()

    def current(self) -> _Snapshot:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            with self.lock:
                self.version, self.snapshot = None, _Snapshot(self.path, [], [], {})
                return self.snapshot
        version = (st.st_mtime_ns, st.st_size)
        with self.lock:
            if version != self.version:
                self.snapshot, self.version = self._build(), version
            return self.snapshot

    def _build(self) -> _Snapshot:
        keys: list[tuple[int, str, int]] = []
        lengths: dict[int, int] = {}
        skipped = 0
        offset = 0
        with open(self.path, "rb") as f:
            for raw in f:
                start, offset = offset, offset + len(raw)
                line = raw.rstrip(b"\r\n")
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    obj = None
                if not isinstance(obj, dict):
                    skipped += 1  # not a JSON object: a real API could never have stored it
                    continue
                try:
                    ms = parse_timestamp_ms(str(obj.get("updatedAt") or ""))
                except ValueError:
                    ms = -1  # an object with a bad updatedAt is still served, first
                keys.append((ms, str(obj.get("id") or ""), start))
                lengths[start] = len(line)
        keys.sort()
        log.info("indexed %s: %d objects (%d unreadable lines skipped)", self.path, len(keys), skipped)
        return _Snapshot(self.path, keys, [k[0] for k in keys], lengths)


def _encode_cursor(key: tuple[int, str, int]) -> str:
    raw = json.dumps([key[0], key[1], key[2]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, str, int]:
    padded = cursor + "=" * (-len(cursor) % 4)
    ms, oid, offset = json.loads(base64.urlsafe_b64decode(padded.encode()))
    return int(ms), str(oid), int(offset)


class _Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.by_status: dict[str, int] = {}
        self.by_path: dict[str, int] = {}
        self.rate_limited = 0
        self.faults_injected = 0
        self.unauthorized = 0

    def count(self, path: str, status: int) -> None:
        with self.lock:
            self.requests += 1
            self.by_status[str(status)] = self.by_status.get(str(status), 0) + 1
            self.by_path[path] = self.by_path.get(path, 0) + 1
            self.rate_limited += status == 429
            self.unauthorized += status == 401

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "by_status": dict(sorted(self.by_status.items())),
                "by_path": dict(sorted(self.by_path.items())),
                "rate_limited": self.rate_limited,
                "unauthorized": self.unauthorized,
                "faults_injected": self.faults_injected,
            }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections like against the real API
    disable_nagle_algorithm = True  # headers and body go out in two writes; Nagle would add ~40 ms a page
    server: _HttpServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes | dict, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, category: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, {"status": "error", "message": message, "category": category}, headers)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        if path.startswith("/_admin/"):
            if not self._authorized(app):  # faults and stats are the server's controls: the token guards them too
                self.rfile.read(int(self.headers.get("Content-Length") or 0))  # the connection stays usable
                return
            self._admin(method, path)
            return
        try:
            status = self._api(method, path, url.query, app)
        except Exception:  # a bug here must look like a server error to the client, not a dropped socket
            log.exception("%s %s failed", method, self.path)
            status = 500
            self._error(500, "Internal server error.", "INTERNAL_ERROR")
        app._stats.count(path, status)

    def _admin(self, method: str, path: str) -> None:
        app = self.server.app
        if path == "/_admin/stats" and method == "GET":
            self._send(200, app.stats())
        elif path == "/_admin/faults" and method == "GET":
            self._send(200, app.faults.settings())
        elif path == "/_admin/faults" and method == "POST":
            try:
                length = int(self.headers.get("Content-Length") or 0)
                changes = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("expected a JSON object")
                self._send(200, app.faults.update(**changes))
            except (ValueError, TypeError) as exc:
                self._error(400, str(exc), "VALIDATION_ERROR")
        elif path == "/_admin/reset" and method == "POST":
            app.reset()
            self._send(200, {"status": "ok"})
        else:
            self._error(404, f"no admin endpoint {method} {path}", "OBJECT_NOT_FOUND")

    def _authorized(self, app: CrmApiServer) -> bool:
        """With a token set, ``Authorization: Bearer <token>``; else a 401 is sent and False returned."""
        if app.token is None:
            return True
        auth = self.headers.get("Authorization") or ""
        scheme, _, given = auth.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), app.token.encode()):
            return True
        self._error(
            401,
            "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
            "INVALID_AUTHENTICATION",
        )
        return False

    def _api(self, method: str, path: str, query: str, app: CrmApiServer) -> int:
        if not self._authorized(app):
            return 401
        wait = app._bucket.take()
        if wait > 0:
            self._send(429, RATE_LIMIT_BODY, {"Retry-After": str(max(1, math.ceil(wait)))})
            return 429
        faults = app.faults
        if faults.delay_seconds > 0:
            time.sleep(faults.delay_seconds)
        failure = faults.next_failure()
        if failure is not None:
            with app._stats.lock:
                app._stats.faults_injected += 1
            self._error(failure, "Internal error (injected fault).", "INTERNAL_ERROR")
            return failure
        if method != "GET":
            self._error(405, f"{method} is not supported here", "METHOD_NOT_ALLOWED")
            return 405
        rel = ROUTES.get(path)
        if rel is None:
            self._error(404, f"no such endpoint: {path}", "OBJECT_NOT_FOUND")
            return 404
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        try:
            limit = int(params.get("limit") or MAX_LIMIT)
        except ValueError:
            self._error(400, f"limit must be an integer, got {params.get('limit')!r}", "VALIDATION_ERROR")
            return 400
        if not 1 <= limit <= MAX_LIMIT:
            self._error(400, f"limit must be between 1 and {MAX_LIMIT}, got {limit}", "VALIDATION_ERROR")
            return 400
        index = app._index(rel).current()
        start = 0
        if params.get("updatedAfter"):
            try:
                start = bisect_right(index.ms, parse_timestamp_ms(params["updatedAfter"]))
            except ValueError:
                self._error(400, f"updatedAfter is not ISO 8601: {params['updatedAfter']!r}", "VALIDATION_ERROR")
                return 400
        if params.get("after"):
            try:
                start = max(start, bisect_right(index.keys, _decode_cursor(params["after"])))
            except (ValueError, TypeError, binascii.Error):
                self._error(400, f"invalid paging cursor: {params['after']!r}", "VALIDATION_ERROR")
                return 400
        rows, last = index.page(start, limit)
        body = b'{"results":[' + b",".join(rows) + b"]"
        if last is not None:
            cursor = _encode_cursor(last)
            keep = {k: v for k, v in params.items() if k in ("limit", "updatedAfter")}
            link = f"{app.url}{path}?{urlencode({**keep, 'after': cursor})}"
            paging = {"next": {"after": cursor, "link": link}}
            body += b',"paging":' + json.dumps(paging, separators=(",", ":")).encode()
        self._send(200, body + b"}")
        return 200


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    app: CrmApiServer


class CrmApiServer:
    """The API in a background thread: ``with CrmApiServer(root=path) as srv: httpx.get(srv.url + ...)``.

    Endpoints (``root`` is the generator's landing zone): ``GET /crm/v3/objects/leads``, ``.../accounts``,
    ``.../opportunities`` serve ``crm_api/<name>.jsonl``; ``GET /conversations/v3/conversations`` serves
    ``conversations_api/conversations.jsonl``. Query parameters:

    * ``limit``: page size, default 100, at most 100 (more -> 400, like HubSpot).
    * ``after``: the opaque cursor from the previous page's ``paging.next.after``.
    * ``updatedAfter``: ISO 8601 timestamp (or epoch milliseconds); only objects with ``updatedAt``
      **strictly greater** are returned, so incremental pullers pass their high-water mark minus a
      look-back and de-duplicate by id.

    Results are ordered by (``updatedAt``, ``id``, position in the file), so paging is stable and the cursor
    keeps working even if the file is rewritten between pages. The last page has no ``paging``.
    Auth: with a token, every API request needs ``Authorization: Bearer <token>`` (else 401). Rate limit: a
    token bucket of ``max_rps`` requests per second (burst ``max_rps``); over it -> 429 with ``Retry-After``
    (seconds) and HubSpot's SECONDLY error body; ``max_rps=None`` or 0 disables it. Order of checks per API
    request: auth (401) -> rate limit (429) -> delay -> injected fault (5xx) -> parameters (400) -> results.
    """

    def __init__(
        self,
        root: Path,
        port: int = 0,
        token: str | None = None,
        max_rps: float | None = 50,
        host: str = "127.0.0.1",
        faults: Faults | None = None,
    ) -> None:
        self.root = Path(root)
        self.host, self.port = host, port
        self.token = token or None
        self.max_rps = max_rps
        self.faults = faults or Faults()
        self._bucket = _TokenBucket(max_rps)
        self._stats = _Stats()
        self._indexes: dict[str, _Index] = {}
        self._indexes_lock = threading.Lock()
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (the real port once started)."""
        return f"http://{self.host}:{self.port}"

    def _index(self, rel: str) -> _Index:
        with self._indexes_lock:
            if rel not in self._indexes:
                self._indexes[rel] = _Index(self.root / rel)
            return self._indexes[rel]

    def stats(self) -> dict[str, Any]:
        """Request counts since start (or the last reset)."""
        return self._stats.snapshot()

    def reset(self) -> None:
        """Clear injected faults, stats and the rate-limit bucket."""
        self.faults.reset()
        self._stats.reset()
        self._bucket = _TokenBucket(self.max_rps)

    def start(self) -> CrmApiServer:
        """Bind and serve in a daemon thread; returns self."""
        if self._httpd is not None:
            return self
        self._httpd = _HttpServer((self.host, self.port), _Handler)
        self._httpd.app = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="crm-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd, self._thread = None, None

    def serve_forever(self) -> None:
        """Serve in the calling thread (the CLI)."""
        self._httpd = _HttpServer((self.host, self.port), _Handler)
        self._httpd.app = self
        self.port = self._httpd.server_address[1]
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> CrmApiServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@click.command()
@click.option(
    "--root", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path), help="Landing zone."
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option(
    "--token", envvar="LEADFLOW_API_TOKEN", default=None, help="Require this bearer token (env LEADFLOW_API_TOKEN)."
)
@click.option("--max-rps", default=50.0, show_default=True, type=float, help="Requests per second; 0 = unlimited.")
def main(root: Path, host: str, port: int, token: str | None, max_rps: float) -> None:
    """Serve the demo CRM / conversations JSONL files as a HubSpot-style REST API."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    server = CrmApiServer(root=root, port=port, token=token, max_rps=max_rps, host=host)
    click.echo(f"serving {root} on http://{host}:{port} (auth {'on' if token else 'off'}, {max_rps:g} req/s)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
