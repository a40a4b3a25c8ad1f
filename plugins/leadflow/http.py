"""HTTP transport shared by every step that calls an API: the pull's REST sources, the sync's destinations, alerts.

``RateLimit`` (a documented quota and the token bucket that stays under it), ``TokenBucket`` (thread-safe;
a 429's ``Retry-After`` pauses every sender of the API), ``HttpSender`` (one ``httpx`` client per API,
retries with backoff) and the ``ServiceError`` family. Errors never quote the URL (a Slack webhook URL is
itself the secret) or the request headers. Pacing and retries as users see them: docs/sync.md (What a
run does) and docs/pull.md (Sources and readers); the layer it belongs to: docs/architecture.md.
"""

from __future__ import annotations

import email.utils
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential


class ServiceError(RuntimeError):
    """The API cannot take more requests in this run; ``partial`` carries what the caller had settled before."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.partial: Any = None  # e.g. the sync's Delivery of the records settled before the failure


class ServiceUnavailable(ServiceError):
    """Retries exhausted on 429/5xx/timeouts/connection errors: stop calling this API for this run."""


class ServiceMisconfigured(ServiceError):
    """401/403 or an unknown endpoint: the connection is wrong; nothing is gained by retrying."""


@dataclass(frozen=True)
class RateLimit:
    requests: int
    per_seconds: float
    headroom: float = 0.05

    @classmethod
    def parse(cls, value: Any, default: RateLimit | None = None) -> RateLimit | None:
        """``{"requests": 190, "per_seconds": 10}``, ``"190/10s"``, ``"10000/h"``, a number (per second) or None."""
        if value is None or value == "":
            return default
        if isinstance(value, RateLimit):
            return value
        if isinstance(value, dict):
            if not value.get("requests"):
                return None
            return cls(int(value["requests"]), float(value.get("per_seconds", 1)), float(value.get("headroom", 0.05)))
        if isinstance(value, int | float):
            return cls(int(value), 1.0) if value > 0 else None
        text = str(value).strip().lower().replace(" ", "")
        if text in ("0", "none", "off", "unlimited"):
            return None
        match = re.fullmatch(r"(\d+)(?:/(\d*\.?\d*)(s|sec|second|m|min|minute|h|hour)?)?", text)
        if not match:
            raise ValueError(f"rate limit {value!r}: expected e.g. '190/10s', '10000/h' or '1/s'")
        units = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0, "h": 3600.0}
        units["hour"] = 3600.0
        count, number, unit = match.groups()
        return cls(int(count), float(number or 1) * units[unit or "s"])

    def bucket(self) -> tuple[float, float]:
        """(tokens per second, capacity) of the client bucket that never exceeds the quota.

        For N requests per T seconds: capacity ``C = max(1, floor(5% of N))`` and rate ``(N - C) / T``, so in
        any window of T seconds at most ``C + rate·T = N`` requests leave, and the long run gets 95% of N."""
        capacity = max(1, math.floor(self.requests * self.headroom))
        if self.requests > capacity:
            rate = (self.requests - capacity) / self.per_seconds
        else:
            rate = self.requests * (1 - self.headroom) / self.per_seconds
        return rate, float(capacity)

    @property
    def per_second(self) -> float:
        return self.requests / self.per_seconds

    def __str__(self) -> str:
        return f"{self.requests}/{self.per_seconds:g}s"


class TokenBucket:
    """Blocks :meth:`acquire` until a token is free; :meth:`pause` stops everyone (Retry-After)."""

    def __init__(
        self,
        limit: RateLimit | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = limit
        self.rate, self.capacity = limit.bucket() if limit else (0.0, 0.0)
        self.tokens = self.capacity
        self.clock, self.sleep = clock, sleep
        self.stamp = clock()
        self.paused_until = 0.0
        self.lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        while True:
            with self.lock:
                now = self.clock()
                wait = self.paused_until - now
                if wait <= 0:
                    if self.rate <= 0:
                        return
                    if now > self.stamp:
                        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
                        self.stamp = now
                    if self.tokens >= 1.0 - 1e-9:  # float dust must not cost a sleep
                        self.tokens = max(0.0, self.tokens - 1.0)
                        return
                    wait = max((1.0 - self.tokens) / self.rate, 1e-6)
            self.waited += wait
            self.sleep(wait)

    def pause(self, seconds: float) -> None:
        """Nobody sends for ``seconds``; then the bucket restarts empty (no burst into a fresh 429)."""
        with self.lock:
            until = self.clock() + seconds
            if until > self.paused_until:
                self.paused_until = until
                self.tokens = 0.0
                self.stamp = until


@dataclass
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 0.5
    max_backoff_seconds: float = 60.0
    max_retry_after_seconds: float = 900.0  # a longer Retry-After ends this API's run (next run resumes)
    timeout_seconds: float = 30.0

    def backoff(self) -> wait_random_exponential:
        """Full jitter: uniform in [0, min(cap, base·2^retry)] (the first retry is retry 0)."""
        return wait_random_exponential(multiplier=self.base_seconds, max=self.max_backoff_seconds)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds (integer, or a decimal from lenient servers) or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class SendStats:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    timeouts: int = 0
    connection_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for key, value in counts.items():
                setattr(self, key, getattr(self, key) + value)

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {
                k: getattr(self, k)
                for k in ("requests", "retries", "rate_limited", "server_errors", "timeouts", "connection_errors")
            }


RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


def new_client(
    base_url: str = "",
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
    transport: httpx.BaseTransport | None = None,
    concurrency: int | None = None,
) -> httpx.Client:
    """The ``httpx`` client every caller uses: a base URL, default headers, one timeout, and — for a caller
    that sends from ``concurrency`` threads — a connection pool sized to them."""
    extra: dict[str, Any] = {}
    if concurrency is not None:
        extra["limits"] = httpx.Limits(
            max_connections=max(2, concurrency * 2), max_keepalive_connections=max(2, concurrency)
        )
    return httpx.Client(base_url=base_url, headers=headers or {}, timeout=timeout, transport=transport, **extra)


class _Retryable(Exception):
    """One attempt's outcome worth another try: why, and how long the server asked us to wait."""

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem, self.retry_after = problem, retry_after


class HttpSender:
    """Sends one request with the API's rate limit and retry policy; returns the final response.

    Retries (``tenacity``) 429, 408, 5xx, timeouts and broken connections with exponential backoff and full
    jitter (or exactly the ``Retry-After`` the server asked for, plus a little jitter), up to
    ``max_attempts``. 401/403 mean the connection is wrong: no retry. Every other response goes back to the
    caller, which knows what a 400 or 422 means for its records.
    """

    def __init__(
        self,
        label: str,
        base_url: str,
        headers: dict[str, str] | None = None,
        rate_limit: RateLimit | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        concurrency: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.bucket = TokenBucket(rate_limit, clock=clock, sleep=sleep)
        self.stats = SendStats()
        self.client = new_client(base_url, headers, self.retry.timeout_seconds, transport, concurrency)

    @property
    def rate_limit(self) -> RateLimit | None:
        return self.bucket.limit

    def close(self) -> None:
        self.client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        params: dict | None = None,
        headers: dict[str, str] | None = None,
        sign: Callable[[bytes], dict[str, str]] | None = None,
    ) -> httpx.Response:
        """``sign(body)`` returns extra headers computed per attempt (e.g. a timestamped HMAC signature)."""
        if json_body is not None:
            content = json.dumps(json_body, separators=(",", ":"), default=str).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        policy = self.retry
        backoff = policy.backoff()

        def wait(state: RetryCallState) -> float:
            retry_after = state.outcome.exception().retry_after
            if retry_after is None:
                return backoff(state)
            return retry_after + random.uniform(0, min(1.0, 0.1 * retry_after))

        def before_sleep(state: RetryCallState) -> None:
            failed = state.outcome.exception()
            if failed.retry_after is not None:
                if failed.retry_after > policy.max_retry_after_seconds:
                    raise ServiceUnavailable(
                        f"{self.label}: {failed.problem}; Retry-After {failed.retry_after:.0f}s exceeds "
                        f"{policy.max_retry_after_seconds:.0f}s — the next run resumes"
                    )
                self.bucket.pause(state.upcoming_sleep)
            self.stats.add(retries=1)

        retrying = Retrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(policy.max_attempts),
            wait=wait,
            before_sleep=before_sleep,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, method, path, content, params, headers, sign)
        except _Retryable as last:
            raise ServiceUnavailable(f"{self.label}: {last.problem} after {policy.max_attempts} attempts") from None

    def _attempt(
        self,
        method: str,
        path: str,
        content: bytes | None,
        params: dict | None,
        headers: dict[str, str] | None,
        sign: Callable[[bytes], dict[str, str]] | None,
    ) -> httpx.Response:
        """One try: the response, or :class:`_Retryable` saying why another try may do better."""
        self.bucket.acquire()
        attempt_headers = dict(headers or {})
        if sign is not None:
            attempt_headers.update(sign(content or b""))
        self.stats.add(requests=1)
        try:
            response = self.client.request(method, path, content=content, params=params, headers=attempt_headers)
        except httpx.TimeoutException as exc:
            self.stats.add(timeouts=1)
            raise _Retryable(f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            self.stats.add(connection_errors=1)
            raise _Retryable(f"connection failed ({type(exc).__name__})") from None
        status = response.status_code
        if status in (401, 403):
            raise ServiceMisconfigured(
                f"{self.label}: HTTP {status} {short_body(response)} — check the connection's credentials"
            )
        if status not in RETRY_STATUSES:
            return response
        problem = f"HTTP {status} {short_body(response)}".strip()
        if status == 429:
            self.stats.add(rate_limited=1)
        else:
            self.stats.add(server_errors=1)
        if status in (429, 503):
            raise _Retryable(problem, parse_retry_after(response.headers.get("Retry-After")))
        raise _Retryable(problem)


def short_body(response: httpx.Response, limit: int = 300) -> str:
    """The start of a response body, for a reason string (bodies never echo our credentials)."""
    try:
        text = response.text
    except Exception:
        return ""
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "")
