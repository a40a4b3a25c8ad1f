"""Readers for the three ways source data arrives: landing-zone files, a SQL database, a paginated REST API.

Each reader yields ``Record(payload, location)`` for parsed records and ``Unparsed(text, location, reason)``
for input that is not even a record. Readers stream: nothing holds a whole file or table in memory.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
from tenacity import RetryCallState, retry, retry_if_exception, stop_after_attempt

log = logging.getLogger(__name__)


class SourceError(RuntimeError):
    """A fault that fails the whole source (the task retries); the message names source, location, field."""


@dataclass(frozen=True)
class Record:
    payload: dict
    location: str


@dataclass(frozen=True)
class Unparsed:
    text: str
    location: str
    reason: str


# -- files -------------------------------------------------------------------------------------------
def file_fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _lines(path: Path) -> Iterator[tuple[int, str, bool]]:
    """(line number, text without newline, whether the line ended with a newline)."""
    with path.open("r", encoding="utf-8", errors="surrogateescape", newline="") as fh:
        for number, line in enumerate(fh, start=1):
            ended = line.endswith("\n")
            yield number, line.rstrip("\r\n"), ended


def read_jsonl(path: Path, source: str) -> Iterator[Record | Unparsed]:
    for number, text, ended in _lines(path):
        if not text.strip():
            continue
        location = f"{path.name}:{number}"
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as err:
            if not ended:
                raise SourceError(f"{source}: {path} is truncated at line {number} (no newline, unparseable)") from err
            yield Unparsed(text, location, f"unparseable JSON line: {err.msg}")
            continue
        if not isinstance(payload, dict):
            yield Unparsed(text, location, "JSON line is not an object")
            continue
        yield Record(payload, location)


def read_csv(path: Path, source: str, required: tuple[str, ...]) -> Iterator[Record | Unparsed]:
    with path.open("r", encoding="utf-8", errors="surrogateescape", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            return
        missing = [c for c in required if c not in header]
        if missing:
            raise SourceError(
                f"{source}: {path} lacks required column(s) {', '.join(missing)} (header: {', '.join(header)})"
            )
        width = len(header)
        truncated_tail = not _ends_with_newline(path)
        rows = _with_last_flag((reader.line_num, row) for row in reader)
        for (line, row), is_last in rows:
            location = f"{path.name}:{line}"
            if not row:
                continue
            if len(row) != width:
                if is_last and truncated_tail:
                    raise SourceError(f"{source}: {path} is truncated at line {line} ({len(row)} of {width} fields)")
                yield Unparsed(_csv_text(row), location, f"malformed CSV row: expected {width} fields, got {len(row)}")
                continue
            yield Record(dict(zip(header, row, strict=True)), location)


def _with_last_flag(items):
    """Yield (item, is_last) with one item of look-ahead."""
    iterator = iter(items)
    try:
        previous = next(iterator)
    except StopIteration:
        return
    for item in iterator:
        yield previous, False
        previous = item
    yield previous, True


def _csv_text(row: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow(row)
    return buf.getvalue().rstrip("\r\n")


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, 2)
        return fh.read(1) == b"\n"


# -- SQL database ------------------------------------------------------------------------------------
def read_sql(url: str, table: str, cursor_column: str, since: datetime | None) -> Iterator[Record]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    query = f'select * from "{table}"'  # table names come from sources.yml, not from data
    params = {}
    if since is not None:
        query += f' where "{cursor_column}" >= :since'
        # SQLite stores ISO text: compare in the same Z-suffixed form the application writes.
        params["since"] = since.strftime("%Y-%m-%dT%H:%M:%SZ") if url.startswith("sqlite") else since
    query += f' order by "{cursor_column}"'
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=10_000).execute(text(query), params)
            for number, row in enumerate(result, start=1):
                yield Record(dict(row._mapping), f"{table} row {number}")
    except Exception as err:
        raise SourceError(f"SQL source {table}: {err.__class__.__name__}: {err}") from err
    finally:
        engine.dispose()


# -- REST API (HubSpot CRM v3 list shape) ------------------------------------------------------------
class RetryableHTTPError(Exception):
    def __init__(self, status: int, retry_after: float | None, url: str):
        super().__init__(f"HTTP {status} from {url}")
        self.status = status
        self.retry_after = retry_after


def _retryable(err: BaseException) -> bool:
    return isinstance(err, RetryableHTTPError | httpx.TransportError)


def _wait(state: RetryCallState) -> float:
    err = state.outcome.exception() if state.outcome else None
    if isinstance(err, RetryableHTTPError) and err.retry_after is not None:
        return min(err.retry_after, 60.0)
    import random

    return min(0.25 * 2 ** (state.attempt_number - 1), 10.0) * (0.5 + random.random())


def _log_retry(state: RetryCallState) -> None:
    err = state.outcome.exception() if state.outcome else None
    log.warning("retrying after %s (attempt %s)", err, state.attempt_number)


@retry(
    retry=retry_if_exception(_retryable), wait=_wait, stop=stop_after_attempt(8), before_sleep=_log_retry, reraise=True
)
def _get_page(client: httpx.Client, path: str, params: dict) -> dict:
    response = client.get(path, params=params)
    if response.status_code == 429 or response.status_code >= 500:
        retry_after = response.headers.get("Retry-After")
        raise RetryableHTTPError(response.status_code, float(retry_after) if retry_after else None, path)
    if response.status_code >= 400:
        raise SourceError(f"{path}: HTTP {response.status_code}: {response.text[:300]}")
    return response.json()


def read_rest(
    base_url: str,
    path: str,
    since: datetime | None,
    page_size: int = 100,
    token: str | None = None,
    timeout: float = 30.0,
) -> Iterator[Record]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    params: dict = {"limit": page_size}
    if since is not None:
        params["updatedAfter"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    page = 0
    with httpx.Client(base_url=base_url, headers=headers, timeout=timeout) as client:
        while True:
            page += 1
            try:
                body = _get_page(client, path, params)
            except (RetryableHTTPError, httpx.TransportError) as err:
                raise SourceError(f"{base_url}{path} page {page}: gave up after retries: {err}") from err
            for index, obj in enumerate(body.get("results", [])):
                location = f"GET {path} page {page} item {index}"
                if not isinstance(obj, dict) or not isinstance(obj.get("properties"), dict):
                    yield Unparsed(json.dumps(obj)[:10_000], location, "API object without properties")
                    continue
                yield Record(dict(obj["properties"]), location)
            after = (body.get("paging") or {}).get("next", {}).get("after")
            if not after:
                return
            params["after"] = after
