"""Local fakes of the outreach APIs the sync delivers to, for tests, the benchmark and the demo.

``OutreachApi``, ``HubSpotApi``, ``SlackWebhook`` and ``WebhookReceiver`` each behave like the documented
API they stand for, including the parts that make delivery hard (their docstrings say which); ``FakeApi``
is their base (auth, sliding-window rate limits, ``Faults``, ``/_admin/*``); ``DestinationServers`` runs
all four. Run them for the demo: ``python -m leadflow_demo.destinations_server``. What the sync expects of
each API: docs/sync.md; where the harness sits: docs/layout.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import click

log = logging.getLogger(__name__)

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- faults, limits, stats ---------------------------------------------------------------------------------------


@dataclass
class Faults:
    """Faults a test can switch on (``server.faults.update(...)`` or ``POST /_admin/faults``), consumed by API
    requests in this order: ``storm_429`` (next N answer 429 with ``retry_after``), ``drop_next`` (sleep
    ``delay_seconds``, then close the connection without applying: a client timeout), ``reset_next``
    (connection reset before applying), ``fail_next`` / ``fail_every`` (``fail_status``, 5xx), then the
    request is applied, then ``reset_after_next`` (applied, connection reset: the answer is lost) and
    ``late_next`` (applied, answer after ``delay_seconds``: the client has timed out). ``reject_emails``
    ({email: reason}) makes the API refuse those records the way it refuses invalid data. ``on_apply``
    (Python only) is called after each applied write: tests use it to kill a worker at that instant.
    """

    storm_429: int = 0
    retry_after: float = 1.0
    drop_next: int = 0
    reset_next: int = 0
    fail_next: int = 0
    fail_every: int = 0
    fail_status: int = 503
    reset_after_next: int = 0
    late_next: int = 0
    delay_seconds: float = 1.0
    reject_emails: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _seen: int = field(default=0, repr=False)

    NAMES = (
        "storm_429",
        "retry_after",
        "drop_next",
        "reset_next",
        "fail_next",
        "fail_every",
        "fail_status",
        "reset_after_next",
        "late_next",
        "delay_seconds",
        "reject_emails",
    )

    def update(self, **changes: Any) -> dict[str, Any]:
        with self._lock:
            for name, value in changes.items():
                if name not in self.NAMES:
                    raise ValueError(f"unknown fault: {name}")
                if name == "reject_emails":
                    value = {str(k).strip().lower(): str(v) for k, v in dict(value or {}).items()}
                elif name in ("retry_after", "delay_seconds"):
                    value = float(value)
                else:
                    value = int(value)
                if name == "fail_status" and not 500 <= value <= 599:
                    raise ValueError("fail_status must be a 5xx")
                setattr(self, name, value)
            self._seen = 0
            return self.settings()

    def settings(self) -> dict[str, Any]:
        return {n: getattr(self, n) for n in self.NAMES}

    def reset(self) -> None:
        self.update(**{n: getattr(Faults, n) if n != "reject_emails" else {} for n in self.NAMES})

    def take(self, name: str) -> bool:
        """Consume one unit of a countdown fault."""
        with self._lock:
            left = getattr(self, name)
            if left > 0:
                setattr(self, name, left - 1)
                return True
            return False

    def every(self) -> bool:
        with self._lock:
            self._seen += 1
            return bool(self.fail_every) and self._seen % self.fail_every == 0

    def rejects(self, email: str | None) -> str | None:
        return self.reject_emails.get(str(email or "").strip().lower())


class SlidingWindow:
    """At most ``requests`` in any ``per_seconds``; ``take()`` returns 0 or the seconds until a slot frees."""

    def __init__(self, requests: int | None, per_seconds: float = 1.0) -> None:
        self.requests, self.per_seconds = requests, per_seconds
        self.stamps: deque[float] = deque()
        self.lock = threading.Lock()

    def take(self) -> float:
        if not self.requests:
            return 0.0
        with self.lock:
            now = time.monotonic()
            while self.stamps and self.stamps[0] <= now - self.per_seconds:
                self.stamps.popleft()
            if len(self.stamps) >= self.requests:
                return self.stamps[0] + self.per_seconds - now
            self.stamps.append(now)
            return 0.0

    def remaining(self) -> int:
        with self.lock:
            return max(0, (self.requests or 0) - len(self.stamps))


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.by_status: dict[str, int] = {}
        self.by_route: dict[str, int] = {}
        self.rate_limited = 0
        self.faults_injected = 0
        self.applied = 0
        self.first_at: float | None = None
        self.last_at: float | None = None

    def count(self, route: str, status: int) -> None:
        with self.lock:
            now = time.monotonic()
            self.first_at = self.first_at or now
            self.last_at = now
            self.requests += 1
            self.by_status[str(status)] = self.by_status.get(str(status), 0) + 1
            self.by_route[route] = self.by_route.get(route, 0) + 1
            self.rate_limited += status == 429

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "by_status": dict(sorted(self.by_status.items())),
                "by_route": dict(sorted(self.by_route.items())),
                "rate_limited": self.rate_limited,
                "faults_injected": self.faults_injected,
                "applied": self.applied,
                "active_seconds": (self.last_at - self.first_at) if self.first_at and self.last_at else 0.0,
            }


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json;charset=utf-8"
    write: bool = False  # the request changed the destination's state

    def encode(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body, separators=(",", ":")).encode() if self.body is not None else b""


# --- HTTP plumbing ---------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HttpServer

    def log_message(self, format: str, *args: Any) -> None:  # the path of a Slack webhook is its secret
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _send(self, response: Response) -> None:
        data = response.encode()
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(data)))
            for k, v in response.headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timed out) — like a real server, carry on
            self.close_connection = True

    def _reset(self) -> None:
        """Close with RST and no answer (connection reset by peer)."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        request = Request(method, url.path.rstrip("/") or "/", query, self.headers, body)
        if request.path.startswith("/_admin/"):
            self._send(app.admin(request))
            return
        route = app.route_name(request)
        status = app.serve(request, self)
        app.stats.count(route, status)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: FakeApi


class FakeApi:
    """Base of the fakes: auth, rate limit, faults, stats, admin endpoints, a background server thread.

    Rate limits are sliding windows ("N requests in any T seconds"); over one → 429 with ``Retry-After``.
    Admin: ``GET /_admin/stats`` (request counts), ``GET /_admin/state`` (what the destination holds),
    ``POST /_admin/reset``."""

    kind = "fake"
    rate_limit_body: Any = {"message": "rate limited"}

    def __init__(
        self,
        port: int = 0,
        token: str | None = None,
        rate_limit: tuple[int, float] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.host, self.port = host, port
        self.token = token
        self.rate_limit = rate_limit
        self.window = SlidingWindow(*(rate_limit or (None, 1.0)))
        self.faults = Faults()
        self.stats = Stats()
        self.lock = threading.RLock()
        self.on_apply: Callable[[FakeApi, Request], None] | None = None
        # the last requests the API handled and its answers (faults injected before handling not included):
        # contract tests check both against the real API's published schemas
        self.exchanges: deque[tuple[Request, Response]] = deque(maxlen=5_000)
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    # -- to implement --------------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def clear(self) -> None:
        """Forget everything the destination holds."""

    def route_name(self, request: Request) -> str:
        return request.method + " " + re.sub(r"/\d+", "/{id}", request.path)

    def authorized(self, request: Request) -> bool:
        if self.token is None:
            return True
        scheme, _, given = (request.headers.get("Authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode())

    def unauthorized(self) -> Response:
        return Response(401, {"message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION"})

    def rate_headers(self) -> dict[str, str]:
        return {}

    # -- the request pipeline ---------------------------------------------------------------------------------------
    def serve(self, request: Request, handler: _Handler) -> int:
        if not self.authorized(request):
            handler._send(self.unauthorized())
            return 401
        wait = self.window.take()
        if wait > 0:
            handler._send(self._too_many(max(1, math.ceil(wait))))
            return 429
        faults = self.faults
        if faults.take("storm_429"):
            self._injected()
            handler._send(self._too_many(faults.retry_after))
            return 429
        if faults.take("drop_next"):
            self._injected()
            time.sleep(faults.delay_seconds)
            handler._reset()
            return 0
        if faults.take("reset_next"):
            self._injected()
            handler._reset()
            return 0
        if faults.take("fail_next") or faults.every():
            self._injected()
            handler._send(Response(faults.fail_status, {"status": "error", "message": "Internal error (injected)."}))
            return faults.fail_status
        try:
            with self.lock:
                response = self.handle(request)
                if response.write and response.status < 400:
                    self.stats.applied += 1
        except Exception:
            log.exception("%s: %s %s failed", self.kind, request.method, self.route_name(request))
            response = Response(500, {"status": "error", "message": "Internal server error."})
        response.headers.update(self.rate_headers())
        self.exchanges.append((request, response))
        if response.write and response.status < 400 and self.on_apply is not None:
            self.on_apply(self, request)
        if response.write and faults.take("reset_after_next"):
            self._injected()
            handler._reset()
            return 0
        if faults.take("late_next"):
            self._injected()
            time.sleep(faults.delay_seconds)
        handler._send(response)
        return response.status

    def _injected(self) -> None:
        with self.stats.lock:
            self.stats.faults_injected += 1

    def _too_many(self, retry_after: float) -> Response:
        value = str(int(retry_after)) if float(retry_after).is_integer() else f"{retry_after:g}"
        return Response(429, self.rate_limit_body, {"Retry-After": value, **self.rate_headers()})

    def admin(self, request: Request) -> Response:
        if request.path == "/_admin/stats" and request.method == "GET":
            return Response(200, self.stats.snapshot())
        if request.path == "/_admin/state" and request.method == "GET":
            with self.lock:
                return Response(200, self.state())
        if request.path == "/_admin/faults" and request.method == "GET":
            return Response(200, self.faults.settings())
        if request.path == "/_admin/faults" and request.method == "POST":
            try:
                return Response(200, self.faults.update(**(request.json() or {})))
            except (ValueError, TypeError) as exc:
                return Response(400, {"message": str(exc)})
        if request.path == "/_admin/reset" and request.method == "POST":
            options = (request.json() or {}) if request.body else {}
            if options.get("stats_only"):
                self.stats.reset()
            else:
                self.reset(clear=bool(options.get("clear")))
            return Response(200, {"status": "ok"})
        return Response(404, {"message": f"no admin endpoint {request.method} {request.path}"})

    def reset(self, clear: bool = False) -> None:
        """Clear faults, stats and the rate-limit window (and, with ``clear``, the stored data)."""
        self.faults.reset()
        self.stats.reset()
        self.window = SlidingWindow(*(self.rate_limit or (None, 1.0)))
        if clear:
            with self.lock:
                self.clear()

    # -- lifecycle ------------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeApi:
        if self._httpd is None:
            self._httpd = _HttpServer((self.host, self.port), _Handler)
            self._httpd.app = self
            self.port = self._httpd.server_address[1]
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, args=(0.05,), name=f"fake-{self.kind}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._httpd, self._thread = None, None

    def __enter__(self) -> FakeApi:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None):
        self.stop()


def _paging_link(base: str, path: str, query: dict[str, str], **changes: Any) -> str:
    return f"{base}{path}?{urlencode({**query, **changes})}"


# --- HubSpot-style contacts -----------------------------------------------------------------------------------------


class HubSpotApi(FakeApi):
    """``POST /crm/v3/objects/contacts/batch/upsert`` keyed by the ``email`` id property: at most 100 inputs,
    duplicate ids refused, one invalid input fails the whole batch (400 ``VALIDATION_ERROR``; errors name the
    inputs by ``objectWriteTraceId`` unless ``name_inputs_in_errors`` is off); ``multi_status`` writes the
    valid inputs and answers 207 (errors named per ``error_context``: ids / emails / none), ``omit_results``
    leaves written inputs out of the results; ``GET /crm/v3/objects/contacts`` with ``limit`` ≤ 100 and
    ``after`` paging; 190 requests per 10 s (``TEN_SECONDLY_ROLLING``)."""

    kind = "hubspot"
    rate_limit_body = {
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": "00000000-0000-0000-0000-000000000000",
        "policyName": "TEN_SECONDLY_ROLLING",
    }
    MAX_INPUTS = 100

    def __init__(self, *args: Any, rate_limit: tuple[int, float] | None = (190, 10.0), **kwargs: Any) -> None:
        super().__init__(*args, rate_limit=rate_limit, **kwargs)
        self.name_inputs_in_errors = True
        # answers real HubSpot may give that a client must not read as "all written":
        self.multi_status = False  # invalid inputs do not fail the batch: the rest is written, 207 names the errors
        self.error_context: str | None = None  # None: as name_inputs_in_errors says; "ids", "emails" or "none"
        self.omit_results = 0  # leave the last N written inputs out of the answer's results
        self.list_failed_in_results = False  # a contradictory 207: failed inputs listed among the results too
        self.anonymous_results = False  # results carry no email property (only hs_object_id)
        self.clear()

    def clear(self) -> None:
        self.contacts: dict[int, dict] = {}
        self.by_email: dict[str, int] = {}
        self.next_id = 101
        self.created = 0

    def _error(self, status: int, message: str, errors: list | None = None) -> Response:
        body = {
            "status": "error",
            "message": message,
            "category": "VALIDATION_ERROR",
            "correlationId": "00000000-0000-0000-0000-000000000000",
        }
        if errors:
            body["errors"] = errors
        return Response(status, body)

    def handle(self, request: Request) -> Response:
        if request.path == "/crm/v3/objects/contacts/batch/upsert" and request.method == "POST":
            return self._upsert(request)
        if request.path == "/crm/v3/objects/contacts" and request.method == "GET":
            return self._list(request)
        match = re.fullmatch(r"/crm/v3/objects/contacts/([^/]+)", request.path)
        if match and request.method == "GET":
            key = match.group(1)
            cid = self.by_email.get(key.lower()) if request.query.get("idProperty") == "email" else _maybe_int(key)
            if cid not in self.contacts:
                return Response(
                    404, {"status": "error", "message": "resource not found", "category": "OBJECT_NOT_FOUND"}
                )
            return Response(200, self._public(self.contacts[cid]))
        return Response(404, {"status": "error", "message": f"no route {request.path}", "category": "OBJECT_NOT_FOUND"})

    def _public(self, contact: dict) -> dict:
        return {k: contact[k] for k in ("id", "properties", "createdAt", "updatedAt", "archived")}

    def _upsert(self, request: Request) -> Response:
        try:
            inputs = (request.json() or {}).get("inputs")
        except ValueError:
            return self._error(400, "Invalid input JSON on line 1")
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= self.MAX_INPUTS:
            return self._error(400, f"Batch input size must be between 1 and {self.MAX_INPUTS}")
        ids = [str(i.get("id") or "").strip().lower() for i in inputs]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            return self._error(400, f"Duplicate IDs found in batch input: {dupes}.")
        errors = []
        for item, ident in zip(inputs, ids, strict=True):
            trace = item.get("objectWriteTraceId")
            context = {"objectWriteTraceId": [trace]} if trace and self.name_inputs_in_errors else {"ids": [ident]}
            if self.error_context == "ids":
                context = {"ids": [ident]}
            elif self.error_context == "emails":
                context = {"email": [str((item.get("properties") or {}).get("email") or ident)]}
            elif self.error_context == "none":
                context = {}
            props = item.get("properties") or {}
            email = str(props.get("email") or ident).strip().lower()
            if item.get("idProperty") != "email":
                errors.append(
                    {
                        "message": "idProperty must be a unique property (email)",
                        "code": "INVALID_ID_PROPERTY",
                        "context": context,
                        "_input": item,
                    }
                )
            elif not isinstance(item.get("properties") or {}, dict) or any(
                not isinstance(v, str) for v in (item.get("properties") or {}).values()
            ):  # HubSpot's OpenAPI spec (CRM contacts v3, SimplePublicObjectBatchInputUpsert): values are strings
                errors.append(
                    {
                        "message": "Property values were not valid: property values must be strings",
                        "code": "INVALID_PROPERTY_VALUE",
                        "context": context,
                        "_input": item,
                    }
                )
            elif not EMAIL_RE.match(email) or not EMAIL_RE.match(ident):
                errors.append(
                    {
                        "message": f"Property values were not valid: email {email!r} is invalid",
                        "code": "INVALID_EMAIL",
                        "context": context,
                        "_input": item,
                    }
                )
            elif self.faults.rejects(email) or self.faults.rejects(ident):
                reason = self.faults.rejects(email) or self.faults.rejects(ident)
                errors.append(
                    {
                        "message": f"Property values were not valid: {reason}",
                        "code": "INVALID_OPTION",
                        "context": context,
                        "_input": item,
                    }
                )
            elif (
                email != ident
                and email in self.by_email
                and ident in self.by_email
                and self.by_email[email] != self.by_email[ident]
            ):
                errors.append(
                    {
                        "message": f"A contact with the email {email!r} already exists",
                        "code": "CONFLICT",
                        "context": context,
                        "_input": item,
                    }
                )
        failed = {id(e.pop("_input")) for e in errors}
        if errors and not self.multi_status:
            return self._error(400, "Some inputs were not valid; nothing was written.", errors)
        results, now = [], _now_iso()
        for item, ident in zip(inputs, ids, strict=True):
            if id(item) in failed:
                if self.list_failed_in_results:
                    email = str((item.get("properties") or {}).get("email") or ident).strip().lower()
                    results.append(
                        {"id": "0", "properties": {"email": email}, "createdAt": now, "updatedAt": now,
                         "archived": False, "new": False}
                    )  # fmt: skip
                continue
            props = {k: v for k, v in (item.get("properties") or {}).items()}
            cid = self.by_email.get(ident)
            new = cid is None
            if new:
                cid, self.next_id = self.next_id, self.next_id + 1
                self.contacts[cid] = {
                    "id": str(cid),
                    "properties": {"email": ident},
                    "createdAt": now,
                    "archived": False,
                }
                self.by_email[ident] = cid
                self.created += 1
            contact = self.contacts[cid]
            if "email" in props:
                props["email"] = str(props["email"]).strip().lower()
                if props["email"] != contact["properties"].get("email"):
                    self.by_email.pop(contact["properties"].get("email"), None)
                    self.by_email[props["email"]] = cid
            contact["properties"].update(props)
            contact["updatedAt"] = now
            results.append({**self._public(contact), "new": new})
        if self.omit_results:
            results = results[: max(0, len(results) - self.omit_results)]
        if self.anonymous_results:  # results that echo neither the email nor the trace id (HubSpot need not)
            results = [{**r, "properties": {"hs_object_id": r["id"]}} for r in results]
        body = {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": _now_iso()}
        if errors:
            for e in errors:  # HubSpot's StandardError
                e.update(status="error", category="VALIDATION_ERROR", errors=[], links={})
            body.update(numErrors=len(errors), errors=errors)
        return Response(207 if errors else 200, body, write=True)

    def _list(self, request: Request) -> Response:
        try:
            limit = int(request.query.get("limit") or 10)
        except ValueError:
            return self._error(400, "limit must be an integer")
        if not 1 <= limit <= 100:
            return self._error(400, "limit must be between 1 and 100")
        after = int(request.query.get("after") or 0)
        ids = sorted(i for i in self.contacts if i > after)
        page = ids[:limit]
        body: dict[str, Any] = {"results": [self._public(self.contacts[i]) for i in page]}
        if len(ids) > limit:
            link = _paging_link(self.url, request.path, request.query, after=page[-1])
            body["paging"] = {"next": {"after": str(page[-1]), "link": link}}
        return Response(200, body)

    def state(self) -> dict[str, Any]:
        return {"contacts": [self._public(c) for c in self.contacts.values()], "created": self.created}


def _maybe_int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


# --- Outreach-style prospects (JSON:API) ------------------------------------------------------------------------------


class OutreachApi(FakeApi):
    """JSON:API prospects (``/api/v2/prospects``: ``filter[emails]``, ``page[size]`` ≤ 1000, ``page[after]``
    cursor, ``links.next``); a second prospect with an e-mail already taken is refused (422); sequence states
    (one active state per prospect and sequence, 422 otherwise; ``/actions/finish``); 10,000 requests per
    hour per token, ``X-RateLimit-*`` headers."""

    kind = "outreach"
    MEDIA = "application/vnd.api+json"

    def __init__(
        self,
        *args: Any,
        rate_limit: tuple[int, float] | None = (10_000, 3600.0),
        sequences: tuple[int, ...] = tuple(range(1, 21)),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, rate_limit=rate_limit, **kwargs)
        self.rate_limit_body = {
            "errors": [
                {
                    "id": "rateLimitExceeded",
                    "title": "Rate Limit Exceeded",
                    "detail": "You have exceeded your permitted rate limit.",
                }
            ]
        }
        self.sequences = set(sequences)
        self.answers_without_id = 0  # the next N created resources are answered 201 with no data.id
        self.clear()

    def clear(self) -> None:
        self.prospects: dict[int, dict] = {}
        self.by_email: dict[str, int] = {}
        self.states: dict[int, dict] = {}
        self.next_id = 1
        self.created = 0

    def rate_headers(self) -> dict[str, str]:
        if not self.rate_limit:
            return {}
        return {
            "X-RateLimit-Limit": str(self.rate_limit[0]),
            "X-RateLimit-Remaining": str(self.window.remaining()),
            "X-RateLimit-Reset": str(int(time.time() + self.rate_limit[1])),
        }

    def unauthorized(self) -> Response:
        return self._errors(401, "unauthorized", "Unauthorized", "The access token is invalid or has expired.")

    def _errors(self, status: int, code: str, title: str, detail: str) -> Response:
        return Response(status, {"errors": [{"id": code, "title": title, "detail": detail}]}, content_type=self.MEDIA)

    def _ok(self, status: int, body: dict, write: bool = False) -> Response:
        return Response(status, body, content_type=self.MEDIA, write=write)

    def _id(self) -> int:
        value, self.next_id = self.next_id, self.next_id + 1
        return value

    def _prospect(self, p: dict) -> dict:
        return {
            "type": "prospect",
            "id": p["id"],
            "attributes": p["attributes"],
            "links": {"self": f"{self.url}/api/v2/prospects/{p['id']}"},
        }

    def _state(self, s: dict) -> dict:
        return {
            "type": "sequenceState",
            "id": s["id"],
            "attributes": {"state": s["state"], "createdAt": s["createdAt"], "updatedAt": s["updatedAt"]},
            "relationships": {
                "prospect": {"data": {"type": "prospect", "id": s["prospect"]}},
                "sequence": {"data": {"type": "sequence", "id": s["sequence"]}},
            },
        }

    def handle(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path == "/api/v2/prospects":
            if method == "GET":
                return self._list_prospects(request)
            if method == "POST":
                return self._create_prospect(request)
        match = re.fullmatch(r"/api/v2/prospects/(\d+)", path)
        if match:
            pid = int(match.group(1))
            if pid not in self.prospects:
                return self._errors(
                    404, "resourceNotFound", "Resource Not Found", f"Could not find 'prospect' with ID '{pid}'."
                )
            if method == "GET":
                return self._ok(200, {"data": self._prospect(self.prospects[pid])})
            if method == "PATCH":
                return self._update_prospect(request, pid)
        if path == "/api/v2/sequenceStates":
            if method == "GET":
                return self._list_states(request)
            if method == "POST":
                return self._create_state(request)
        match = re.fullmatch(r"/api/v2/sequenceStates/(\d+)/actions/finish", path)
        if match and method == "POST":
            sid = int(match.group(1))
            state = self.states.get(sid)
            if state is None:
                return self._errors(
                    404, "resourceNotFound", "Resource Not Found", f"Could not find 'sequenceState' with ID '{sid}'."
                )
            if state["state"] == "finished":
                return self._errors(422, "validationError", "Validation Error", "Sequence state is already finished.")
            state.update(state="finished", updatedAt=_now_iso())
            return self._ok(200, {"data": self._state(state)}, write=True)
        return self._errors(404, "resourceNotFound", "Resource Not Found", f"No route {method} {path}.")

    def _document(self, request: Request) -> dict | Response:
        try:
            doc = request.json()
        except ValueError:
            return self._errors(400, "badRequest", "Bad Request", "Request body is not valid JSON.")
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
            return self._errors(400, "badRequest", "Bad Request", "A JSON:API document with 'data' is required.")
        return doc["data"]

    def _check_emails(self, emails: Any, own_id: int | None) -> Response | list[str]:
        if not isinstance(emails, list) or not emails:
            return self._errors(422, "validationError", "Validation Error", "Emails can't be blank.")
        clean = [str(e).strip().lower() for e in emails]
        for email in clean:
            if not EMAIL_RE.match(email):
                return self._errors(422, "validationError", "Validation Error", f"Emails {email!r} is invalid.")
            if self.faults.rejects(email):
                return self._errors(422, "validationError", "Validation Error", self.faults.rejects(email) or "")
            holder = self.by_email.get(email)
            if holder is not None and holder != own_id:
                return self._errors(
                    422,
                    "validationError",
                    "Validation Error",
                    "Contacts contact is using an email address that has already been taken.",
                )
        return clean

    def _create_prospect(self, request: Request) -> Response:
        data = self._document(request)
        if isinstance(data, Response):
            return data
        if data.get("type") != "prospect":
            return self._errors(400, "badRequest", "Bad Request", "data.type must be 'prospect'.")
        attrs = dict(data.get("attributes") or {})
        emails = self._check_emails(attrs.get("emails"), None)
        if isinstance(emails, Response):
            return emails
        now = _now_iso()
        pid = self._id()
        attrs.update(emails=emails, createdAt=now, updatedAt=now)
        self.prospects[pid] = {"id": pid, "attributes": attrs}
        for email in emails:
            self.by_email[email] = pid
        self.created += 1
        return self._created(self._prospect(self.prospects[pid]))

    def _created(self, data: dict) -> Response:
        if self.answers_without_id > 0:
            self.answers_without_id -= 1
            data = {"type": data["type"]}
        return self._ok(201, {"data": data}, write=True)

    def _update_prospect(self, request: Request, pid: int) -> Response:
        data = self._document(request)
        if isinstance(data, Response):
            return data
        if str(data.get("id")) != str(pid):
            return self._errors(400, "badRequest", "Bad Request", "data.id must match the URL.")
        attrs = dict(data.get("attributes") or {})
        prospect = self.prospects[pid]
        if "emails" in attrs:
            emails = self._check_emails(attrs["emails"], pid)
            if isinstance(emails, Response):
                return emails
            for email in prospect["attributes"].get("emails") or []:
                self.by_email.pop(email, None)
            for email in emails:
                self.by_email[email] = pid
            attrs["emails"] = emails
        prospect["attributes"].update(attrs, updatedAt=_now_iso())
        return self._ok(200, {"data": self._prospect(prospect)}, write=True)

    def _page(self, request: Request, items: list[dict], render: Callable[[dict], dict]) -> Response:
        try:
            size = int(request.query.get("page[size]") or 50)
        except ValueError:
            return self._errors(400, "badRequest", "Bad Request", "page[size] must be an integer.")
        if not 1 <= size <= 1000:
            return self._errors(400, "badRequest", "Bad Request", "page[size] must be between 1 and 1000.")
        after = int(request.query.get("page[after]") or 0)
        rest = [i for i in sorted(items, key=lambda x: x["id"]) if i["id"] > after]
        page = rest[:size]
        body: dict[str, Any] = {"data": [render(i) for i in page], "meta": {"count": len(items)}, "links": {}}
        if len(rest) > size:
            body["links"]["next"] = _paging_link(
                self.url, request.path, request.query, **{"page[after]": page[-1]["id"]}
            )
        return self._ok(200, body)

    def _list_prospects(self, request: Request) -> Response:
        items = list(self.prospects.values())
        if "filter[emails]" in request.query:
            wanted = {e.strip().lower() for e in request.query["filter[emails]"].split(",")}
            items = [p for p in items if wanted & set(p["attributes"].get("emails") or [])]
        if "filter[externalId]" in request.query:
            items = [p for p in items if p["attributes"].get("externalId") == request.query["filter[externalId]"]]
        return self._page(request, items, self._prospect)

    def _list_states(self, request: Request) -> Response:
        items = list(self.states.values())
        for key, attr in (("filter[prospect][id]", "prospect"), ("filter[sequence][id]", "sequence")):
            if key in request.query:
                items = [s for s in items if str(s[attr]) == request.query[key]]
        if "filter[state]" in request.query:
            items = [s for s in items if s["state"] == request.query["filter[state]"]]
        return self._page(request, items, self._state)

    def _create_state(self, request: Request) -> Response:
        data = self._document(request)
        if isinstance(data, Response):
            return data
        rel = data.get("relationships") or {}
        try:
            pid = int(rel["prospect"]["data"]["id"])
            seq = int(rel["sequence"]["data"]["id"])
            int(rel["mailbox"]["data"]["id"])
        except (KeyError, TypeError, ValueError):
            return self._errors(
                422, "validationError", "Validation Error", "prospect, sequence and mailbox relationships are required."
            )
        if pid not in self.prospects:
            return self._errors(422, "validationError", "Validation Error", f"Prospect {pid} does not exist.")
        if seq not in self.sequences:
            return self._errors(422, "validationError", "Validation Error", f"Sequence {seq} does not exist.")
        for state in self.states.values():
            if state["prospect"] == pid and state["sequence"] == seq and state["state"] == "active":
                return self._errors(
                    422, "validationError", "Validation Error", "Prospect is already active in this sequence."
                )
        now = _now_iso()
        sid = self._id()
        self.states[sid] = {
            "id": sid,
            "prospect": pid,
            "sequence": seq,
            "state": "active",
            "createdAt": now,
            "updatedAt": now,
        }
        return self._created(self._state(self.states[sid]))

    def state(self) -> dict[str, Any]:
        return {
            "prospects": [self._prospect(p) for p in self.prospects.values()],
            "sequence_states": [self._state(s) for s in self.states.values()],
            "created": self.created,
        }


# --- Slack incoming webhook -------------------------------------------------------------------------------------------


class SlackWebhook(FakeApi):
    """An incoming webhook: ``POST /services/T…/B…/<secret>`` → ``ok``; ``no_text``, ``invalid_payload``,
    ``no_service``; 1 message per second; no idempotency (like Slack)."""

    kind = "slack"
    rate_limit_body = "rate_limited"

    def __init__(
        self,
        *args: Any,
        path: str = "/services/T0000000/B0000000/demo-secret",
        rate_limit: tuple[int, float] | None = (1, 1.0),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, rate_limit=rate_limit, **kwargs)
        self.path = "/" + path.strip("/")
        self.proxy_200_next = 0  # the next N messages answered 200 with an HTML page, not posted
        self.clear()

    def clear(self) -> None:
        self.messages: list[dict] = []

    @property
    def webhook_url(self) -> str:
        return self.url + self.path

    def route_name(self, request: Request) -> str:
        return f"{request.method} /services/…"  # the path is the secret

    def _text(self, status: int, text: str, write: bool = False) -> Response:
        return Response(status, text, content_type="text/plain; charset=utf-8", write=write)

    def _too_many(self, retry_after: float) -> Response:
        response = super()._too_many(retry_after)
        response.content_type = "text/plain; charset=utf-8"
        return response

    def handle(self, request: Request) -> Response:
        if request.path != self.path:
            return self._text(404, "no_service")
        if request.method != "POST":
            return self._text(405, "invalid_method")
        try:
            message = request.json()
        except ValueError:
            return self._text(400, "invalid_payload")
        if not isinstance(message, dict):
            return self._text(400, "invalid_payload")
        if not message.get("text") and not message.get("blocks"):
            return self._text(400, "no_text")
        if self.proxy_200_next > 0:  # something in between answered for Slack: 200, not "ok", nothing posted
            self.proxy_200_next -= 1
            return Response(200, "<html><body>Request received</body></html>", content_type="text/html")
        flat = json.dumps(message).lower()
        for email, reason in self.faults.reject_emails.items():
            if email in flat:
                return self._text(400, reason or "invalid_blocks")
        self.messages.append({"received_at": _now_iso(), **message})
        return self._text(200, "ok", write=True)

    @staticmethod
    def ref(message: dict) -> str | None:
        """The lead a leadflow message is about (from its context block)."""
        for block in message.get("blocks") or []:
            if block.get("type") == "context":
                for element in block.get("elements") or []:
                    found = re.search(r"lead (\S+) ·", element.get("text") or "")
                    if found:
                        return found.group(1)
        return None

    def state(self) -> dict[str, Any]:
        return {"messages": list(self.messages)}


# --- generic signed webhook receiver ----------------------------------------------------------------------------------


class WebhookReceiver(FakeApi):
    """A generic JSON receiver verifying ``X-Leadflow-Signature`` (HMAC-SHA256 of "<timestamp>.<body>",
    5-minute tolerance) that dedupes records by ``idempotency_key`` and answers per record (``accepted`` /
    ``duplicate`` / ``rejected``)."""

    kind = "webhook"

    def __init__(
        self,
        *args: Any,
        secret: str = "demo-webhook-secret",
        path: str = "/hooks/leadflow",
        tolerance_seconds: int = 300,
        max_records: int = 500,
        reject_mode: str = "per_record",
        rate_limit: tuple[int, float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, rate_limit=rate_limit, **kwargs)
        self.secret = secret.encode()
        self.path = "/" + path.strip("/")
        self.tolerance_seconds = tolerance_seconds
        self.max_records = max_records
        self.reject_mode = reject_mode  # "per_record": 200 with outcomes; "batch": 422 naming no one
        self.drop_last_silently = 0  # the next N batches: the last record is neither stored nor answered for
        self.clear()

    def clear(self) -> None:
        self.seen: dict[str, dict] = {}
        self.latest: dict[str, dict] = {}
        self.applied: list[dict] = []
        self.duplicates = 0

    @property
    def hook_url(self) -> str:
        return self.url + self.path

    def authorized(self, request: Request) -> bool:
        stamp = request.headers.get("X-Leadflow-Timestamp") or ""
        given = request.headers.get("X-Leadflow-Signature") or ""
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > self.tolerance_seconds:
            return False
        expected = "v1=" + hmac.new(self.secret, stamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, given)

    def unauthorized(self) -> Response:
        return Response(401, {"error": "invalid or expired signature"})

    def handle(self, request: Request) -> Response:
        if request.path != self.path or request.method != "POST":
            return Response(404, {"error": "not found"})
        try:
            records = (request.json() or {}).get("records")
        except (ValueError, AttributeError):
            return Response(400, {"error": "body must be a JSON object with a 'records' list"})
        if not isinstance(records, list) or not records:
            return Response(400, {"error": "body must be a JSON object with a 'records' list"})
        if len(records) > self.max_records:
            return Response(413, {"error": f"at most {self.max_records} records per request"})
        results, problems = [], []
        for rec in records:
            key = str(rec.get("idempotency_key") or "")
            email = str(rec.get("email") or "").strip().lower()
            reason = None
            if not key:
                reason = "idempotency_key is required"
            elif rec.get("action") == "upsert" and not EMAIL_RE.match(email):
                reason = f"invalid email {email!r}"
            elif rec.get("action") == "upsert" and self.faults.rejects(email):
                reason = self.faults.rejects(email)
            if reason:
                problems.append({"idempotency_key": key, "status": "rejected", "reason": reason})
            results.append({"idempotency_key": key, "status": "rejected", "reason": reason} if reason else None)
        if problems and self.reject_mode == "batch":
            return Response(422, {"error": "the batch holds invalid records; nothing was stored"})
        write = False
        dropped = None
        if self.drop_last_silently > 0 and results[-1] is None:
            self.drop_last_silently -= 1
            dropped = len(records) - 1
        for i, rec in enumerate(records):
            if results[i] is not None or i == dropped:
                continue
            key = str(rec["idempotency_key"])
            if key in self.seen:
                self.duplicates += 1
                results[i] = {"idempotency_key": key, "status": "duplicate"}
                continue
            self.seen[key] = rec
            self.applied.append(rec)
            self.latest[str(rec.get("lead_id"))] = rec
            results[i] = {"idempotency_key": key, "status": "accepted"}
            write = True
        return Response(200, {"results": [x for x in results if x is not None]}, write=write)

    def state(self) -> dict[str, Any]:
        return {"latest": self.latest, "applied": len(self.applied), "duplicates_ignored": self.duplicates}


# --- all four, for the demo and the benchmark ------------------------------------------------------------------------


class DestinationServers:
    """Outreach, HubSpot, Slack and webhook fakes together; :meth:`connections` gives the ``AIRFLOW_CONN_*``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        base_port: int = 0,
        token: str = "demo-token",
        webhook_secret: str = "demo-webhook-secret",
        slack_path: str = "/services/T0000000/B0000000/demo-secret",
        limits: dict[str, tuple[int, float] | None] | None = None,
    ) -> None:
        limits = limits or {}

        def port(i: int) -> int:
            return base_port + i if base_port else 0

        kw = {"host": host}
        self.outreach = OutreachApi(port(0), token=token, rate_limit=limits.get("outreach", (10_000, 3600.0)), **kw)
        self.hubspot = HubSpotApi(port(1), token=token, rate_limit=limits.get("hubspot", (190, 10.0)), **kw)
        self.slack = SlackWebhook(port(2), path=slack_path, rate_limit=limits.get("slack", (1, 1.0)), **kw)
        self.webhook = WebhookReceiver(port(3), secret=webhook_secret, rate_limit=limits.get("webhook"), **kw)
        self.token, self.webhook_secret = token, webhook_secret

    @property
    def all(self) -> list[FakeApi]:
        return [self.outreach, self.hubspot, self.slack, self.webhook]

    def start(self) -> DestinationServers:
        for server in self.all:
            server.start()
        return self

    def stop(self) -> None:
        for server in self.all:
            server.stop()

    def __enter__(self) -> DestinationServers:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def connections(
        self, sequences: dict[str, int] | None = None, rate_limits: dict[str, Any] | None = None
    ) -> dict[str, str]:
        """``AIRFLOW_CONN_LEADFLOW_*`` values (JSON) pointing the sync at these servers."""
        sequences = sequences or {"account_executive": 1, "product_led_sales": 2, "sdr_follow_up": 3, "sdr_nurture": 4}
        rate_limits = rate_limits or {}

        def conn(kind: str, host: str, password: str | None, **extra: Any) -> str:
            if kind in rate_limits:
                extra["rate_limit"] = rate_limits[kind]
            return json.dumps(
                {"conn_type": "http", "host": host, "password": password, "extra": {"kind": kind, **extra}}
            )

        return {
            "AIRFLOW_CONN_LEADFLOW_OUTREACH": conn(
                "outreach", self.outreach.url, self.token, sequences=sequences, mailbox_id=1
            ),
            "AIRFLOW_CONN_LEADFLOW_HUBSPOT": conn("hubspot", self.hubspot.url, self.token),
            "AIRFLOW_CONN_LEADFLOW_SLACK": conn("slack", self.slack.url, self.slack.path.lstrip("/")),
            "AIRFLOW_CONN_LEADFLOW_WEBHOOK": conn(
                "webhook", self.webhook.hook_url, None, hmac_secret=self.webhook_secret
            ),
        }


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--base-port", default=8790, show_default=True, type=int, help="Outreach, HubSpot, Slack, webhook = +0..+3."
)
@click.option(
    "--token", envvar="LEADFLOW_DEMO_DESTINATION_TOKEN", default="demo-token", help="Bearer token to require."
)
@click.option("--webhook-secret", default="demo-webhook-secret", help="HMAC secret of the webhook receiver.")
@click.option("--rate-scale", default=1.0, show_default=True, type=float, help="Multiply every documented quota.")
@click.option(
    "--limit",
    "limits_given",
    multiple=True,
    metavar="KIND=N/Ts",
    help="Override one quota, e.g. outreach=100/1s, webhook=50/1s, slack=off (repeatable).",
)
def main(host: str, base_port: int, token: str, webhook_secret: str, rate_scale: float, limits_given) -> None:
    """Serve fake Outreach, HubSpot, Slack and webhook APIs; print the AIRFLOW_CONN_* lines to use them."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from leadflow.http import RateLimit

    def scaled(requests: int, per: float) -> tuple[int, float]:
        return max(1, round(requests * rate_scale)), per

    limits: dict[str, tuple[int, float] | None] = {
        "outreach": scaled(10_000, 3600.0),
        "hubspot": scaled(190, 10.0),
        "slack": scaled(1, 1.0),
        "webhook": None,
    }
    for item in limits_given:
        kind, _, value = item.partition("=")
        parsed = RateLimit.parse(value)
        limits[kind.strip()] = (parsed.requests, parsed.per_seconds) if parsed else None
    servers = DestinationServers(host, base_port, token, webhook_secret, limits=limits).start()
    client_limits = {k: ({"requests": v[0], "per_seconds": v[1]} if v else "off") for k, v in limits.items()}
    click.echo("fake destinations up; export these to point the sync at them:", err=True)
    for key, value in servers.connections(rate_limits=client_limits).items():
        click.echo(f"export {key}='{value}'")
    click.echo('export LEADFLOW_SYNC_DESTINATIONS=\'["file","hubspot","outreach","slack","webhook"]\'')
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        servers.stop()


if __name__ == "__main__":
    main()
