"""What every source shares: the contract's columns, random-draw helpers, date-sharded export files, the
malformed-record schedule, and ``Core``, the state the sources write into and the files written at the end.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import shutil
from collections.abc import Callable
from pathlib import Path

from leadflow.pull.contract import BY_KEY
from leadflow_demo.generator.clock import DAY, HOT_WINDOW, MINUTE, WINDOW_DAYS, iso

# Contract entities the demo does not generate: its visits are web events (raw.web_sessions is for exports
# that carry sessions and time on site).
NOT_GENERATED = ("web.session",)


MALFORMED_EVERY = 200  # one malformed record per ~200 records of each stream (~0.5 %)


# Malformed record kinds, per stream, cycled deterministically (see _Faults).
MALFORMED_KINDS = {
    "crm.lead": ("invalid_email", "control_characters", "missing_primary_key", "duplicate_primary_key",
                 "future_timestamp"),
    "crm.account": ("non_numeric", "duplicate_primary_key"),
    "crm.opportunity": ("non_numeric", "missing_primary_key", "ancient_timestamp"),
    "web.event": ("unparseable_json", "invalid_email", "future_timestamp", "missing_primary_key",
                  "duplicate_primary_key", "control_characters", "ancient_timestamp"),
    "marketing.engagement": ("missing_field", "invalid_email", "duplicate_primary_key", "future_timestamp",
                             "missing_primary_key", "control_characters"),
    "product.user": ("invalid_email", "future_timestamp"),
    "product.event": ("unparseable_json", "future_timestamp", "ancient_timestamp"),
    "product.workspace": ("non_numeric",),
    "conversations.conversation": ("invalid_email", "non_numeric", "unparseable_json", "future_timestamp"),
    "quiz.response": ("missing_field", "non_numeric", "invalid_email", "duplicate_primary_key",
                      "control_characters"),
    "consent.suppression": ("invalid_email", "missing_field", "ancient_timestamp"),
}  # fmt: skip


NON_NUMERIC = ("12 seats", "250 employees", "$5M", "12k", "N/A", "many", "high", "ten")


COLUMNS = {key: list(e.columns) for key, e in BY_KEY.items()}


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


_QUOTE = json.encoder.encode_basestring  # C-accelerated JSON string literal


def _jq(v: str | None) -> str:
    return "null" if v is None else _QUOTE(v)


def _between(r: random.Random, a: int, b: int) -> int:
    return a + int(r.random() * (b - a)) if b > a else a


def _poisson(r: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(r.gauss(lam, math.sqrt(lam)) + 0.5))
    limit, k, prod = math.exp(-lam), 0, r.random()
    while prod > limit:
        k += 1
        prod *= r.random()
    return k


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class _Shards:
    """Date-sharded export files written in any order and sorted by time at the end.

    Rows go to a spill file per shard as ``<11-digit epoch>\\t<line>``; ``finish`` sorts each spill
    (lexicographic = by time, then by content: deterministic) and strips the prefix. Holds at most one
    shard in memory, so millions of events stream through.
    """

    def __init__(self, directory: Path, pattern: str, header: str | None = None) -> None:
        self.directory, self.pattern, self.header = directory, pattern, header
        self.spill = directory / ".spill"
        self.spill.mkdir(parents=True, exist_ok=True)
        self.files: dict[str, io.TextIOWrapper] = {}

    def name(self, shard: str) -> str:
        return self.pattern.format(shard)

    def write(self, shard: str, ts: int, line: str) -> None:
        f = self.files.get(shard)
        if f is None:
            path = self.spill / shard
            f = self.files[shard] = open(path, "w", encoding="utf-8", newline="", buffering=1 << 16)
        f.write(f"{ts:011d}\t{line}\n")

    def finish(self) -> list[str]:
        names = []
        for shard in sorted(self.files):
            self.files[shard].close()
            with open(self.spill / shard, encoding="utf-8", newline="") as f:
                lines = f.read().split("\n")
            lines.pop()  # trailing empty string after the last newline
            lines.sort()
            with open(self.directory / self.name(shard), "w", encoding="utf-8", newline="") as out:
                if self.header is not None:
                    out.write(self.header + "\n")
                out.write("\n".join(line[12:] for line in lines))
                out.write("\n")
            names.append(self.name(shard))
        shutil.rmtree(self.spill)
        return names


def _csv_line(row: list) -> str:
    """One CSV record without line terminator (QUOTE_MINIMAL, like most exports)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(row)
    return buf.getvalue()


class _Faults:
    """Decides deterministically when a stream gets a malformed extra record, and of which kind.

    Every MALFORMED_EVERY-th clean record (the first at MALFORMED_EVERY/4, so small data sets get some)
    triggers one malformed record; the kinds of a stream are used in turn so each kind shows up.
    """

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}
        self.used: dict[str, int] = {}
        self.manifest: list[tuple[str, str, str, str]] = []

    def due(self, stream: str) -> str | None:
        n = self.seen.get(stream, 0) + 1
        self.seen[stream] = n
        if n % MALFORMED_EVERY != MALFORMED_EVERY // 4:
            return None
        k = self.used.get(stream, 0)
        self.used[stream] = k + 1
        kinds = MALFORMED_KINDS[stream]
        return kinds[k % len(kinds)]

    def record(self, entity: str, location: str, key: str | None, kind: str) -> None:
        self.manifest.append((entity, location, key or "", kind))


def _invalid_email(email: str, r: random.Random) -> str:
    local, _, domain = email.strip().lower().partition("@")
    return r.choice((f"{local}@", "not-an-email", f"@{domain}", f"{local} at {domain}", f"{local}@@{domain}"))


def _control(text: str | None, r: random.Random, allow_nul: bool) -> str:
    text = text or "text"
    cut = len(text) // 2
    ctrl = r.choice(("\x00", "\x1b[31m", "\x07") if allow_nul else ("\x1b[31m", "\x07", "\x08"))
    return text[:cut] + ctrl + text[cut:]


# The columns of _truth/leads.csv (one row per CRM lead record; never loaded).
TRUTH_COLUMNS = (
    "lead_id",
    "email",
    "propensity",
    "persona",
    "is_won",
    "is_hot",
    "hot_reasons",
    "duplicate_of",
    "fit",
    "email_domain",
    "is_free_mail",
    "pql_milestone",
    "demo_requested",
    "won_at",
)


class Core:
    """Ids, counts, the malformed-record schedule and the rows of the API and CSV files, for every source.

    Each source module adds its methods in a subclass of ``Core``; ``_Generator`` (the package's ``__init__``)
    combines them, and its ``_lead`` decides the order in which a lead's sources draw from its random generator.
    """

    def __init__(self, out: Path, n: int, seed: int, now: int, progress: Callable[[int, int], None] | None) -> None:
        self.out, self.n, self.seed, self.T, self.progress = out, n, seed, now, progress
        self.start = now - WINDOW_DAYS * DAY
        self.bof_end = now - HOT_WINDOW - MINUTE  # non-hot leads keep bottom-of-funnel actions before this
        self.faults = _Faults()
        self.counts = {key: 0 for key in BY_KEY}
        self.seq: dict[str, int] = {}
        self.n_web = 0  # the web event id counter, kept apart from _id for speed
        self.used_emails: dict[str, int] = {}
        self.truth: list[list] = []
        self.canonical: list[int] = []  # indices into self.truth of non-duplicate leads
        self.crm: dict[str, list[tuple[str, str, str]]] = {"leads": [], "accounts": [], "opportunities": []}
        self.conversations: list[tuple[str, str, str]] = []
        self.quiz_rows: list[tuple[str, str, list]] = []
        self.consent_rows: list[tuple[str, str, list]] = []
        self.consent_keys: dict[tuple[str, str], int] = {}
        self.product_buf: dict[str, list[tuple]] = {"users": [], "events": [], "workspaces": []}

    def _rng(self, stream: int) -> random.Random:
        """Independent generator per lead (stream >= 0) or per global step (-3..-1).

        Per-lead generators keep a lead's data stable when ``leads`` changes. Random(int) seeds from
        abs(int), so the seed is spread into its own 2**40 block instead of mixing signs.
        """
        return random.Random((self.seed << 40) + 16 + stream)

    def _id(self, prefix: str, width: int) -> str:
        k = self.seq.get(prefix, 0) + 1
        self.seq[prefix] = k
        return f"{prefix}{k:0{width}d}"

    def _prepare_dirs(self) -> None:
        for sub in ("crm_api", "conversations_api", "web", "marketing", "product", "quiz", "consent", "_truth"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        # Stale shards from an earlier run with another as_of would otherwise mix into this one.
        for pattern in ("web/events_*.jsonl", "marketing/engagements_*.csv"):
            for stale in sorted(self.out.glob(pattern)):
                stale.unlink()
        for spill in (self.out / "web" / ".spill", self.out / "marketing" / ".spill"):
            shutil.rmtree(spill, ignore_errors=True)

    def _api_row(
        self, rows: list, oid: str, props: dict, created: int, updated: int | None, updated_iso: str | None = None
    ) -> None:
        """One HubSpot CRM v3 object: string property values, createdAt/updatedAt, archived."""
        props = {k: (None if v is None else v if isinstance(v, str) else str(v)) for k, v in props.items()}
        upd = updated_iso or iso(updated)
        obj = {"id": oid, "properties": props, "createdAt": iso(created), "updatedAt": upd, "archived": False}
        rows.append((upd, oid, _ENCODE(obj)))

    def _write_api_files(self) -> None:
        targets = (
            (self.crm["leads"], "crm_api/leads.jsonl"),
            (self.crm["accounts"], "crm_api/accounts.jsonl"),
            (self.crm["opportunities"], "crm_api/opportunities.jsonl"),
            (self.conversations, "conversations_api/conversations.jsonl"),
        )
        for rows, rel in targets:
            rows.sort(key=lambda row: (row[0], row[1]))  # updatedAt, then id (the API's order)
            with open(self.out / rel, "w", encoding="utf-8", newline="") as f:
                for _, _, line in rows:
                    f.write(line)
                    f.write("\n")
            rows.clear()

    def _write_csvs(self) -> None:
        for rows, rel, key in (
            (self.quiz_rows, "quiz/responses.csv", "quiz.response"),
            (self.consent_rows, "consent/suppressions.csv", "consent.suppression"),
        ):
            rows.sort(key=lambda row: (row[0], row[1]))
            with open(self.out / rel, "w", encoding="utf-8", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(COLUMNS[key])
                w.writerows(row for _, _, row in rows)

    def _write_truth(self) -> None:
        with open(self.out / "_truth" / "leads.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(TRUTH_COLUMNS)
            w.writerows(self.truth)
        with open(self.out / "_truth" / "malformed.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(("entity", "location", "key", "kind"))
            w.writerows(sorted(self.faults.manifest))
