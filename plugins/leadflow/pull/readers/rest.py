"""A paginated REST API (HubSpot CRM v3 list shape): ``limit`` + ``after`` paging, paced under the API's quota
(``leadflow.http``), 429/5xx/timeouts retried with backoff."""

from __future__ import annotations

import logging
import queue
import random
import re
import threading
import time
from collections import deque
from datetime import datetime

import httpx
import orjson
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from leadflow.http import RateLimit, TokenBucket, new_client, parse_retry_after
from leadflow.pull.batch import Batcher
from leadflow.pull.readers.base import SourceError, row_clean
from leadflow.pull.validate import MAX_FIELD_CHARS

log = logging.getLogger(__name__)

# A page that holds none of these is "clean": no escapes, control characters, backslashes or overlong strings.
DIRTY_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\\]").search
LONG_STRING = re.compile(rb'"[^"]{%d,}' % MAX_FIELD_CHARS).search


class RetryableHTTPError(Exception):
    def __init__(self, status: int, retry_after: float | None, url: str):
        super().__init__(f"HTTP {status} from {url}")
        self.status = status
        self.retry_after = retry_after


def _retryable(err: BaseException) -> bool:
    return isinstance(err, RetryableHTTPError | httpx.TransportError)


def _wait(state: RetryCallState, base: float, cap: float) -> float:
    err = state.outcome.exception() if state.outcome else None
    if isinstance(err, RetryableHTTPError) and err.retry_after is not None:
        return min(err.retry_after, 60.0)
    return min(base * 2 ** (state.attempt_number - 1), cap) * (0.5 + random.random())


def _log_retry(state: RetryCallState) -> None:
    err = state.outcome.exception() if state.outcome else None
    log.warning("retrying after %s (attempt %s)", err, state.attempt_number)


class Pacer:
    """Client-side pacing of one API: a token bucket under the configured quota, or under the one it learns.

    With ``rate_limit`` configured (``"100/10s"``, ``"50/s"``) the bucket keeps every window of the
    quota under it (see ``leadflow.http.RateLimit``), so the API never has to answer 429.
    Without one, requests go as fast as the API answers until its first 429: from then on the pacer
    holds the rate it had just seen, less a tenth, and a quarter less at every further 429;
    ``Retry-After`` pauses every fetch of the source. Shared by all entities of a source in a pull.
    """

    def __init__(self, limit: RateLimit | None = None):
        self.bucket = TokenBucket(limit)
        self.lock = threading.Lock()
        self.recent: deque[float] = deque(maxlen=1000)
        self.limited = 0

    @property
    def rate(self) -> float:
        return self.bucket.rate

    def acquire(self) -> None:
        self.bucket.acquire()
        with self.lock:
            self.recent.append(time.monotonic())

    def too_many(self, retry_after: float | None) -> None:
        """The API answered 429: slow down for good (this pull) and pause for its Retry-After."""
        with self.lock:
            self.limited += 1
            now = time.monotonic()
            seen = sum(1 for t in self.recent if now - t <= 1.0)
            if self.bucket.rate > 0:
                rate = self.bucket.rate * 0.75
            else:
                rate = max(1.0, seen * 0.9)
            limit = RateLimit(max(1, round(rate * 10)), 10.0)
            bucket = TokenBucket(limit)
            bucket.pause(retry_after or 1.0)
            self.bucket = bucket
        log.warning("API answered 429: pacing to %.1f requests/s", bucket.rate)


def _get_page(client: httpx.Client, path: str, params: dict, pacer: Pacer | None = None) -> bytes:
    if pacer is not None:
        pacer.acquire()
    response = client.get(path, params=params)
    if response.status_code == 429 or response.status_code >= 500:
        wait = parse_retry_after(response.headers.get("Retry-After"))
        if response.status_code == 429 and pacer is not None:
            pacer.too_many(wait)
        raise RetryableHTTPError(response.status_code, wait, path)
    if response.status_code >= 400:
        raise SourceError(f"{path}: HTTP {response.status_code}: {response.text[:300]}")
    return response.content


def read_rest(
    base_url: str,
    path: str,
    since: datetime | None,
    sink: Batcher,
    source: str,
    page_size: int = 100,
    token: str | None = None,
    timeout: float = 30.0,
    attempts: int = 8,
    backoff: float = 0.25,
    max_backoff: float = 10.0,
    pacer: Pacer | None = None,
) -> None:
    """Every object updated after ``since``: ``limit`` + ``after`` paging, 429/5xx/timeouts retried with backoff."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    params: dict = {"limit": page_size}
    if since is not None:
        params["updatedAfter"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    retrying = Retrying(
        retry=retry_if_exception(_retryable),
        wait=lambda state: _wait(state, backoff, max_backoff),
        stop=stop_after_attempt(attempts),
        before_sleep=_log_retry,
        reraise=True,
    )
    pages: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def fetch() -> None:
        """Fetch pages ahead of the validation (the next ``after`` is known as soon as a page arrives)."""
        page = 0
        try:
            with new_client(base_url, headers, timeout) as client:
                while not stop.is_set():
                    page += 1
                    try:
                        content = retrying(_get_page, client, path, params, pacer)
                        body = orjson.loads(content)
                    except (RetryableHTTPError, httpx.TransportError) as err:
                        raise SourceError(
                            f"{source}: {base_url}{path} page {page}: gave up after {attempts} attempts: {err}"
                        ) from err
                    except orjson.JSONDecodeError as err:
                        raise SourceError(
                            f"{source}: {base_url}{path} page {page}: response is not JSON ({err})"
                        ) from err
                    after = ((body.get("paging") or {}).get("next") or {}).get("after")
                    _put(pages, stop, (page, content, body))
                    if not after:
                        break
                    params["after"] = after
            _put(pages, stop, None)
        except BaseException as err:  # handed to the reading thread, which raises it
            _put(pages, stop, err)

    fetcher = threading.Thread(target=fetch, name=f"fetch {path}", daemon=True)
    fetcher.start()
    try:
        while (item := pages.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            page, content, body = item
            clean = DIRTY_BYTES(content) is None and LONG_STRING(content) is None
            for index, obj in enumerate(body.get("results") or []):
                location = f"GET {path} page {page} item {index}"
                properties = obj.get("properties") if isinstance(obj, dict) else None
                if not isinstance(properties, dict):
                    sink.reject(location, orjson.dumps(obj).decode(), "API object without properties")
                    continue
                sink.add(properties, location, clean or row_clean(properties.values()), properties)
    finally:
        stop.set()
        fetcher.join(timeout=timeout + 5)


def _put(items: queue.Queue, stop: threading.Event, item) -> None:
    while not stop.is_set():
        try:
            items.put(item, timeout=0.2)
            return
        except queue.Full:
            continue
