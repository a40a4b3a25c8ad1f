"""Deterministic demo data for all seven source systems of the raw contract.

``generate(out_dir, leads, seed, as_of)`` writes a landing zone in the forms the sources really
arrive in (HubSpot-shaped JSONL behind the REST API, daily JSONL analytics exports, weekly CSV
marketing exports, a SQLite application database, quiz and consent CSVs) plus ``_truth/`` files
that the pipeline never loads (hidden propensity, persona, outcome, hot flag, malformed records).

How the data is made, in one paragraph: every lead gets a persona and a hidden propensity
(beta-distributed per persona, scaled by ideal-customer-profile fit). Propensity drives every
behaviour (web depth, pricing views, demo/quote requests, conversations and their topics, quiz
answers, product activation). An opportunity is then drawn from propensity *plus* the buying
signals that actually happened (demo request, PQL milestone, meaningful conversation, strong quiz),
and won with a probability rising steeply with propensity. So good qualification rules measurably
beat bad ones (tire-kickers engage a lot and rarely buy; shallow signups sign up once and leave).
A few % of leads are "hot": a bottom-of-funnel action in the 48 h before ``as_of``; no other lead
has one in that window, so ``_truth/leads.csv:is_hot`` is exact.

Layout of ``out_dir`` (the loaders and ``sources.yml`` depend on it)::

    crm_api/leads.jsonl, accounts.jsonl, opportunities.jsonl   HubSpot v3 objects, sorted by (updatedAt, id):
    conversations_api/conversations.jsonl                        {"id", "properties": {<contract columns>:
                                                                  str|null}, "createdAt", "updatedAt", "archived"}
    web/events_<YYYY-MM-DD>.jsonl        one file per UTC day, contract columns, sorted by occurred_at
    marketing/engagements_<monday>.csv   one file per ISO week (named by its Monday), header = contract columns
    product/app.db                       SQLite: users, events (properties = JSON text), workspaces
    quiz/responses.csv, consent/suppressions.csv
    _truth/leads.csv                     one row per CRM lead record (TRUTH_COLUMNS); never loaded
    _truth/malformed.csv                 every deliberately malformed record: entity, location, key, kind

All timestamps are ISO 8601 UTC with "Z", whole seconds. Clean records lie in the 120 days before
``as_of``; only ``product.workspace.trial_ends_at`` (signup + 14 days) may lie after it.

Determinism: one ``random.Random`` for the global set-up and one per lead (seeded from seed and the
lead's index), sequential ids, sorted outputs, no set iteration or ``hash()``. Same
(leads, seed, as_of) gives byte-identical files.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import math
import random
import shutil
import sqlite3
import time
import unicodedata
from bisect import bisect
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path

import click

from leadflow.pull.contract import BY_KEY

MINUTE = 60
HOUR = 3600
DAY = 86400
WINDOW_DAYS = 120  # all clean activity happens in the WINDOW_DAYS before as_of
# Contract entities the demo does not generate: its visits are web events (raw.web_sessions is for exports
# that carry sessions and time on site).
NOT_GENERATED = ("web.session",)
HOT_WINDOW = 48 * HOUR  # "conversion-qualified (hot)": bottom-of-funnel action in the last 48 h
MALFORMED_EVERY = 200  # one malformed record per ~200 records of each stream (~0.5 %)

SITE = "https://www.leadflow.example"

# -- reference vocabularies (documented in the report; the dbt models may rely on them) ------------

PERSONAS = ("champion", "evaluator", "prospect", "shallow_signup", "tire_kicker", "student", "competitor", "customer")
PERSONA_WEIGHTS = (7, 13, 35, 13, 14, 8, 2, 8)
# Beta(a, b) of the hidden propensity per persona, before the fit multiplier.
PROPENSITY_BETA = {
    "champion": (6.0, 2.5),
    "evaluator": (4.0, 3.0),
    "prospect": (2.0, 5.0),
    "shallow_signup": (1.2, 12.0),
    "tire_kicker": (1.5, 12.0),
    "student": (1.0, 25.0),
    "competitor": (1.0, 60.0),
    "customer": (2.0, 6.0),
}

FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "proton.me")
FREE_MAIL_WEIGHTS = (45, 12, 15, 10, 12, 6)
FREE_MAIL_SHARE = {
    "champion": 0.06,
    "evaluator": 0.14,
    "prospect": 0.22,
    "shallow_signup": 0.45,
    "tire_kicker": 0.40,
    "student": 0.70,
    "competitor": 0.0,
    "customer": 0.0,
}
EDU_DOMAINS = (
    ("Stanford University", "stanford.edu", "US"),
    ("MIT", "mit.edu", "US"),
    ("University of Oxford", "ox.ac.uk", "GB"),
    ("TU Munich", "tum.de", "DE"),
    ("University of Washington", "uw.edu", "US"),
    ("NYU", "nyu.edu", "US"),
    ("UCL", "ucl.ac.uk", "GB"),
    ("University of Toronto", "utoronto.ca", "CA"),
    ("University of Melbourne", "unimelb.edu.au", "AU"),
    ("EPFL", "epfl.ch", "CH"),
)
COMPETITORS = (
    ("ScoreHub", "scorehub.io", "US"),
    ("Qualifyr", "qualifyr.com", "GB"),
    ("LeadLens", "leadlens.ai", "US"),
    ("Funnelwise", "funnelwise.com", "DE"),
    ("PipeRank", "piperank.io", "US"),
)

ICP_INDUSTRIES = ("software", "fintech", "healthcare", "ecommerce")
INDUSTRIES = (*ICP_INDUSTRIES, "education", "government", "manufacturing", "retail", "nonprofit", "media", "agency")
INDUSTRY_WEIGHTS = (22, 10, 9, 10, 5, 3, 9, 7, 4, 6, 8)
INDUSTRY_SUFFIX = {
    "software": ("Labs", "Cloud", "Software", "AI", "Systems", ""),
    "fintech": ("Pay", "Capital", "Ledger", "Finance", "Money"),
    "healthcare": ("Health", "Care", "Medical", "Bio", "Clinics"),
    "ecommerce": ("Shop", "Commerce", "Market", "Goods", "Store"),
    "education": ("Academy", "Learning", "Education"),
    "government": ("Agency", "Council", "Authority"),
    "manufacturing": ("Industries", "Manufacturing", "Works", "Tools"),
    "retail": ("Retail", "Outlet", "Stores"),
    "nonprofit": ("Foundation", "Trust", "Alliance"),
    "media": ("Media", "Studios", "News"),
    "agency": ("Agency", "Partners", "Digital", "Creative"),
}
NAME_A = (
    "Bright", "Blue", "Clear", "North", "Quant", "Nova", "Peak", "Swift", "Iron", "Silver", "Green", "Red",
    "Lumen", "Vector", "Pixel", "Harbor", "Summit", "Cedar", "Atlas", "Orbit", "Flux", "Prism", "Vertex",
    "Echo", "Apex", "Zen", "Core", "True", "Open", "Deep", "Bold", "Kite", "Maple", "Onyx", "Polar", "Sage",
)  # fmt: skip
NAME_B = (
    "path", "stack", "loop", "wave", "forge", "line", "grid", "field", "point", "works", "bit", "leaf",
    "stone", "bridge", "scale", "sight", "spark", "flow", "nest", "mint", "hub", "base", "gate", "way",
    "ly", "io", "ify", "mark", "ware", "sync", "rise", "craft", "lane", "dock", "shift", "beam",
)  # fmt: skip

ICP_COUNTRIES = ("US", "GB", "CA", "DE", "FR", "NL", "SE", "AU", "IE")
COUNTRIES = (*ICP_COUNTRIES, "IN", "BR", "MX", "NG", "ZA", "PL", "ES", "IT", "JP", "SG")
COUNTRY_WEIGHTS = (30, 10, 5, 8, 5, 3, 2, 3, 1, 8, 5, 2, 2, 2, 3, 3, 3, 2, 2)
TLDS = {
    "US": ("com", "io", "co", "ai"),
    "GB": ("co.uk", "com"),
    "CA": ("ca", "com"),
    "DE": ("de", "com"),
    "FR": ("fr",),
    "NL": ("nl",),
    "SE": ("se",),
    "AU": ("com.au",),
    "IE": ("ie",),
    "IN": ("in", "co.in"),
    "BR": ("com.br",),
    "MX": ("com.mx",),
    "NG": ("ng",),
    "ZA": ("co.za",),
    "PL": ("pl",),
    "ES": ("es",),
    "IT": ("it",),
    "JP": ("jp", "co.jp"),
    "SG": ("sg", "com"),
}
# (low, high, weight) employee bands; 51-1000 is the ideal customer profile.
EMPLOYEE_BANDS = ((1, 10, 20), (11, 50, 28), (51, 200, 25), (201, 1000, 17), (1001, 5000, 7), (5001, 50000, 3))

SENIORITIES = ("exec", "head", "director", "manager", "ic", "junior")
TITLES = {
    "exec": ("CEO", "Founder", "VP of Sales", "VP Marketing", "Chief Revenue Officer", "VP Revenue Operations"),
    "head": ("Head of Growth", "Head of Sales", "Head of RevOps", "Head of Demand Generation", "Head of Marketing"),
    "director": ("Director of Sales", "Director of Marketing Operations", "Sales Director", "Director, Growth"),
    "manager": ("Sales Manager", "Marketing Manager", "RevOps Manager", "Growth Manager", "Sr. Demand Gen Manager"),
    "ic": ("Account Executive", "Sales Development Representative", "Marketing Specialist", "Data Engineer", "Software Engineer", "Analyst",
           "Marketing Coordinator", "Consultant"),
    "junior": ("Student", "Intern", "Marketing Intern", "Graduate Student"),
}  # fmt: skip
SENIORITY_FIT = {"exec": 1.0, "head": 1.0, "director": 0.9, "manager": 0.6, "ic": 0.3, "junior": 0.0}
QUIZ_ROLE = {
    "exec": "executive",
    "head": "head_of",
    "director": "director",
    "manager": "manager",
    "ic": "individual_contributor",
    "junior": "student",
}
PERSONA_SENIORITY = {
    "champion": (25, 25, 25, 20, 5, 0),
    "evaluator": (5, 10, 20, 35, 30, 0),
    "prospect": (8, 8, 15, 30, 37, 2),
    "shallow_signup": (3, 3, 7, 22, 55, 10),
    "tire_kicker": (3, 5, 10, 32, 45, 5),
    "student": (0, 0, 0, 0, 10, 90),
    "competitor": (5, 10, 20, 30, 35, 0),
    "customer": (10, 10, 20, 30, 30, 0),
}

FIRST_NAMES = (
    "Jane", "John", "Maria", "Wei", "Aisha", "Carlos", "Emma", "Liam", "Olivia", "Noah", "Sofia", "Lucas",
    "Mia", "Ethan", "Amara", "Kenji", "Priya", "Arjun", "Fatima", "Omar", "Lena", "Jonas", "Chloé", "Mateo",
    "Isabella", "Hugo", "Zoe", "Ravi", "Ana", "Diego", "Sara", "David", "Nina", "Tom", "Elif", "Mehmet",
    "Yuki", "Hana", "Grace", "Daniel", "Ingrid", "Lars", "Freya", "Oscar", "Chen", "Mei", "Tariq", "Leila",
    "Samuel", "Ruth", "Pedro", "Lucía", "Björn", "Astrid", "Kwame", "Ngozi", "Ivan", "Olga", "Marek", "Zofia",
    "Paul", "Claire", "Henry", "Alice", "Jack", "Emily", "Max", "Laura", "Ben", "Julia", "Sam", "Kate",
)  # fmt: skip
LAST_NAMES = (
    "Doe", "Smith", "Garcia", "Zhang", "Khan", "Rossi", "Müller", "Schmidt", "Dubois", "Martin", "Silva",
    "Santos", "Kim", "Lee", "Park", "Nguyen", "Patel", "Sharma", "Singh", "Ali", "Hassan", "Cohen", "Levi",
    "Johansson", "Andersson", "Nielsen", "Jensen", "O'Brien", "Murphy", "Kelly", "Brown", "Wilson", "Taylor",
    "Anderson", "Thomas", "Moore", "Jackson", "White", "Harris", "Clark", "Lewis", "Walker", "Young", "Allen",
    "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter",
    "Phillips", "Evans", "Turner", "Torres", "Parker", "Collins", "Edwards", "Stewart", "Morris", "Murray",
    "Okafor", "Mensah", "Novak", "Kowalski", "Ivanova", "Tanaka", "Sato", "Suzuki", "Yamamoto", "Fernández",
    "López", "Gómez", "Díaz", "Herrera", "Castro", "Weber", "Wagner", "Becker", "Hoffmann", "Fischer",
)  # fmt: skip

# Web channels: (lead_source, referrer, utm_source, utm_campaigns).
CHANNELS = (
    ("direct", None, None, ()),
    ("organic_search", "https://www.google.com/", None, ()),
    ("paid_search", "https://www.google.com/", "google", ("brand_search", "lead_scoring_search", "competitor_terms")),
    ("paid_social", "https://www.linkedin.com/", "linkedin", ("abm_revops", "pql_guide_promo", "webinar_promo")),
    ("email", None, "newsletter", ("newsletter", "nurture")),
    ("referral", "https://www.g2.com/", None, ()),
    ("social", "https://t.co/", "twitter", ("launch_week",)),
)
CHANNEL_WEIGHTS = (18, 30, 14, 12, 8, 8, 10)
BLOG_PAGES = (
    "/blog/lead-scoring-101",
    "/blog/what-is-a-pql",
    "/blog/mql-vs-sql",
    "/blog/speed-to-lead",
    "/blog/bant-in-2026",
    "/blog/reverse-etl-explained",
)
SITE_PAGES = (
    "/",
    "/features",
    "/integrations",
    "/customers",
    "/security",
    "/product/scoring",
    "/product/routing",
    "/docs/getting-started",
    "/about",
    *BLOG_PAGES,
)
# Bottom-of-funnel and buying web events: event_type -> page_path.
ACTION_PATHS = {
    "demo_request": "/demo",
    "quote_request": "/pricing/quote",
    "meeting_request": "/contact-sales",
    "pricing_inquiry": "/pricing/contact",
}
ASSETS = (
    ("lead-scoring-benchmark-2026", "Lead Scoring Benchmark 2026"),
    ("revops-playbook", "The RevOps Playbook"),
    ("pql-field-guide", "PQL Field Guide"),
    ("speed-to-lead-report", "Speed-to-Lead Report"),
    ("icp-worksheet", "ICP Worksheet"),
    ("bant-template", "BANT Qualification Template"),
)
NURTURE_DAYS = (1, 4, 9, 16, 25)
NURTURE_NAMES = (
    "Nurture 1: Welcome",
    "Nurture 2: Scoring basics",
    "Nurture 3: Customer story",
    "Nurture 4: PQL guide",
    "Nurture 5: Book a demo",
)
FEATURES = (
    "lead_scoring",
    "segments",
    "dashboards",
    "crm_sync",
    "alerts",
    "api",
    "exports",
    "playbooks",
    "routing",
    "reports",
)
NEED_TOPICS = ("pricing", "integration", "security", "onboarding", "budget", "timeline", "decision_maker", "use_case")
OWNERS = ("71000101", "71000102", "71000103", "71000104", "71000105", "71000106", "71000107", "71000108")
OPEN_STAGES = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
)

# How likely each persona is to do things (the rest is driven by propensity p, see _Lead methods).
PRODUCT_PROB = {
    "champion": 0.45,
    "evaluator": 0.85,
    "prospect": 0.15,
    "shallow_signup": 1.0,
    "tire_kicker": 0.08,
    "student": 0.35,
    "competitor": 0.3,
    "customer": 0.5,
}
QUIZ_PROB = {
    "champion": 0.35,
    "evaluator": 0.3,
    "prospect": 0.2,
    "shallow_signup": 0.08,
    "tire_kicker": 0.3,
    "student": 0.5,
    "competitor": 0.2,
    "customer": 0.03,
}

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
# Cumulative weights for random.choices (passing plain weights re-accumulates them on every call).
_CUM = {
    values: list(accumulate(weights))
    for values, weights in (
        (INDUSTRIES, INDUSTRY_WEIGHTS),
        (COUNTRIES, COUNTRY_WEIGHTS),
        (PERSONAS, PERSONA_WEIGHTS),
        (FREE_MAIL, FREE_MAIL_WEIGHTS),
        (CHANNELS, CHANNEL_WEIGHTS),
    )
}
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_QUOTE = json.encoder.encode_basestring  # C-accelerated JSON string literal


def _jq(v: str | None) -> str:
    return "null" if v is None else _QUOTE(v)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_CACHE: dict[int, str] = {}


def _day(sec: int) -> str:
    d = sec // DAY
    s = _DAY_CACHE.get(d)
    if s is None:
        s = _DAY_CACHE[d] = (_EPOCH + timedelta(days=d)).strftime("%Y-%m-%d")
    return s


_TIME_OF_DAY = [f"T{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}Z" for s in range(DAY)]


def iso(sec: int) -> str:
    """Epoch seconds -> ``YYYY-MM-DDTHH:MM:SSZ`` (table-built: strftime would be the hot path's bottleneck)."""
    return _day(sec) + _TIME_OF_DAY[sec % DAY]


def _week(sec: int) -> str:
    """Monday of the week holding ``sec``, for weekly marketing export file names."""
    d = sec // DAY
    return _day((d - (d + 3) % 7) * DAY)  # 1970-01-01 was a Thursday


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


def _ascii(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", s).lower() if c.isascii() and c.isalnum())


def _title_case_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return ".".join(p.capitalize() for p in local.split(".")) + "@" + domain.capitalize()


def _messy(email: str, r: random.Random) -> str:
    """How a system stored the address: usually as is, sometimes re-cased or padded with whitespace."""
    x = r.random()
    if x < 0.90:
        return email
    if x < 0.95:
        return _title_case_email(email)
    if x < 0.98:
        return f" {_title_case_email(email)} "
    return email.upper()


def _as_of_seconds(as_of: datetime | None) -> int:
    if as_of is None:
        as_of = datetime.now(UTC).replace(second=0, microsecond=0)
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)  # a naive "present" is taken as UTC
    return int(as_of.astimezone(UTC).timestamp())


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


class _Company:
    __slots__ = ("name", "domain", "industry", "employees", "revenue", "country", "is_customer", "account_id",
                 "pattern", "updated_at", "created_at")  # fmt: skip

    def __init__(self, name: str, domain: str, industry: str, employees: int, country: str) -> None:
        self.name, self.domain, self.industry, self.employees, self.country = name, domain, industry, employees, country
        self.revenue = 0
        self.is_customer = False
        self.account_id: str | None = None
        self.pattern = 0
        self.updated_at = 0
        self.created_at = 0


class _Lead:
    """Everything decided about one person before its records are written."""

    def __init__(self) -> None:
        self.hot_hits: list[str] = []
        self.recent_pricing = 0
        self.user_id: str | None = None
        self.workspace_id: str | None = None
        self.signup = 0
        self.product_events: list[tuple[int, str, dict]] = []
        self.activated = False
        self.pql_t: int | None = None
        self.actions: list[tuple[int, str]] = []
        self.quiz: dict | None = None
        self.convs: list[dict] = []
        self.meaningful_conv_t: int | None = None
        self.opp: dict | None = None
        self.won_at: int | None = None
        self.checkout_abandon_t: int | None = None


class _Generator:
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

    # -- ids ---------------------------------------------------------------------------------------

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

    # -- set-up ------------------------------------------------------------------------------------

    def _prepare_dirs(self) -> None:
        for sub in ("crm_api", "conversations_api", "web", "marketing", "product", "quiz", "consent", "_truth"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        # Stale shards from an earlier run with another as_of would otherwise mix into this one.
        for pattern in ("web/events_*.jsonl", "marketing/engagements_*.csv"):
            for stale in sorted(self.out.glob(pattern)):
                stale.unlink()
        for spill in (self.out / "web" / ".spill", self.out / "marketing" / ".spill"):
            shutil.rmtree(spill, ignore_errors=True)

    def _build_companies(self, r: random.Random) -> None:
        used = set(FREE_MAIL) | {d for _, d, _ in EDU_DOMAINS} | {d for _, d, _ in COMPETITORS}
        n_companies = max(12, int(self.n * 0.75 / 2.4))
        self.companies: list[_Company] = []
        for _ in range(n_companies):
            industry = r.choices(INDUSTRIES, cum_weights=_CUM[INDUSTRIES])[0]
            country = r.choices(COUNTRIES, cum_weights=_CUM[COUNTRIES])[0]
            core = r.choice(NAME_A) + r.choice(NAME_B)
            suffix = r.choice(INDUSTRY_SUFFIX[industry])
            name = f"{core} {suffix}".strip() if suffix else core
            tld = r.choice(TLDS[country])
            base = core.lower()
            domain = f"{base}.{tld}"
            tries = 0
            while domain in used:  # real companies dodge taken domains the same way
                tries += 1
                variant = r.choice(("get", "try", "use", "hq", "app", "labs"))
                stem = f"{variant}{base}" if variant in ("get", "try", "use") else f"{base}{variant}"
                domain = f"{stem}{tries if tries > 3 else ''}.{tld}"
            used.add(domain)
            lo, hi, _ = r.choices(EMPLOYEE_BANDS, [w for _, _, w in EMPLOYEE_BANDS])[0]
            c = _Company(name, domain, industry, _between(r, lo, hi + 1), country)
            c.revenue = round(c.employees * r.uniform(60_000, 300_000), -3)
            c.pattern = r.randrange(4)
            c.is_customer = r.random() < 0.06
            if c.is_customer or r.random() < 0.85:
                c.account_id = self._id("A", 6)
                c.updated_at = _between(r, self.start, self.T)
                c.created_at = c.updated_at - _between(r, 0, 400 * DAY)
            self.companies.append(c)
        self.prospect_companies = [c for c in self.companies if not c.is_customer]
        self.customer_companies = [c for c in self.companies if c.is_customer] or self.companies[:1]
        # Zipf-ish: a few companies hold many leads, most hold one or two.
        self.prospect_cum = list(accumulate(1.0 / (k + 1) ** 0.7 for k in range(len(self.prospect_companies))))

    # -- run ---------------------------------------------------------------------------------------

    def run(self) -> dict[str, int]:
        self._prepare_dirs()
        master = random.Random(self.seed)
        self._build_companies(master)
        self.web = _Shards(self.out / "web", "events_{}.jsonl")
        mcols = COLUMNS["marketing.engagement"]
        self.mkt = _Shards(self.out / "marketing", "engagements_{}.csv", header=_csv_line(mcols))
        first_day = self.start // DAY * DAY
        self.webinars = [first_day + k * 14 * DAY + 9 * DAY + 16 * HOUR for k in range(WINDOW_DAYS // 14 + 1)]
        self.newsletters = [
            d * DAY + 14 * HOUR for d in range(self.start // DAY, self.T // DAY + 1) if (d + 3) % 7 == 1
        ]  # Tuesdays 14:00 UTC
        self._open_db()
        step = max(1, self.n // 10)
        for i in range(self.n):
            self._lead(i)
            if len(self.product_buf["events"]) > 50_000:
                self._flush_db()
            if self.progress and (i + 1) % step == 0:
                self.progress(i + 1, self.n)
        self._anonymous_traffic(self._rng(-3))
        self._extra_suppressions(self._rng(-2))
        self._write_accounts(self._rng(-1))
        self._close_db()
        self.web.finish()
        self.mkt.finish()
        self._write_api_files()
        self._write_csvs()
        self._write_truth()
        return dict(self.counts)

    # -- one lead ----------------------------------------------------------------------------------

    def _lead(self, i: int) -> None:
        r = self._rng(i)
        if self.canonical and r.random() < 0.012:
            self._duplicate_lead(r)
            return
        L = _Lead()
        T = self.T
        L.lead_id = self._id("L", 7)
        persona = r.choices(PERSONAS, cum_weights=_CUM[PERSONAS])[0]
        L.persona = persona

        # Company and e-mail domain.
        L.company = None
        if persona == "customer":
            L.company = r.choice(self.customer_companies)
            L.domain = L.company.domain
        elif persona == "competitor":
            name, domain, country = r.choice(COMPETITORS)
            L.domain, L.company_name, L.country, L.industry, L.employees = domain, name, country, "software", 180
        elif persona == "student" and r.random() < 0.3:
            name, domain, country = r.choice(EDU_DOMAINS)
            L.domain, L.company_name, L.country, L.industry, L.employees = domain, name, country, "education", None
        elif r.random() < FREE_MAIL_SHARE[persona]:
            L.domain = r.choices(FREE_MAIL, cum_weights=_CUM[FREE_MAIL])[0]
        else:
            k = bisect(self.prospect_cum, r.random() * self.prospect_cum[-1])
            L.company = self.prospect_companies[min(k, len(self.prospect_companies) - 1)]
            L.domain = L.company.domain
        L.free_mail = L.domain in FREE_MAIL
        if L.company is not None:
            c = L.company
            L.company_name, L.country, L.industry, L.employees = c.name, c.country, c.industry, c.employees
        elif L.free_mail:
            L.company_name = r.choice((None, None, "Freelance", "Self-employed", r.choice(NAME_A) + r.choice(NAME_B)))
            L.country = r.choices(COUNTRIES, cum_weights=_CUM[COUNTRIES])[0]
            L.industry, L.employees = None, None

        # Person.
        L.seniority = r.choices(SENIORITIES, PERSONA_SENIORITY[persona])[0]
        L.title = r.choice(TITLES[L.seniority])
        L.first, L.last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
        L.email = self._email(r, L)

        # Fit (what an ideal-customer-profile score can see) and the hidden propensity.
        ind = 1.0 if L.industry in ICP_INDUSTRIES else (0.3 if L.industry is None else 0.15)
        emp = L.employees
        size = 0.3 if emp is None else 1.0 if 51 <= emp <= 1000 else 0.6 if 11 <= emp <= 5000 else 0.2
        ctry = 1.0 if L.country in ICP_COUNTRIES else 0.3
        L.fit = 0.3 * SENIORITY_FIT[L.seniority] + 0.2 * ind + 0.2 * size + 0.1 * ctry + 0.2 * (not L.free_mail)
        a, b = PROPENSITY_BETA[persona]
        L.p = p = round(min(0.99, r.betavariate(a, b) * (0.5 + 0.8 * L.fit)), 4)

        # Timeline: first (anonymous) touch, identification (= CRM created_at), end of active interest.
        L.first_touch = F = _between(r, self.start, T - HOUR)
        C = F + min(int(r.expovariate(1 / (2 * DAY))), (T - F) // 3)
        L.active_end = min(T, C + int(DAY * (3 + r.random() * (15 + 90 * p))))
        L.hot_kind = None
        if r.random() < 0.015 + 0.08 * p:
            L.hot_kind = r.choices(
                ("demo_request", "quote_request", "pricing_views", "cart_abandon", "quiz"), (35, 12, 25, 15, 13)
            )[0]
            # A cart only counts as abandoned after a grace period (30 min in the dbt settings).
            soonest = HOUR if L.hot_kind == "cart_abandon" else 10 * MINUTE
            L.hot_t = T - _between(r, soonest, HOT_WINDOW - 30 * MINUTE)
            C = min(C, L.hot_t - _between(r, 5 * MINUTE, 6 * HOUR))
            F = L.first_touch = min(F, C)
            L.active_end = T
        L.created = C
        L.bof_end = T if L.hot_kind else min(L.active_end, self.bof_end)

        # Identification: how the person first left an address (drives lead_source).
        if persona == "shallow_signup":
            L.ident = "signup"
        elif r.random() < QUIZ_PROB[persona] * 0.4:
            L.ident = "quiz"
        else:
            L.ident = r.choices(("content", "newsletter", "webinar", "contact", "signup"), (40, 20, 15, 15, 10))[0]

        self._plan_product(r, L)
        self._plan_actions(r, L)
        self._plan_quiz(r, L)
        self._plan_conversations(r, L)
        self._plan_opportunity(r, L)

        self._emit_web(r, L)
        self._emit_marketing(r, L)
        self._emit_product(r, L)
        self._emit_quiz(r, L)
        self._emit_conversations(r, L)
        self._emit_consent(r, L)
        self._emit_crm(r, L)

        hot = sorted(dict.fromkeys(L.hot_hits))
        self.canonical.append(len(self.truth))
        self.truth.append(
            [
                L.lead_id,
                L.email,
                f"{p:.4f}",
                persona,
                "true" if L.won_at else "false",
                "true" if hot else "false",
                "|".join(hot),
                "",
                f"{L.fit:.3f}",
                L.domain,
                "true" if L.free_mail else "false",
                "true" if L.activated else "false",
                "true" if any(kind == "demo_request" for _, kind in L.actions) else "false",
                iso(L.won_at) if L.won_at else "",
            ]
        )

    def _email(self, r: random.Random, L: _Lead) -> str:
        f, la = _ascii(L.first), _ascii(L.last)
        if L.company is not None:
            local = (f"{f}.{la}", f"{f[0]}{la}", f, f"{f}{la[0]}")[L.company.pattern]
        elif L.free_mail:
            local = r.choice(
                (f"{f}.{la}", f"{f}{la}", f"{f}.{la}{_between(r, 1, 99)}", f"{f[0]}{la}{_between(r, 70, 2005)}")
            )
        else:
            local = f"{f}.{la}"
        email = f"{local}@{L.domain}"
        n = self.used_emails.get(email)
        if n is not None:  # a taken address gets a number, like a second "jane.doe" at a company
            while True:
                n += 1
                candidate = f"{local}{n}@{L.domain}"
                if candidate not in self.used_emails:
                    break
            self.used_emails[email] = n
            email = candidate
        self.used_emails[email] = 1
        return email

    def _duplicate_lead(self, r: random.Random) -> None:
        """A second CRM record for a person already generated (list import, trade-show scan)."""
        orig = self.truth[self.canonical[r.randrange(len(self.canonical))]]
        lead_id = self._id("L", 7)
        email = orig[1]
        crm_email = r.choice((_title_case_email(email), f" {email} ", email.upper(), f"{_title_case_email(email)} "))
        local = email.split("@")[0]
        parts = [p for p in "".join(c for c in local if not c.isdigit()).split(".") if p] or ["Unknown"]
        created = _between(r, self.start, self.T - HOUR)
        props = {
            "lead_id": lead_id,
            "email": crm_email,
            "first_name": parts[0].capitalize(),
            "last_name": parts[-1].capitalize() if len(parts) > 1 else None,
            "title": None,
            "company_name": None,
            "company_domain": None,
            "country": None,
            "lead_source": r.choice(("list_import", "event", "partner")),
            "owner_id": r.choice(OWNERS),
            "status": "NEW",
            "first_touch_at": None,
            "created_at": iso(created),
            "updated_at": iso(created),
        }
        self._crm_row("leads", "crm.lead", lead_id, props, created, created)
        self.truth.append([lead_id, *orig[1:7], orig[0], *orig[8:]])

    # -- planning ----------------------------------------------------------------------------------

    def _plan_product(self, r: random.Random, L: _Lead) -> None:
        persona, p, T = L.persona, L.p, self.T
        if L.hot_kind == "cart_abandon":
            pass
        elif r.random() >= PRODUCT_PROB[persona]:
            return
        L.user_id = self._id("usr_", 7)
        L.workspace_id = self._id("ws_", 7)
        if persona == "shallow_signup" or L.ident == "signup":
            S = L.created
        elif L.hot_kind == "cart_abandon":
            S = _between(r, L.created, L.hot_t - HOUR)
        else:
            S = _between(r, L.created, L.created + (max(L.active_end, L.created) - L.created) // 2)
        S = min(max(S, L.created), T - MINUTE)
        L.signup = S
        ev = L.product_events
        dev = r.choice(("desktop", "desktop", "desktop", "mobile"))
        if persona == "shallow_signup":
            # The defining behaviour: sign up, log in once, never come back.
            ev.append((min(T, S + _between(r, MINUTE, 10 * MINUTE)), "session_started", {"device": dev}))
            L.seats = 1
            return
        act_prob = {
            "champion": 0.3 + 0.5 * p,
            "evaluator": 0.25 + 0.6 * p,
            "prospect": 0.1 + 0.6 * p,
            "customer": 0.6,
        }.get(persona, 0.03)
        L.activated = r.random() < act_prob
        end = T if L.activated else min(T, S + _between(r, DAY, 20 * DAY))
        win_end = min(S + 7 * DAY - 10 * MINUTE, T)
        projects: list[int] = []
        invites: list[int] = []
        if L.activated:
            # The PQL milestone: >= 2 projects and >= 1 teammate invited within 7 days of signup.
            projects = sorted(_between(r, S + MINUTE, win_end) for _ in range(2))
            projects += [_between(r, S, end) for _ in range(_poisson(r, 1 + 2 * p))]
            invites = [_between(r, S + 5 * MINUTE, win_end)]
            invites += [_between(r, S, end) for _ in range(_poisson(r, 0.5 + 1.5 * p))]
            L.pql_t = max(projects[1], invites[0])
        else:
            # Near misses on purpose: projects any time, invites only after the 7-day window.
            projects = [_between(r, S, end) for _ in range(_poisson(r, 0.4 + p))]
            if r.random() < 0.2 and S + 7 * DAY + HOUR < T:
                invites = [_between(r, S + 7 * DAY + HOUR, T)]
        for t in sorted(projects):
            ev.append(
                (
                    t,
                    "project_created",
                    {"project_id": self._id("prj_", 7), "template": r.choice(("blank", "inbound", "plg", "abm"))},
                )
            )
        accepted = 0
        for t in sorted(invites):
            ev.append((t, "teammate_invited", {"role": r.choice(("member", "member", "admin"))}))
            accepted += r.random() < 0.75
        ev.append((min(T, S + _between(r, MINUTE, 10 * MINUTE)), "session_started", {"device": dev}))
        first_weeks = min(S + 14 * DAY, T)  # activated teams use the product hard in their first two weeks
        if L.activated:
            for day in sorted(r.sample(range(1, 14), min(13, 2 + _poisson(r, 1 + 5 * p)))):
                ev.append((min(T, S + day * DAY + _between(r, 0, 10 * HOUR)), "session_started", {"device": dev}))
            later = _poisson(r, 20 * p)
        else:
            later = 1 + _poisson(r, 0.5 + 4 * p)
        for _ in range(later):
            ev.append((_between(r, S, end), "session_started", {"device": dev}))
        breadth = min(len(FEATURES), 2 + sum(r.random() < p for _ in range(6))) if L.activated else _poisson(r, 0.6)
        for feature in r.sample(FEATURES, min(breadth, len(FEATURES))):
            ev.append((_between(r, S, first_weeks if L.activated else end), "feature_used", {"feature": feature}))
            for _ in range(_poisson(r, 1 + 5 * p)):
                ev.append((_between(r, S, end), "feature_used", {"feature": feature}))
        L.seats = 1 + accepted + (_poisson(r, 3) if persona == "customer" else 0)
        if persona != "customer" and r.random() < 0.06 and S + 2 * DAY < self.bof_end:
            # An older abandoned checkout (not hot: outside the 48 h window).
            t = _between(r, S + DAY, self.bof_end)
            ev.append((t, "checkout_started", {"plan": "team", "seats": L.seats}))
        if L.hot_kind == "cart_abandon":
            ev.append((L.hot_t, "checkout_started", {"plan": r.choice(("team", "business")), "seats": L.seats}))
            L.checkout_abandon_t = L.hot_t

    def _plan_actions(self, r: random.Random, L: _Lead) -> None:
        """Buying actions on the website (demo / quote / meeting requests, pricing inquiries)."""
        persona, p = L.persona, L.p
        probs = {
            "demo_request": {"champion": 0.45 + 0.3 * p, "evaluator": 0.15 + 0.3 * p, "prospect": 0.02 + 0.25 * p,
                             "competitor": 0.15}.get(persona, 0.01),
            "quote_request": {"champion": 0.1 + 0.2 * p, "evaluator": 0.04 + 0.1 * p, "prospect": 0.02 * p,
                              "competitor": 0.1}.get(persona, 0.0),
            "meeting_request": {"champion": 0.2, "evaluator": 0.08, "prospect": 0.05 * p}.get(persona, 0.0),
            "pricing_inquiry": {"champion": 0.15, "evaluator": 0.1, "prospect": 0.03 + 0.1 * p,
                                "competitor": 0.2}.get(persona, 0.0),
        }  # fmt: skip
        lo, hi = L.created, L.bof_end if not L.hot_kind else self.bof_end
        for kind, prob in probs.items():
            if hi > lo and r.random() < prob:
                L.actions.append((lo + int((hi - lo) * r.random() ** 0.7), kind))
        if L.hot_kind in ("demo_request", "quote_request"):
            L.actions.append((L.hot_t, L.hot_kind))
        if L.hot_kind == "cart_abandon" and L.user_id is None:
            L.actions.append((L.hot_t, "demo_request"))
        L.actions.sort()

    def _plan_quiz(self, r: random.Random, L: _Lead) -> None:
        persona, p, T = L.persona, L.p, self.T
        if not (L.ident == "quiz" or L.hot_kind == "quiz" or r.random() < QUIZ_PROB[persona]):
            return
        if L.hot_kind == "quiz":
            t = L.hot_t
        elif L.ident == "quiz":
            t = L.created
        else:
            t = _between(r, L.created, max(L.created, L.active_end))
        x = r.random()
        timeline = "this_quarter" if x < 0.05 + 0.6 * p else "this_year" if x < 0.35 + 0.6 * p else "exploring"
        if persona == "student":
            timeline = "exploring"
        score = int(100 * (0.45 * p + 0.35 * L.fit + 0.2 * r.random())) + (10 if timeline == "this_quarter" else 0)
        score = max(0, min(100, score))
        if L.hot_kind == "quiz":
            timeline, score = "this_quarter", max(score, _between(r, 80, 98))
        elif timeline == "this_quarter" and score >= 70 and t > T - HOT_WINDOW:
            # Only designated hot leads have a hot quiz in the last 48 h, whether the rule's threshold
            # is 80 (the brief) or 70 (dbt's hot_quiz_min_score).
            score = 69
        emp = L.employees or 5
        # The quiz asks for company size in the same bands as dbt's company_size_bands; people are
        # sometimes one band off.
        band = 0 if emp <= 10 else 1 if emp <= 50 else 2 if emp <= 200 else 3 if emp <= 1000 else 4
        if r.random() < 0.15:
            band = min(4, max(0, band + r.choice((-1, 1))))
        team = ("1-10", "11-50", "51-200", "201-1000", "1000+")[band]
        if persona == "student":
            team = "1-10"
        budget = "unknown"
        if persona != "student" and r.random() < 0.15 + 0.7 * p:
            budget = "<5k" if emp <= 50 else "5k-20k" if emp <= 200 else "20k-50k" if emp <= 1000 else "50k+"
        use_case = "learning" if persona == "student" else r.choice(
            ("lead_scoring", "lead_routing", "pipeline_analytics", "product_led_sales", "outbound_prospecting")
        )  # fmt: skip
        L.quiz = {
            "response_id": self._id("qr_", 7),
            "email": _messy(L.email, r),
            "submitted_at": t,
            "role": QUIZ_ROLE[L.seniority],
            "team_size": team,
            "current_tooling": r.choice(
                ("spreadsheets", "hubspot", "salesforce", "pipedrive", "marketo", "in_house", "none")
            ),
            "use_case": use_case,
            "timeline": timeline,
            "budget_range": budget,
            "score": score,
        }

    def _plan_conversations(self, r: random.Random, L: _Lead) -> None:
        persona, p, T = L.persona, L.p, self.T
        rate = {"champion": 1.2 + p, "evaluator": 0.8 + p, "prospect": 0.2 + p, "customer": 0.8,
                "tire_kicker": 0.35, "student": 0.3, "competitor": 0.3}.get(persona, 0.1)  # fmt: skip
        for _ in range(_poisson(r, rate)):
            channel = r.choices(("live_chat", "chatbot", "webinar_qna"), (40, 45, 15))[0]
            base = {"live_chat": 1 + 8 * p, "chatbot": 0.5 + 4 * p, "webinar_qna": 0.3 + 2 * p}[channel]
            visitor = 1 + _poisson(r, base)
            agent = max(0 if channel == "webinar_qna" else 1, visitor + r.randint(-1, 2))
            per_msg = {"live_chat": 45, "chatbot": 15, "webinar_qna": 60}[channel]
            duration = visitor * per_msg + _between(r, 20, 240)
            t = _between(r, L.created, max(L.created, L.active_end - duration))
            t = min(t, T - duration - MINUTE)
            q = 0.04 + (0.45 if persona in ("champion", "evaluator") else 0.3) * p
            topics = [topic for topic in NEED_TOPICS if r.random() < q]
            if persona == "customer" or r.random() < 0.12:
                topics.append("support")
            if persona == "student" and r.random() < 0.6 or persona == "tire_kicker" and r.random() < 0.15:
                topics.append("careers")
            need = any(topic in NEED_TOPICS for topic in topics)
            meaningful = need and (visitor >= 4 or duration >= 5 * MINUTE)
            if meaningful and r.random() < 0.25 + 0.5 * p:
                outcome = r.choice(("demo_booked", "meeting_booked"))
            elif "careers" in topics:
                outcome = "unqualified"
            else:
                outcome = r.choice(("resolved", "resolved", "no_response", "handed_off"))
            if meaningful and persona != "customer":  # a customer's support chat is no buying signal
                L.meaningful_conv_t = min(t, L.meaningful_conv_t or t)
            L.convs.append(self._conversation(r, L, channel, t, duration, visitor, agent, topics, outcome))

    def _conversation(self, r, L, channel, t, duration, visitor, agent, topics, outcome) -> dict:
        ended = t + duration
        return {
            "conversation_id": self._id("C", 7),
            "email": _messy(L.email, r),
            "channel": channel,
            "started_at": t,
            "ended_at": ended,
            "visitor_message_count": visitor,
            "agent_message_count": agent,
            "topics": topics,
            "outcome": outcome,
            "updated_at": min(self.T, ended + _between(r, 0, 2 * HOUR)),
        }

    def _plan_opportunity(self, r: random.Random, L: _Lead) -> None:
        """Opportunities follow propensity *and* the buying signals that actually happened."""
        persona, p, T = L.persona, L.p, self.T
        if persona in ("customer", "competitor"):
            return
        demo = next((t for t, kind in L.actions if kind in ("demo_request", "meeting_request")), None)
        other = next((t for t, kind in L.actions if kind in ("quote_request", "pricing_inquiry")), None)
        quiz_good = L.quiz is not None and L.quiz["timeline"] == "this_quarter" and L.quiz["score"] >= 70
        signals = [t for t in (demo, other, L.pql_t, L.meaningful_conv_t) if t is not None]
        logit = -3.6 + 4.0 * p + 1.6 * (demo is not None) + 1.3 * (L.pql_t is not None)
        logit += 0.8 * (L.meaningful_conv_t is not None) + 0.6 * quiz_good + 0.4 * (other is not None)
        if persona == "student":
            logit -= 3
        if r.random() >= _sigmoid(logit):
            return
        base = min(signals) if signals else _between(r, L.created, max(L.created, L.active_end))
        created = base + _between(r, 12 * HOUR, 6 * DAY)
        if created > T:
            return  # sales has not got to it yet
        p_win = min(0.95, 0.06 + 0.8 * p + 0.12 * (L.pql_t is not None) + 0.08 * (demo is not None))
        won = r.random() < p_win
        self_serve = won and L.activated and r.random() < 0.5
        if self_serve:
            closed = created
        else:
            # Wins close within ~45 days so they land inside the pipeline's conversion windows (60-90 days).
            closed = created + (_between(r, 7 * DAY, 45 * DAY) if won else _between(r, 10 * DAY, 75 * DAY))
        seats = max(getattr(L, "seats", 1), 3 + _poisson(r, (L.employees or 10) ** 0.5 / 3))
        amount = int(seats * 600 * r.choice((1, 1, 2, 3)))
        opp = {
            "opportunity_id": self._id("O", 7),
            "account_id": L.company.account_id if L.company is not None else None,
            "lead_id": L.lead_id,
            "email": L.email,
            "stage": None,
            "amount": amount,
            "created_at": created,
            "closed_at": None,
            "is_won": False,
            "updated_at": created,
        }
        x = r.random()
        if x < 0.15:
            opp["lead_id"] = None  # "lead_id or email": some deals only carry the contact's address
        elif x < 0.2:
            opp["email"] = None
        if closed <= T:
            opp.update(stage="closedwon" if won else "closedlost", closed_at=closed, is_won=won, updated_at=closed)
            if won:
                L.won_at = closed
        else:
            k = min(len(OPEN_STAGES) - 1, int((T - created) / (closed - created) * len(OPEN_STAGES)))
            opp.update(stage=OPEN_STAGES[k], updated_at=_between(r, created, T))
        L.opp = opp
        if self_serve and closed <= T:
            plan = r.choice(("team", "business"))
            t0 = min(closed, T - HOUR)
            L.product_events.append((t0, "checkout_started", {"plan": plan, "seats": L.seats}))
            L.product_events.append(
                (
                    t0 + _between(r, 2 * MINUTE, 20 * MINUTE),
                    "checkout_completed",
                    {"plan": plan, "seats": L.seats, "amount": amount},
                )
            )
            L.product_events.append((t0 + 25 * MINUTE, "plan_upgraded", {"from": "trial", "to": plan}))
            L.upgraded = (t0 + 25 * MINUTE, plan)
        # Sales calls happen once a deal exists; they are conversations too.
        for _ in range(_poisson(r, 1.0 + p)):
            hi = min(T, opp["closed_at"] or T) - HOUR
            if hi <= created:
                break
            t = _between(r, created, hi)
            duration = _between(r, 20 * MINUTE, 50 * MINUTE)
            topics = sorted(
                r.sample(("pricing", "budget", "timeline", "decision_maker", "use_case", "security"), r.randint(2, 4))
            )
            outcome = r.choice(("next_steps", "quote_requested", "no_decision"))
            L.convs.append(
                self._conversation(
                    r, L, "sales_call", t, duration, _between(r, 10, 60), _between(r, 10, 60), topics, outcome
                )
            )

    # -- emitting ----------------------------------------------------------------------------------

    def _emit_web(self, r: random.Random, L: _Lead) -> None:
        p, T, persona = L.p, self.T, L.persona
        L.anon = f"anon_{r.getrandbits(64):016x}"
        L.web_email = _messy(L.email, r)
        recent = T - HOT_WINDOW
        lam = {"tire_kicker": 2.0, "student": 1.5, "shallow_signup": 0.8, "competitor": 4.0, "customer": 2.5}
        n_sessions = _poisson(r, lam.get(persona, 0.5 + 9 * p))
        pricing_prob = (
            0.5 if persona == "competitor" else 0.03 if persona in ("tire_kicker", "student") else 0.04 + 0.4 * p
        )
        depth = 0.6 + 3 * p if persona not in ("tire_kicker", "competitor") else 2.0
        first_channel = r.choices(CHANNELS, cum_weights=_CUM[CHANNELS])[0]
        L.lead_source = first_channel[0]
        sessions = [(L.first_touch, first_channel, None)]
        sessions += [(_between(r, L.first_touch, L.active_end), None, None) for _ in range(n_sessions)]
        # The identification session ends with the form that gave us the address.
        ident_path = {
            "signup": "/signup",
            "quiz": "/quiz/results",
            "content": None,
            "newsletter": "/newsletter",
            "webinar": None,
            "contact": "/contact",
        }[L.ident]
        if L.ident == "content":
            L.ident_asset = r.choice(ASSETS)
            ident_path = f"/resources/{L.ident_asset[0]}"
        elif L.ident == "webinar":
            ident_path = "/webinars/register"
        # Pages before the form are still anonymous; the form itself is the identification (created_at).
        sessions.append((L.created - _between(r, 2 * MINUTE, 15 * MINUTE), None, ("form_fill", ident_path, L.created)))
        for t, kind in L.actions:
            sessions.append((t - _between(r, MINUTE, 10 * MINUTE), None, (kind, ACTION_PATHS[kind], t)))
        if L.hot_kind == "pricing_views":
            for _ in range(r.randint(1, 2)):
                sessions.append(
                    (_between(r, max(recent + HOUR, L.created), T - 20 * MINUTE), None, ("pricing_burst", None))
                )
        sessions.sort(key=lambda s: s[0])
        for t, channel, final in sessions:
            if channel is None:
                channel = r.choices(CHANNELS, cum_weights=_CUM[CHANNELS])[0]
            _, ref, usrc, camps = channel
            camp = r.choice(camps) if camps else None
            if t < L.first_touch:
                t = L.first_touch
            known = t >= L.created
            pages = 1 + _poisson(r, depth)
            if final is not None and final[0] == "pricing_burst":
                for k in range(r.randint(3, 4)):
                    t = min(T, t + _between(r, 20, 300))
                    self._web(
                        r,
                        L,
                        t,
                        "pricing_view",
                        "/pricing",
                        ref if k == 0 else f"{SITE}/",
                        usrc if k == 0 else None,
                        camp if k == 0 else None,
                        True,
                    )
                continue
            if usrc == "newsletter" or (ref is None and not known):
                path = r.choice(BLOG_PAGES) if usrc else "/"
            elif ref and "google" in ref and usrc is None:
                path = r.choice(BLOG_PAGES)
            else:
                path = r.choice(("/", "/product/scoring", "/features"))
            prev = None
            last_t = T if final is None else (final[2] if len(final) > 2 else T)
            for k in range(pages):
                if k:
                    t += _between(r, 20, 200)
                    if r.random() < pricing_prob and path != "/pricing":
                        path = "/pricing"
                    else:
                        path = r.choice(SITE_PAGES) if persona != "student" or r.random() < 0.7 else "/careers"
                if t > min(T, last_t):
                    break
                etype = "page_view"
                known = t >= L.created
                if path == "/pricing":
                    # Keep non-hot leads below the ">= 3 pricing views in 48 h" hot threshold.
                    if known and t > recent and not L.hot_kind:
                        if L.recent_pricing >= 2:
                            path = "/features"
                        else:
                            L.recent_pricing += 1
                    etype = "pricing_view" if path == "/pricing" else "page_view"
                self._web(
                    r,
                    L,
                    t,
                    etype,
                    path,
                    f"{SITE}{prev}" if prev else ref,
                    None if prev else usrc,
                    None if prev else camp,
                    known,
                )
                prev = path
            if final is not None:
                kind, path = final[0], final[1]
                t = final[2] if len(final) > 2 else max(t + _between(r, 20, 120), L.created)
                t = min(max(t, L.created), T)
                self._web(
                    r,
                    L,
                    t,
                    kind,
                    path,
                    f"{SITE}{prev}" if prev else ref,
                    None if prev else usrc,
                    None if prev else camp,
                    True,
                )

    def _web(self, r, L, t, etype, path, ref, usrc, camp, known) -> None:
        """Write one web event (and, every so often, a malformed sibling of it)."""
        self.n_web += 1
        event_id = f"wev_{self.n_web:09d}"
        email = L.web_email if known else None
        user_id = L.user_id if known and L.user_id and t >= L.signup else None
        occurred = iso(t)
        # Hand-built JSON (same bytes as json.dumps with compact separators): this runs millions of times.
        line = (
            f'{{"event_id":"{event_id}","anonymous_id":"{L.anon}","email":{_jq(email)},"user_id":{_jq(user_id)},'
            f'"event_type":"{etype}","page_path":{_QUOTE(path)},"referrer":{_jq(ref)},"utm_source":{_jq(usrc)},'
            f'"utm_campaign":{_jq(camp)},"occurred_at":"{occurred}"}}'
        )
        day = occurred[:10]
        self.web.write(day, t, line)
        self.counts["web.event"] += 1
        if known and t > self.T - HOT_WINDOW:
            if etype in ("demo_request", "quote_request"):
                L.hot_hits.append(etype)
            elif etype == "pricing_view":
                L.pricing_hot = getattr(L, "pricing_hot", 0) + 1
                if L.pricing_hot >= 3:
                    L.hot_hits.append("pricing_views")
        kind = self.faults.due("web.event")
        if kind:
            rec = {
                "event_id": event_id,
                "anonymous_id": L.anon,
                "email": email,
                "user_id": user_id,
                "event_type": etype,
                "page_path": path,
                "referrer": ref,
                "utm_source": usrc,
                "utm_campaign": camp,
                "occurred_at": occurred,
            }
            self._web_fault(r, kind, rec, t, day)

    def _web_fault(self, r: random.Random, kind: str, rec: dict, t: int, day: str) -> None:
        bad = dict(rec)
        if kind != "duplicate_primary_key":
            self.n_web += 1
            bad["event_id"] = f"wev_{self.n_web:09d}"
            # A plain page view, so that a loader which lets it through does not change anyone's intent.
            if bad["event_type"] != "page_view":
                bad["event_type"], bad["page_path"] = "page_view", "/features"
        key = bad["event_id"]
        if kind == "invalid_email":
            bad["email"] = _invalid_email(rec["email"] or "visitor@example.com", r)
        elif kind == "future_timestamp":
            bad["occurred_at"] = iso(self.T + _between(r, 2 * DAY, 400 * DAY))
        elif kind == "ancient_timestamp":
            bad["occurred_at"] = r.choice(("1970-01-01T00:00:00Z", "1999-12-31T23:59:59Z"))
        elif kind == "missing_primary_key":
            del bad["event_id"]
            key = ""
        elif kind == "duplicate_primary_key":
            bad["referrer"] = "https://duplicate.example/"  # same id, conflicting content
        elif kind == "control_characters":
            bad["page_path"] = _control(rec["page_path"], r, allow_nul=True)
        line = _ENCODE(bad)
        if kind == "unparseable_json":
            line = line[: max(20, len(line) * 2 // 3)]  # a truncated write
        self.web.write(day, t, line)
        self.counts["web.event"] += 1
        self.faults.record("web.event", f"web/{self.web.name(day)}", key, kind)

    def _emit_marketing(self, r: random.Random, L: _Lead) -> None:
        persona, p, T, C = L.persona, L.p, self.T, L.created
        L.mkt_email = _messy(L.email, r)
        # Consent state decides what marketing can still reach.
        L.bounced = r.random() < 0.015
        L.unsub_t = None
        if r.random() < (0.08 if persona in ("tire_kicker", "student") else 0.04):
            L.unsub_t = _between(r, C, T)
        p_open = {"tire_kicker": 0.55, "student": 0.25, "customer": 0.3, "competitor": 0.2,
                  "shallow_signup": 0.1}.get(persona, 0.12 + 0.35 * p)  # fmt: skip
        p_click = 0.4 if persona == "tire_kicker" else 0.15 + 0.3 * p
        sends = [
            (C + d * DAY + _between(r, 0, 4 * HOUR), name) for d, name in zip(NURTURE_DAYS, NURTURE_NAMES, strict=True)
        ]
        sends += [(s, f"Newsletter {_day(s)}") for s in self.newsletters if s > C]
        if not L.bounced:
            for s, name in sends:
                if s > T or (L.unsub_t is not None and s > L.unsub_t):
                    continue
                if r.random() < p_open:
                    t = s + min(int(r.expovariate(1 / (3 * HOUR))), 5 * DAY)
                    if t <= T:
                        self._mkt(r, L, t, "email", "email_open", name)
                        if r.random() < p_click:
                            t2 = t + _between(r, 30, 900)
                            if t2 <= T:
                                self._mkt(r, L, t2, "email", "email_click", name)
        # The identification form shows up in marketing automation too.
        if L.ident == "content":
            self._mkt(r, L, C, "website", "content_download", L.ident_asset[1])
        elif L.ident == "newsletter":
            self._mkt(r, L, C, "website", "newsletter_subscribed", "Newsletter")
        downloads = {"tire_kicker": 4.0, "student": 1.5, "competitor": 1.0}.get(persona, 0.3 + 1.2 * p)
        for _ in range(_poisson(r, downloads)):
            slug, title = r.choice(ASSETS)
            t = _between(r, C, L.active_end)
            self._mkt(r, L, t, "website", "content_download", title)
            self._web(r, L, t, "form_fill", f"/resources/{slug}", None, None, None, True)
        if L.ident != "newsletter" and r.random() < (0.7 if persona == "tire_kicker" else 0.25):
            self._mkt(r, L, _between(r, C, L.active_end), "website", "newsletter_subscribed", "Newsletter")
        p_reg = 0.3 if persona == "tire_kicker" else 0.03 + 0.1 * p
        for w in self.webinars:
            registered = L.ident == "webinar" and w > C and not getattr(L, "ident_webinar_done", False)
            if registered:
                L.ident_webinar_done = True
            if w <= C or not (registered or r.random() < p_reg):
                continue
            name = f"Webinar {_day(w)}: Qualifying leads with dbt"
            t_reg = C if registered else _between(r, max(C, w - 10 * DAY), w - HOUR)
            if t_reg > T:
                continue
            self._mkt(r, L, t_reg, "webinar", "webinar_registered", name)
            if w <= T and r.random() < 0.45 + 0.2 * p:
                self._mkt(r, L, w + _between(r, 0, 10 * MINUTE), "webinar", "webinar_attended", name)

    def _mkt(self, r: random.Random, L: _Lead, t: int, channel: str, action: str, asset: str) -> None:
        row = [self._id("mkt_", 9), L.mkt_email, channel, action, asset, iso(t)]
        week = _week(t)
        self.mkt.write(week, t, _csv_line(row))
        self.counts["marketing.engagement"] += 1
        kind = self.faults.due("marketing.engagement")
        if not kind:
            return
        bad = list(row)
        if kind != "duplicate_primary_key":
            bad[0] = self._id("mkt_", 9)
        key = bad[0]
        if kind == "missing_field":
            bad = bad[:-1]  # a row cut short: occurred_at missing
        elif kind == "invalid_email":
            bad[1] = _invalid_email(L.email, r)
        elif kind == "duplicate_primary_key":
            bad[4] = f"{asset} (resend)"
        elif kind == "future_timestamp":
            bad[5] = iso(self.T + _between(r, 2 * DAY, 400 * DAY))
        elif kind == "missing_primary_key":
            bad[0], key = "", ""
        elif kind == "control_characters":
            bad[4] = _control(asset, r, allow_nul=False)
        self.mkt.write(week, t, _csv_line(bad))
        self.counts["marketing.engagement"] += 1
        self.faults.record("marketing.engagement", f"marketing/{self.mkt.name(week)}", key, kind)

    def _emit_product(self, r: random.Random, L: _Lead) -> None:
        if L.user_id is None:
            return
        T, S = self.T, L.signup
        events = sorted(L.product_events, key=lambda e: (e[0], e[1]))
        upgraded = getattr(L, "upgraded", None)
        plan = (
            "business"
            if L.persona == "customer"
            else upgraded[1]
            if upgraded
            else "trial"
            if S + 14 * DAY > T
            else "free"
        )
        ws_updated = max([S] + [t for t, name, _ in events if name in ("teammate_invited", "plan_upgraded")])
        user_updated = upgraded[0] if upgraded else (S + 14 * DAY if plan == "free" else S)
        buf = self.product_buf
        buf["workspaces"].append((L.workspace_id, L.seats, plan, iso(S + 14 * DAY), iso(min(ws_updated, T))))
        buf["users"].append((L.user_id, _messy(L.email, r), L.workspace_id, iso(S), plan, iso(min(user_updated, T))))
        self.counts["product.workspace"] += 1
        self.counts["product.user"] += 1
        completed = [t for t, name, _ in events if name == "checkout_completed"]
        for t, name, props in events:
            t = min(t, T)
            eid = self._id("pev_", 9)
            buf["events"].append((eid, L.user_id, L.workspace_id, name, _ENCODE(props), iso(t)))
            self.counts["product.event"] += 1
            if name == "checkout_started" and t > T - HOT_WINDOW and not any(c >= t for c in completed):
                L.hot_hits.append("cart_abandon")
            kind = self.faults.due("product.event")
            if kind:
                bad_id = self._id("pev_", 9)
                props_text, when = _ENCODE(props), iso(t)
                if kind == "unparseable_json":
                    props_text = props_text[:-1] if len(props_text) > 2 else "{'feature': 'api'}"
                elif kind == "future_timestamp":
                    when = iso(T + _between(r, 2 * DAY, 400 * DAY))
                else:
                    when = r.choice(("1970-01-01T00:00:00Z", "1999-12-31T23:59:59Z"))
                buf["events"].append((bad_id, L.user_id, L.workspace_id, name, props_text, when))
                self.counts["product.event"] += 1
                self.faults.record("product.event", "product/app.db#events", bad_id, kind)
        if kind := self.faults.due("product.user"):
            bad_id = self._id("usr_", 7)
            if kind == "invalid_email":
                bad = (bad_id, _invalid_email(L.email, r), L.workspace_id, iso(S), plan, iso(S))
            else:
                bad = (bad_id, L.email, L.workspace_id, iso(T + _between(r, 2 * DAY, 400 * DAY)), plan, iso(S))
            buf["users"].append(bad)
            self.counts["product.user"] += 1
            self.faults.record("product.user", "product/app.db#users", bad_id, kind)
        if self.faults.due("product.workspace"):
            bad_id = self._id("ws_", 7)
            buf["workspaces"].append((bad_id, r.choice(("12 seats", "ten", "N/A")), plan, iso(S + 14 * DAY), iso(S)))
            self.counts["product.workspace"] += 1
            self.faults.record("product.workspace", "product/app.db#workspaces", bad_id, "non_numeric")

    def _emit_quiz(self, r: random.Random, L: _Lead) -> None:
        q = L.quiz
        if q is None:
            return
        t = q["submitted_at"]
        if L.hot_kind == "quiz" or (q["timeline"] == "this_quarter" and q["score"] >= 80 and t > self.T - HOT_WINDOW):
            L.hot_hits.append("quiz")
        row = [q[c] if c != "submitted_at" else iso(t) for c in COLUMNS["quiz.response"]]
        row = [str(v) for v in row]
        self.quiz_rows.append((row[2], row[0], row))
        self.counts["quiz.response"] += 1
        kind = self.faults.due("quiz.response")
        if not kind:
            return
        bad = list(row)
        if kind != "duplicate_primary_key":
            bad[0] = self._id("qr_", 7)
        if kind == "missing_field":
            bad = bad[:-2]
        elif kind == "non_numeric":
            bad[9] = r.choice(("high", "N/A", "eighty"))
        elif kind == "invalid_email":
            bad[1] = _invalid_email(L.email, r)
        elif kind == "duplicate_primary_key":
            bad[5] = "spreadsheets"  # resubmitted with another answer under the same id
        elif kind == "control_characters":
            bad[5] = _control(bad[5], r, allow_nul=False)
        self.quiz_rows.append((row[2], bad[0], bad))
        self.counts["quiz.response"] += 1
        self.faults.record("quiz.response", "quiz/responses.csv", bad[0], kind)

    def _emit_conversations(self, r: random.Random, L: _Lead) -> None:
        cols = COLUMNS["conversations.conversation"]
        for conv in L.convs:
            props = {c: conv[c] for c in cols}
            for c in ("started_at", "ended_at", "updated_at"):
                props[c] = iso(conv[c])
            for c in ("visitor_message_count", "agent_message_count"):
                props[c] = str(conv[c])
            props["topics"] = json.dumps(conv["topics"])
            self._api_row(self.conversations, props["conversation_id"], props, conv["started_at"], conv["updated_at"])
            self.counts["conversations.conversation"] += 1
            kind = self.faults.due("conversations.conversation")
            if not kind:
                continue
            bad = dict(props)
            bad["conversation_id"] = self._id("C", 7)
            if kind == "invalid_email":
                bad["email"] = _invalid_email(L.email, r)
            elif kind == "non_numeric":
                bad["visitor_message_count"] = r.choice(("12 messages", "many", "N/A"))
            elif kind == "unparseable_json":
                bad["topics"] = "[pricing, integration"
            else:
                bad["updated_at"] = iso(self.T + _between(r, 2 * DAY, 400 * DAY))
            self._api_row(self.conversations, bad["conversation_id"], bad, conv["started_at"], None, bad["updated_at"])
            self.counts["conversations.conversation"] += 1
            self.faults.record(
                "conversations.conversation", "conversations_api/conversations.jsonl", bad["conversation_id"], kind
            )

    def _emit_consent(self, r: random.Random, L: _Lead) -> None:
        reasons = []
        if L.persona == "customer":
            reasons.append(("customer", _between(r, self.start, self.T)))
        if L.persona == "competitor":
            reasons.append(("competitor", _between(r, L.created, self.T)))
        if L.unsub_t is not None:
            reasons.append(("unsubscribed", L.unsub_t))
        if L.bounced:
            reasons.append(("bounced", min(self.T, L.created + _between(r, HOUR, 5 * DAY))))
        if r.random() < 0.01:
            reasons.append(("do_not_contact", _between(r, L.created, self.T)))
        for reason, t in reasons:
            self._suppression(r, _messy(L.email, r), reason, t)

    def _suppression(self, r: random.Random, email: str, reason: str, t: int) -> None:
        key = (email.strip().lower(), reason)
        if key in self.consent_keys:
            return
        self.consent_keys[key] = 1
        row = [email, reason, iso(t)]
        self.consent_rows.append((row[2], email, row))
        self.counts["consent.suppression"] += 1
        kind = self.faults.due("consent.suppression")
        if not kind:
            return
        if kind == "invalid_email":
            bad = [_invalid_email(email, r), reason, iso(t)]
        elif kind == "missing_field":
            bad = [email, reason]
        else:
            other = "do_not_contact" if reason != "do_not_contact" else "bounced"
            if (key[0], other) in self.consent_keys:
                return
            self.consent_keys[(key[0], other)] = 1
            bad = [email, other, "1999-12-31T23:59:59Z"]
        self.consent_rows.append((row[2], bad[0], bad))
        self.counts["consent.suppression"] += 1
        self.faults.record("consent.suppression", "consent/suppressions.csv", bad[0], kind)

    def _emit_crm(self, r: random.Random, L: _Lead) -> None:
        T, persona = self.T, L.persona
        lead_source = L.lead_source
        if L.ident == "signup":
            lead_source = "product_signup"
        elif L.ident == "quiz":
            lead_source = "quiz"
        elif r.random() < 0.08:
            lead_source = r.choice(("event", "outbound", "partner"))
        if L.opp is not None:
            status = (
                "OPEN_DEAL"
                if L.opp["is_won"] or L.opp["closed_at"] is None
                else r.choice(("UNQUALIFIED", "BAD_TIMING"))
            )
        elif persona in ("student", "competitor"):
            status = r.choice(("UNQUALIFIED", "NEW"))
        else:
            status = r.choices(
                ("NEW", "OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT", "CONNECTED"), (35, 20, 15, 20, 10)
            )[0]
        updated = max(L.created, _between(r, L.created, min(T, L.active_end)))
        if L.opp is not None:
            updated = max(updated, L.opp["created_at"])
        title = L.title
        x = r.random()
        if x < 0.05:
            title = title.lower()
        elif x < 0.08:
            title = None
        crm_email = L.email if r.random() < 0.93 else _title_case_email(L.email)
        domain = None if L.free_mail else L.domain
        if domain and r.random() < 0.1:
            domain = None  # the CRM often lacks the domain; the e-mail still has it
        props = {
            "lead_id": L.lead_id,
            "email": crm_email,
            "first_name": L.first,
            "last_name": L.last,
            "title": title,
            "company_name": L.company_name,
            "company_domain": domain,
            "country": L.country,
            "lead_source": lead_source,
            "owner_id": r.choice(OWNERS) if r.random() < 0.9 else None,
            "status": status,
            "first_touch_at": iso(L.first_touch),
            "created_at": iso(L.created),
            "updated_at": iso(updated),
        }
        self._crm_row("leads", "crm.lead", L.lead_id, props, L.created, updated)
        kind = self.faults.due("crm.lead")
        if kind:
            bad = dict(props)
            bad_id = L.lead_id if kind == "duplicate_primary_key" else self._id("L", 7)
            bad["lead_id"] = bad_id
            created, upd = L.created, updated
            if kind == "invalid_email":
                bad["email"] = _invalid_email(L.email, r)
            elif kind == "control_characters":
                bad["first_name"] = _control(L.first, r, allow_nul=True)
            elif kind == "missing_primary_key":
                bad["lead_id"] = bad_id = None
            elif kind == "duplicate_primary_key":
                bad["status"] = "UNQUALIFIED"  # a conflicting copy under the same id
                bad["owner_id"] = None
            elif kind == "future_timestamp":
                upd = T + _between(r, 2 * DAY, 400 * DAY)
                bad["updated_at"] = iso(upd)
            self._crm_row("leads", "crm.lead", bad_id or "", bad, created, upd)
            self.faults.record("crm.lead", "crm_api/leads.jsonl", bad_id, kind)
        if L.opp is not None:
            self._emit_opportunity(r, L.opp)

    def _emit_opportunity(self, r: random.Random, opp: dict) -> None:
        props = {c: opp[c] for c in COLUMNS["crm.opportunity"]}
        for c in ("created_at", "closed_at", "updated_at"):
            props[c] = iso(opp[c]) if opp[c] is not None else None
        props["amount"] = str(opp["amount"])
        props["is_won"] = "true" if opp["is_won"] else "false"
        oid = opp["opportunity_id"]
        self._crm_row("opportunities", "crm.opportunity", oid, props, opp["created_at"], opp["updated_at"])
        kind = self.faults.due("crm.opportunity")
        if kind:
            bad = dict(props)
            bad_id = self._id("O", 7)
            bad["opportunity_id"] = bad_id
            if kind == "non_numeric":
                bad["amount"] = r.choice(("12k", "$5M", "N/A"))
            elif kind == "missing_primary_key":
                bad["opportunity_id"] = bad_id = None
            else:
                bad["created_at"] = "1999-12-31T23:59:59Z"
            self._crm_row("opportunities", "crm.opportunity", bad_id or "", bad, opp["created_at"], opp["updated_at"])
            self.faults.record("crm.opportunity", "crm_api/opportunities.jsonl", bad_id, kind)

    def _crm_row(self, obj: str, key: str, oid: str, props: dict, created: int, updated: int) -> None:
        self._api_row(self.crm[obj], oid, props, created, updated)
        self.counts[key] += 1

    def _api_row(
        self, rows: list, oid: str, props: dict, created: int, updated: int | None, updated_iso: str | None = None
    ) -> None:
        """One HubSpot CRM v3 object: string property values, createdAt/updatedAt, archived."""
        props = {k: (None if v is None else v if isinstance(v, str) else str(v)) for k, v in props.items()}
        upd = updated_iso or iso(updated)
        obj = {"id": oid, "properties": props, "createdAt": iso(created), "updatedAt": upd, "archived": False}
        rows.append((upd, oid, _ENCODE(obj)))

    # -- the rest of the world -----------------------------------------------------------------------

    def _anonymous_traffic(self, r: random.Random) -> None:
        """Visitors who never identify themselves: anonymous_id only, never an e-mail."""

        class _Anon:
            user_id = None
            web_email = None
            signup = 0
            hot_hits: list[str] = []

        for _ in range(self.n // 2):
            v = _Anon()
            v.anon = f"anon_{r.getrandbits(64):016x}"
            for _ in range(1 + _poisson(r, 0.8)):
                t = _between(r, self.start, self.T)
                channel = r.choices(CHANNELS, cum_weights=_CUM[CHANNELS])[0]
                _, ref, usrc, camps = channel
                camp = r.choice(camps) if camps else None
                prev = None
                for _ in range(1 + _poisson(r, 1.0)):
                    path = r.choice(SITE_PAGES) if r.random() > 0.1 else "/pricing"
                    etype = "pricing_view" if path == "/pricing" else "page_view"
                    self._web(
                        r,
                        v,
                        min(t, self.T),
                        etype,
                        path,
                        f"{SITE}{prev}" if prev else ref,
                        None if prev else usrc,
                        None if prev else camp,
                        False,
                    )
                    prev = path
                    t += _between(r, 20, 200)

    def _extra_suppressions(self, r: random.Random) -> None:
        """Suppressions of people who never became leads (old unsubscribes, bounces, DNC requests)."""
        for k in range(max(3, self.n // 50)):
            email = (
                f"{r.choice(('info', 'sales', 'contact', 'old.contact', 'admin'))}{k}@{r.choice(self.companies).domain}"
            )
            reason = r.choices(("unsubscribed", "bounced", "do_not_contact"), (5, 3, 2))[0]
            self._suppression(r, email, reason, _between(r, self.start, self.T))

    def _write_accounts(self, r: random.Random) -> None:
        for c in self.companies:
            if c.account_id is None:
                continue
            domain = c.domain if r.random() > 0.03 else c.domain.capitalize()  # CRM users type domains by hand
            props = {
                "account_id": c.account_id,
                "domain": domain,
                "name": c.name,
                "industry": c.industry if r.random() > 0.05 else None,
                "employee_count": c.employees,
                "annual_revenue": int(c.revenue),
                "country": c.country,
                "is_customer": "true" if c.is_customer else "false",
                "updated_at": iso(c.updated_at),
            }
            self._crm_row("accounts", "crm.account", c.account_id, props, c.created_at, c.updated_at)
            kind = self.faults.due("crm.account")
            if kind:
                bad = dict(props)
                if kind == "non_numeric":
                    bad["account_id"] = bad_id = self._id("A", 6)
                    bad["employee_count"] = r.choice(("250 employees", "50-200", "N/A"))
                else:
                    bad_id = c.account_id
                    bad["name"] = f"{c.name} (old)"
                self._crm_row("accounts", "crm.account", bad_id, bad, c.created_at, c.updated_at)
                self.faults.record("crm.account", "crm_api/accounts.jsonl", bad_id, kind)

    # -- files ---------------------------------------------------------------------------------------

    def _open_db(self) -> None:
        self.db_path = self.out / "product" / "app.db"
        self.db_tmp = self.out / "product" / ".app.db.tmp"
        self.db_tmp.unlink(missing_ok=True)
        self.db = sqlite3.connect(self.db_tmp)
        self.db.executescript(
            """
            pragma journal_mode = off;
            pragma synchronous = off;
            create table workspaces (workspace_id text primary key, seats integer, plan text,
                                     trial_ends_at text, updated_at text);
            create table users (user_id text primary key, email text, workspace_id text,
                                signed_up_at text, plan text, updated_at text);
            create table events (event_id text primary key, user_id text, workspace_id text,
                                 event_name text, properties text, occurred_at text);
            """
        )

    def _flush_db(self) -> None:
        buf = self.product_buf
        self.db.executemany("insert into workspaces values (?, ?, ?, ?, ?)", buf["workspaces"])
        self.db.executemany("insert into users values (?, ?, ?, ?, ?, ?)", buf["users"])
        self.db.executemany("insert into events values (?, ?, ?, ?, ?, ?)", buf["events"])
        for rows in buf.values():
            rows.clear()

    def _close_db(self) -> None:
        self._flush_db()
        # Indexes on the cursor columns: the loader pulls "where <cursor> > ?".
        self.db.executescript(
            """
            create index events_occurred_at on events (occurred_at);
            create index users_updated_at on users (updated_at);
            create index workspaces_updated_at on workspaces (updated_at);
            """
        )
        self.db.commit()
        self.db.close()
        self.db_tmp.replace(self.db_path)

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


def generate(
    out_dir: Path,
    leads: int = 2000,
    seed: int = 7,
    as_of: datetime | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Write the demo landing zone for ``leads`` people into ``out_dir``; return records written per entity.

    Counts include the deliberately malformed records (listed in ``_truth/malformed.csv``), so
    ``crm.lead`` is ``leads`` plus a handful. ``as_of`` (default: now, floored to the minute) is the
    present: clean activity lies in the 120 days before it. ``progress(done, total)`` is called
    every 10 % of leads.
    """
    if leads < 1:
        raise ValueError("leads must be >= 1")
    out = Path(out_dir)
    # Nothing here makes reference cycles; without the cyclic GC re-scanning the growing heap of
    # truth rows and CRM lines, 100k leads run about a third faster.
    enabled = gc.isenabled()
    gc.disable()
    now = _as_of_seconds(as_of)
    try:
        counts = _Generator(out, leads, seed, now, progress).run()
    finally:
        if enabled:
            gc.enable()
    # What was generated, for whoever loads it later (the demo reuses a matching landing zone; the pull
    # benchmark takes its as-of from here).
    when = datetime.fromtimestamp(now, UTC).isoformat()
    manifest = {"leads": leads, "seed": seed, "as_of": when, "counts": counts}
    (out / "_truth" / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return counts


@click.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Landing zone.")
@click.option("--leads", default=2000, show_default=True, type=click.IntRange(min=1), help="Number of leads.")
@click.option("--seed", default=7, show_default=True, type=int, help="Random seed.")
@click.option("--as-of", "as_of", default=None, help="The present, ISO 8601 (default: now, floored to the minute).")
def main(out_dir: Path, leads: int, seed: int, as_of: str | None) -> None:
    """Generate deterministic demo data for every leadflow source system."""
    when = None
    if as_of:
        try:
            when = datetime.fromisoformat(as_of)
        except ValueError as exc:
            raise click.BadParameter(f"not an ISO 8601 timestamp: {as_of!r}", param_hint="--as-of") from exc
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if total >= 10_000:
            click.echo(
                f"  {done * 100 // total:3d}%  {done}/{total} leads  {time.perf_counter() - started:6.1f}s", err=True
            )

    counts = generate(out_dir, leads=leads, seed=seed, as_of=when, progress=progress)
    width = max(map(len, counts))
    for key, n in counts.items():
        click.echo(f"{key:<{width}}  {n:>10,}")
    click.echo(f"{'total':<{width}}  {sum(counts.values()):>10,}   ({time.perf_counter() - started:.1f}s, {out_dir})")


if __name__ == "__main__":
    main()
