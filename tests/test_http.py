"""leadflow.http: rate limits and retries — without a network (httpx.MockTransport) and without a real clock."""

from __future__ import annotations

import math

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.http import (
    HttpSender,
    RateLimit,
    RetryPolicy,
    ServiceMisconfigured,
    ServiceUnavailable,
    TokenBucket,
    parse_retry_after,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@given(st.integers(1, 20_000), st.sampled_from([1.0, 10.0, 60.0, 3600.0]))
def test_bucket_never_exceeds_the_quota_and_reaches_95_percent(requests: int, per: float) -> None:
    limit = RateLimit(requests, per)
    rate, capacity = limit.bucket()
    assert capacity + math.floor(rate * per) <= requests  # at most N in any window of T seconds
    assert rate * per >= 0.9 * requests or requests <= 10  # tiny quotas: one token is already 5%+


def test_documented_quotas() -> None:
    assert RateLimit.parse("10000/h") == RateLimit(10_000, 3600.0)
    assert RateLimit.parse({"requests": 190, "per_seconds": 10}) == RateLimit(190, 10.0)
    assert RateLimit.parse("1/s") == RateLimit(1, 1.0)
    assert RateLimit.parse("100/10s") == RateLimit(100, 10.0)
    assert RateLimit.parse(None, RateLimit(5, 1)) == RateLimit(5, 1)
    assert RateLimit.parse("off") is None


def test_token_bucket_paces_to_its_rate_and_pauses_on_retry_after() -> None:
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(190, 10.0), clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(1000):
        bucket.acquire()
    rate, capacity = RateLimit(190, 10.0).bucket()
    assert clock.now - start == pytest.approx((1000 - capacity) / rate, rel=1e-6)
    # every window of 10 s holds at most 190 sends: the throughput is 95% of the quota, never over it
    bucket.pause(30)
    before = clock.now
    bucket.acquire()
    assert clock.now - before >= 30


def mock_sender(responses: list, clock: FakeClock, **retry) -> tuple[HttpSender, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    policy = RetryPolicy(**{"max_attempts": 5, "base_seconds": 1.0, "max_backoff_seconds": 8.0, **retry})
    sender = HttpSender(
        "test",
        "http://api.test",
        rate_limit=None,
        retry=policy,
        sleep=clock.sleep,
        clock=clock,
        transport=httpx.MockTransport(handler),
    )
    return sender, seen


def test_retry_after_is_honoured() -> None:
    clock = FakeClock()
    sender, seen = mock_sender(
        [httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={"ok": True})], clock
    )
    assert sender.request("POST", "/x", json_body={"a": 1}).status_code == 200
    assert len(seen) == 2 and 7 <= sum(clock.slept) <= 7.7
    assert sender.stats.snapshot()["rate_limited"] == 1


def test_5xx_timeouts_and_resets_back_off_exponentially_with_jitter() -> None:
    clock = FakeClock()
    sender, seen = mock_sender(
        [
            httpx.Response(503),
            httpx.ReadTimeout("slow"),
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            httpx.Response(502),
            httpx.Response(200),
        ],
        clock,
    )
    assert sender.request("GET", "/x").status_code == 200
    assert len(seen) == 5
    caps = [1.0, 2.0, 4.0, 8.0]
    assert all(0 <= s <= cap for s, cap in zip(clock.slept, caps, strict=True))
    stats = sender.stats.snapshot()
    assert (stats["server_errors"], stats["timeouts"], stats["connection_errors"], stats["retries"]) == (2, 1, 1, 4)


def test_503_waits_its_retry_after_and_500_backs_off() -> None:
    clock = FakeClock()
    sender, _ = mock_sender([httpx.Response(503, headers={"Retry-After": "5"}), httpx.Response(200)], clock)
    assert sender.request("GET", "/x").status_code == 200
    assert 5 <= clock.slept[0] <= 5.5  # the server's wait, plus at most a tenth of it as jitter
    assert sender.bucket.paused_until >= 1005  # ... for every sender of the API, not only this request
    clock = FakeClock()
    sender, _ = mock_sender([httpx.Response(500, headers={"Retry-After": "50"}), httpx.Response(200)], clock)
    assert sender.request("GET", "/x").status_code == 200
    assert clock.slept[0] <= 1.0  # a 500's Retry-After is not a promise: the first backoff's cap (base 1 s)


def test_retries_end_and_say_why() -> None:
    clock = FakeClock()
    sender, _ = mock_sender([httpx.Response(500, text="boom")] * 3, clock, max_attempts=3)
    with pytest.raises(ServiceUnavailable, match="HTTP 500 boom after 3 attempts"):
        sender.request("GET", "/x")
    sender, _ = mock_sender([httpx.Response(429, headers={"Retry-After": "3600"})], clock)
    with pytest.raises(ServiceUnavailable, match="Retry-After 3600s exceeds"):
        sender.request("GET", "/x")


def test_auth_failures_are_not_retried() -> None:
    clock = FakeClock()
    sender, seen = mock_sender([httpx.Response(401, json={"message": "bad token"})], clock)
    with pytest.raises(ServiceMisconfigured):
        sender.request("GET", "/x")
    assert len(seen) == 1 and clock.slept == []


def test_client_errors_go_back_to_the_destination() -> None:
    clock = FakeClock()
    sender, seen = mock_sender([httpx.Response(422, json={"errors": []})], clock)
    assert sender.request("POST", "/x").status_code == 422 and len(seen) == 1


def test_retry_after_formats() -> None:
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_a_long_retry_after_on_the_last_attempt_is_just_the_last_failure() -> None:
    clock = FakeClock()
    sender, seen = mock_sender([httpx.Response(429, headers={"Retry-After": "3600"})] * 2, clock, max_attempts=1)
    with pytest.raises(ServiceUnavailable, match="HTTP 429 +after 1 attempts"):
        sender.request("GET", "/x")
    assert len(seen) == 1 and clock.slept == []


def test_every_attempt_is_signed_afresh_and_json_is_sent_compact() -> None:
    clock = FakeClock()
    sender, seen = mock_sender([httpx.Response(502), httpx.Response(200)], clock)
    stamps = iter(["t1", "t2"])
    sender.request("POST", "/x", json_body={"a": [1, 2]}, sign=lambda body: {"X-Signature": f"{next(stamps)}:{body!r}"})
    assert [r.headers["X-Signature"] for r in seen] == ["t1:b'{\"a\":[1,2]}'", "t2:b'{\"a\":[1,2]}'"]
    assert seen[0].headers["Content-Type"] == "application/json"
