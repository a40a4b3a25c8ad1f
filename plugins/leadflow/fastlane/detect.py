"""Find hot-event candidates in the sources themselves, cheaply, before anything is pulled.

The scanner is what the triggerer runs every second. It only pre-filters by signal name (which event types
can make a lead conversion-qualified: ``HotSignals``, the ``hot_*`` vars of dbt_project.yml that
int_rule_hits_conversion applies); whether a lead *is* hot is decided by dbt in the fast lane's run, never here.

* File sources (web events, quiz responses, as configured in sources.yml): files not yet seen are read
  and their hot rows become candidates. Files already in ``ops.loaded_files`` when the scanner starts are
  known; a file that changes (new size or mtime) is read again.
* The product database (kind ``sql``): rows after the last rowid seen; a ``checkout_started`` becomes a
  candidate once its grace period has passed without a ``checkout_completed`` of the same user (cart
  abandon is defined by time passing, so the scanner also wakes for it).
"""

from __future__ import annotations

import csv
import json
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

log = logging.getLogger(__name__)

# source -> the entity whose new files the scanner reads
FILE_ENTITIES = {"web": "event", "quiz": "response"}


@dataclass(frozen=True)
class HotSignals:
    """Which new rows can make a lead hot, as the dbt project defines it (the ``hot_*`` vars of dbt_project.yml,
    which int_rule_hits_conversion applies): the scanner pre-filters by these, dbt decides."""

    web_events: frozenset[str]  # web event types: the requests and the pricing view
    quiz_timeline: str
    checkout_started: str
    checkout_completed: str
    cart_grace: timedelta
    window: timedelta

    @classmethod
    def from_dbt(cls, settings=None) -> HotSignals:
        from leadflow.transform.dbt import project_vars

        v = project_vars(settings)
        return cls(
            web_events=frozenset([*v["hot_request_signals"], v["hot_pricing_signal"]]),
            quiz_timeline=str(v["hot_quiz_timeline"]),
            checkout_started=str(v["hot_checkout_signals"]["started"]),
            checkout_completed=str(v["hot_checkout_signals"]["completed"]),
            cart_grace=timedelta(minutes=float(v["hot_cart_abandon_grace_minutes"])),
            window=timedelta(hours=float(v["hot_window_hours"])),
        )


def _signal(value) -> str:
    """A signal name as staging writes it (lower(trim()) of the event type, event name or quiz answer)."""
    return str(value or "").strip().lower()


def _web_candidate(row: dict, hot: HotSignals) -> dict | None:
    if _signal(row.get("event_type")) not in hot.web_events:
        return None
    return {
        "source": "web",
        "signal": _signal(row.get("event_type")),
        "event_id": row.get("event_id"),
        "email": row.get("email"),
        "anonymous_id": row.get("anonymous_id"),
        "user_id": row.get("user_id"),
        "occurred_at": row.get("occurred_at"),
    }


def _quiz_candidate(row: dict, hot: HotSignals) -> dict | None:
    if _signal(row.get("timeline")) != hot.quiz_timeline:
        return None
    return {
        "source": "quiz",
        "signal": f"quiz_timeline_{hot.quiz_timeline}",  # as int_touch_signals names it
        "event_id": row.get("response_id"),
        "email": row.get("email"),
        "occurred_at": row.get("submitted_at"),
    }


def read_candidates(path: str, source: str, text: str | None = None, hot: HotSignals | None = None) -> list[dict]:
    """Hot candidates in one landing file (JSON Lines or CSV; ``text``: its content when it was read elsewhere,
    e.g. from an object store; ``hot``: the definition, else the dbt project's); unparsable lines are the pull's
    to quarantine."""
    hot = hot or HotSignals.from_dbt()
    found: list[dict] = []
    if text is None:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    if source == "web":
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and (candidate := _web_candidate(row, hot)):
                found.append(candidate)
    else:
        for row in csv.DictReader(text.splitlines()):
            if candidate := _quiz_candidate({(k or "").strip().lower(): v for k, v in row.items()}, hot):
                found.append(candidate)
    for candidate in found:
        candidate["file"] = path
    return found


@dataclass
class HotSourceScanner:
    """Stateful scan of the hot sources; ``scan()`` returns the candidates that arrived since the last call."""

    settings: object = None
    seen_files: dict[str, str] = field(default_factory=dict)
    last_rowid: int | None = None
    open_checkouts: dict[str, list[tuple[datetime, dict]]] = field(default_factory=dict)
    started: bool = False

    def __post_init__(self) -> None:
        from leadflow.pull.run import load_source_config
        from leadflow.settings import get_settings

        self.settings = self.settings or get_settings()
        self.config = load_source_config(self.settings)
        self.hot = HotSignals.from_dbt(self.settings)

    # -- baseline ---------------------------------------------------------------------------------------
    def start(self) -> None:
        """What exists now is known: files already loaded, product rows already present."""
        from leadflow.warehouse.db import connect, warehouse_url

        url = warehouse_url(self.settings, start_embedded=False)
        with connect(url, autocommit=True) as conn:
            exists = conn.execute("select to_regclass('ops.loaded_files')").fetchone()[0]
            if exists:
                keys = [f"{s}.{e}" for s, e in FILE_ENTITIES.items()]
                for path, fingerprint in conn.execute(
                    "select path, fingerprint from ops.loaded_files where source = any(%s)", (keys,)
                ):
                    self.seen_files[path] = fingerprint
        db = self._product_db()
        if db is not None:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                self.last_rowid = conn.execute("select coalesce(max(rowid), 0) from events").fetchone()[0]
        self.started = True

    # -- one poll ---------------------------------------------------------------------------------------
    def scan(self, now: datetime | None = None) -> list[dict]:
        if not self.started:
            self.start()
        now = now or datetime.now(UTC)
        found: list[dict] = []
        for source in FILE_ENTITIES:
            found.extend(self._scan_files(source))
        found.extend(self._scan_product(now))
        # Older than the hot window, an event cannot make anyone hot now (the batch still counts it).
        horizon = now - self.hot.window
        return [c for c in found if (_parse_time(c.get("occurred_at")) or now) > horizon]

    def _scan_files(self, source: str) -> list[dict]:
        from leadflow.pull.readers import list_files

        cfg = self.config.get(source) or {}
        spec = (cfg.get("entities") or {}).get(FILE_ENTITIES[source])
        if cfg.get("kind") != "files" or not spec:
            return []
        # A folder or any fsspec URL, as the pull reads it. On an object store each poll is one listing request
        # per hot entity (about 86,000 a day at the default 1 s): cheap, but not free.
        location = cfg.get("location") or str(self.settings.landing)
        try:
            refs = list_files(location, spec["pattern"], cfg.get("storage_options") or {})
        except (OSError, ValueError) as err:
            log.warning("fast lane: cannot list %s/%s: %s", location, spec["pattern"], err)
            return []
        found = []
        for ref in refs:
            if self.seen_files.get(ref.url) == ref.fingerprint:
                continue
            try:
                with ref.open() as stream:
                    text = stream.read().decode("utf-8", errors="replace")
                found.extend(read_candidates(ref.url, source, text, self.hot))
            except OSError as err:  # vanished or unreadable: the pull reports it
                log.warning("fast lane: cannot read %s: %s", ref.url, err)
                continue
            self.seen_files[ref.url] = ref.fingerprint
        return found

    def _product_db(self) -> Path | None:
        cfg = self.config.get("product") or {}
        url = str(cfg.get("url") or "")
        events = ((cfg.get("entities") or {}).get("event") or {}).get("table")
        if cfg.get("kind") != "sql" or not url.startswith("sqlite:///") or events != "events":
            return None  # other databases: the hourly pull only
        path = Path(url[len("sqlite:///") :])
        return path if path.exists() else None

    def _scan_product(self, now: datetime) -> list[dict]:
        db = self._product_db()
        if db is None:
            return []
        if self.last_rowid is None:
            self.last_rowid = 0
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
                rows = conn.execute(
                    "select rowid, event_id, user_id, event_name, occurred_at from events where rowid > ? "
                    "and lower(trim(event_name)) in (?, ?) order by rowid",
                    (self.last_rowid, self.hot.checkout_started, self.hot.checkout_completed),
                ).fetchall()
                top = conn.execute("select coalesce(max(rowid), 0) from events").fetchone()[0]
        except sqlite3.Error as err:  # locked by a writer, or being replaced: next poll
            log.debug("fast lane: product database not readable now: %s", err)
            return []
        self.last_rowid = max(self.last_rowid, top)
        for _, event_id, user_id, name, occurred in rows:
            at = _parse_time(occurred)
            if at is None or not user_id:
                continue
            if _signal(name) == self.hot.checkout_completed:
                open_ = self.open_checkouts.get(user_id, [])
                self.open_checkouts[user_id] = [(t, c) for t, c in open_ if t > at]
                continue
            candidate = {
                "source": "product",
                "signal": "cart_abandon",
                "event_id": event_id,
                "user_id": user_id,
                "occurred_at": occurred,
            }
            self.open_checkouts.setdefault(user_id, []).append((at, candidate))
        due: list[dict] = []
        for user_id, items in list(self.open_checkouts.items()):
            keep = [(at, candidate) for at, candidate in items if at + self.hot.cart_grace > now]
            due.extend(candidate for at, candidate in items if at + self.hot.cart_grace <= now)
            if keep:
                self.open_checkouts[user_id] = keep
            else:
                del self.open_checkouts[user_id]
        return due


def _parse_time(value) -> datetime | None:
    if value is None:
        return None
    try:
        text = str(value).strip().replace("Z", "+00:00")
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def scan_forever(poll_seconds: float = 1.0, limit: float | None = None):  # pragma: no cover - manual use
    """Print candidates as they arrive (``python -m leadflow.fastlane.detect``)."""
    scanner = HotSourceScanner()
    deadline = time.monotonic() + limit if limit else None
    while deadline is None or time.monotonic() < deadline:
        for candidate in scanner.scan():
            print(json.dumps(candidate))
        time.sleep(poll_seconds)


if __name__ == "__main__":  # pragma: no cover
    scan_forever()
