"""The demo generator: layout, contract, determinism, and whether its data can tell good rules from bad."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from leadflow.pull.contract import BY_KEY, ENTITIES
from leadflow_demo.generator import FREE_MAIL, TRUTH_COLUMNS, generate, main

AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LEADS = 1000
API_FILES = {
    "crm.lead": "crm_api/leads.jsonl",
    "crm.account": "crm_api/accounts.jsonl",
    "crm.opportunity": "crm_api/opportunities.jsonl",
    "conversations.conversation": "conversations_api/conversations.jsonl",
}
CSV_FILES = {"quiz.response": "quiz/responses.csv", "consent.suppression": "consent/suppressions.csv"}
DB_TABLES = {"product.user": "users", "product.event": "events", "product.workspace": "workspaces"}
ALL_KINDS = {
    "unparseable_json",
    "missing_field",
    "invalid_email",
    "future_timestamp",
    "ancient_timestamp",
    "non_numeric",
    "missing_primary_key",
    "duplicate_primary_key",
    "control_characters",
}


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("landing")
    return out, generate(out, leads=LEADS, seed=7, as_of=AS_OF)


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _truth(root: Path) -> list[dict[str, str]]:
    with open(root / "_truth" / "leads.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _people(root: Path) -> list[dict[str, str]]:
    """One truth row per person (duplicate CRM records left out)."""
    return [r for r in _truth(root) if not r["duplicate_of"]]


def _jsonl(path: Path) -> list[dict | None]:
    out: list[dict | None] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            out.append(None)
    return out


def _csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def _malformed(root: Path) -> list[dict[str, str]]:
    with open(root / "_truth" / "malformed.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _won_rate(rows: list[dict[str, str]]) -> float:
    return sum(r["is_won"] == "true" for r in rows) / max(1, len(rows))


def test_layout_and_counts(landing: tuple[Path, dict[str, int]]) -> None:
    root, counts = landing
    assert set(counts) == {e.key for e in ENTITIES}
    assert counts["crm.lead"] >= LEADS  # plus a few malformed extras
    assert counts["web.event"] > 10 * LEADS and counts["marketing.engagement"] > 3 * LEADS
    for key, rel in API_FILES.items():
        assert len((root / rel).read_text(encoding="utf-8").splitlines()) == counts[key], key
    web = sorted((root / "web").glob("events_*.jsonl"))
    assert 100 <= len(web) <= 122  # one file per day of the 120-day window
    assert sum(len(p.read_text(encoding="utf-8").splitlines()) for p in web) == counts["web.event"]
    mkt = sorted((root / "marketing").glob("engagements_*.csv"))
    assert 15 <= len(mkt) <= 19  # one per week
    assert sum(len(_csv_rows(p)[1]) for p in mkt) == counts["marketing.engagement"]
    for key, rel in CSV_FILES.items():
        assert len(_csv_rows(root / rel)[1]) == counts[key], key
    with sqlite3.connect(root / "product" / "app.db") as db:
        for key, table in DB_TABLES.items():
            assert db.execute(f"select count(*) from {table}").fetchone()[0] == counts[key], key
        indexed = {
            row[0] for row in db.execute("select tbl_name from sqlite_master where type = 'index' and sql is not null")
        }
    assert indexed == {"users", "events", "workspaces"}
    assert len(_truth(root)) == LEADS
    manifest = json.loads((root / "_truth" / "manifest.json").read_text())  # what the demo and bench.pull read back
    assert manifest == {"leads": LEADS, "seed": 7, "as_of": AS_OF.isoformat(), "counts": counts}
    assert not list(root.rglob(".spill")) and not (root / "product" / ".app.db.tmp").exists()


def test_every_contract_column_is_present(landing: tuple[Path, dict[str, int]]) -> None:
    root, _ = landing
    for key, rel in API_FILES.items():
        objects = [o for o in _jsonl(root / rel) if o is not None]
        assert objects, key
        for obj in objects:
            assert set(obj) == {"id", "properties", "createdAt", "updatedAt", "archived"}
            assert list(obj["properties"]) == list(BY_KEY[key].columns), key
            assert all(v is None or isinstance(v, str) for v in obj["properties"].values()), "HubSpot sends strings"
    web_cols = list(BY_KEY["web.event"].columns)
    for path in sorted((root / "web").glob("events_*.jsonl"))[:5]:
        for obj in _jsonl(path):
            if obj is not None and "event_id" in obj:
                assert list(obj) == web_cols
    for path in sorted((root / "marketing").glob("*.csv")):
        assert _csv_rows(path)[0] == list(BY_KEY["marketing.engagement"].columns)
    for key, rel in CSV_FILES.items():
        assert _csv_rows(root / rel)[0] == list(BY_KEY[key].columns)
    with sqlite3.connect(root / "product" / "app.db") as db:
        for key, table in DB_TABLES.items():
            cols = [row[1] for row in db.execute(f"pragma table_info({table})")]
            assert cols == list(BY_KEY[key].columns), key
    assert list(_truth(root)[0]) == list(TRUTH_COLUMNS)


def test_vocabularies(landing: tuple[Path, dict[str, int]]) -> None:
    root, _ = landing
    types = Counter()
    for path in sorted((root / "web").glob("*.jsonl")):
        types.update(o["event_type"] for o in _jsonl(path) if o is not None)
    assert set(types) == {
        "page_view",
        "pricing_view",
        "demo_request",
        "quote_request",
        "form_fill",
        "meeting_request",
        "pricing_inquiry",
    }
    actions = Counter()
    for path in sorted((root / "marketing").glob("*.csv")):
        actions.update(row[3] for row in _csv_rows(path)[1] if len(row) > 3)
    assert set(actions) == {
        "email_open",
        "email_click",
        "content_download",
        "webinar_registered",
        "webinar_attended",
        "newsletter_subscribed",
    }
    with sqlite3.connect(root / "product" / "app.db") as db:
        names = {row[0] for row in db.execute("select distinct event_name from events")}
        features = {row[0] for row in db.execute("select properties from events where event_name = 'feature_used'")}
    assert names == {
        "project_created",
        "teammate_invited",
        "feature_used",
        "session_started",
        "checkout_started",
        "checkout_completed",
        "plan_upgraded",
    }
    assert any(json.loads(f).get("feature") for f in features if f.endswith("}"))
    _, quiz = _csv_rows(root / "quiz/responses.csv")
    assert {row[7] for row in quiz if len(row) == 10} == {"this_quarter", "this_year", "exploring"}
    _, consent = _csv_rows(root / "consent/suppressions.csv")
    assert {row[1] for row in consent} == {"unsubscribed", "do_not_contact", "bounced", "customer", "competitor"}
    convs = [o["properties"] for o in _jsonl(root / API_FILES["conversations.conversation"]) if o]
    assert {c["channel"] for c in convs} == {"live_chat", "chatbot", "webinar_qna", "sales_call"}
    topics = json.loads(convs[0]["topics"])
    assert isinstance(topics, list)


def test_deterministic(landing: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    root, counts = landing
    again = generate(tmp_path / "again", leads=LEADS, seed=7, as_of=AS_OF)
    assert again == counts
    assert _digest(tmp_path / "again") == _digest(root)  # byte-identical, the SQLite file included
    other = generate(tmp_path / "other", leads=LEADS, seed=8, as_of=AS_OF)
    assert other != counts
    assert (tmp_path / "other" / "crm_api" / "leads.jsonl").read_bytes() != (
        root / "crm_api" / "leads.jsonl"
    ).read_bytes()


# What (LEADS, seed 7, AS_OF) writes, as one digest: every file's bytes, but the SQLite database's rows (its bytes
# depend on the SQLite library). The generator draws each lead's data in a fixed order; a change that reorders the
# draws (or adds one) changes every file. If that is the change's intent, put the new digest here and say so.
LANDING_DIGEST = "0d496c8466bd655cc660e1f27403ff27917329ee17c1ebe6ff0c8c114a47e64d"


def _landing_digest(root: Path) -> str:
    total = hashlib.sha256()
    for name, digest in sorted(_digest(root).items()):
        if name != "product/app.db":
            total.update(f"{name} {digest}\n".encode())
    with sqlite3.connect(root / "product" / "app.db") as db:
        for line in db.iterdump():
            total.update(line.encode() + b"\n")
    return total.hexdigest()


def test_same_seed_same_data_as_ever(landing: tuple[Path, dict[str, int]]) -> None:
    assert _landing_digest(landing[0]) == LANDING_DIGEST


def test_regenerating_into_the_same_folder_replaces_stale_files(tmp_path: Path) -> None:
    generate(tmp_path, leads=50, seed=1, as_of=AS_OF)
    generate(tmp_path, leads=50, seed=1, as_of=AS_OF + timedelta(days=30))
    days = sorted(p.name for p in (tmp_path / "web").glob("events_*.jsonl"))
    assert days[0] >= f"events_{(AS_OF + timedelta(days=30 - 121)).date()}"


def test_propensity_separates_won_from_lost(landing: tuple[Path, dict[str, int]]) -> None:
    people = sorted(_people(landing[0]), key=lambda r: float(r["propensity"]))
    fifth = len(people) // 5
    bottom, top = people[:fifth], people[-fifth:]
    assert _won_rate(top) >= 0.15
    assert _won_rate(top) >= 3 * _won_rate(bottom)
    assert all(0 <= float(r["propensity"]) <= 1 for r in people)


def test_good_rules_beat_bad_ones(landing: tuple[Path, dict[str, int]]) -> None:
    people = _people(landing[0])
    overall = _won_rate(people)
    for flag in ("pql_milestone", "demo_requested"):
        yes = [r for r in people if r[flag] == "true"]
        no = [r for r in people if r[flag] != "true"]
        assert len(yes) >= 30, flag
        assert _won_rate(yes) >= 3 * _won_rate(no), flag
    shallow = [r for r in people if r["persona"] == "shallow_signup"]
    kickers = [r for r in people if r["persona"] == "tire_kicker"]
    assert len(shallow) >= 0.05 * len(people) and len(kickers) >= 0.05 * len(people)
    assert _won_rate(shallow) <= min(0.02, overall / 3)
    assert _won_rate(kickers) <= min(0.02, overall / 3)
    for persona in ("customer", "competitor", "student"):
        assert _won_rate([r for r in people if r["persona"] == persona]) == 0, persona


def test_tire_kickers_engage_but_do_not_buy(landing: tuple[Path, dict[str, int]]) -> None:
    root, _ = landing
    people = _people(root)
    per_email: Counter[str] = Counter()
    for path in sorted((root / "marketing").glob("*.csv")):
        for row in _csv_rows(path)[1]:
            if len(row) == 6 and row[3] in ("content_download", "email_open", "webinar_attended"):
                per_email[row[1].strip().lower()] += 1

    def mean(persona: str) -> float:
        rows = [r for r in people if r["persona"] == persona]
        return sum(per_email[r["email"]] for r in rows) / len(rows)

    assert mean("tire_kicker") > 1.5 * mean("prospect")


def test_shallow_signups_log_in_once(landing: tuple[Path, dict[str, int]]) -> None:
    root, _ = landing
    shallow = {r["email"] for r in _people(root) if r["persona"] == "shallow_signup"}
    malformed = {r["key"] for r in _malformed(root) if r["entity"].startswith("product.")}
    with sqlite3.connect(root / "product" / "app.db") as db:
        users = dict(db.execute("select user_id, lower(trim(email)) from users").fetchall())
        events = db.execute("select event_id, user_id, event_name from events").fetchall()
    per_user: defaultdict[str, list[str]] = defaultdict(list)
    for event_id, uid, name in events:
        if event_id not in malformed:
            per_user[uid].append(name)
    users = {uid: email for uid, email in users.items() if uid not in malformed}
    seen = 0
    for uid, email in users.items():
        if email in shallow:
            seen += 1
            assert [n for n in per_user[uid] if not n.startswith("checkout")] == ["session_started"]
    assert seen >= 0.9 * len(shallow)


def _hot_emails_from_raw_files(root: Path, quiz_min_score: int = 80, cart_grace_minutes: int = 0) -> set[str]:
    """Recompute the hot rule from the landing zone, independently of the generator's bookkeeping."""
    lo, hi = AS_OF - timedelta(hours=48), AS_OF
    hot: set[str] = set()
    seen_ids: set[str] = set()
    pricing: Counter[str] = Counter()
    for path in sorted((root / "web").glob("*.jsonl")):
        for ev in _jsonl(path):
            if ev is None or not ev.get("event_id") or ev["event_id"] in seen_ids:
                continue
            seen_ids.add(ev["event_id"])
            if not ev["email"] or "@" not in ev["email"] or not lo < _ts(ev["occurred_at"]) <= hi:
                continue
            email = ev["email"].strip().lower()
            if ev["event_type"] in ("demo_request", "quote_request"):
                hot.add(email)
            elif ev["event_type"] == "pricing_view":
                pricing[email] += 1
    hot |= {e for e, n in pricing.items() if n >= 3}
    with sqlite3.connect(root / "product" / "app.db") as db:
        users = dict(db.execute("select user_id, lower(trim(email)) from users").fetchall())
        rows = db.execute(
            "select user_id, event_name, occurred_at from events where event_name like 'checkout%'"
        ).fetchall()
    completed: defaultdict[str, list[datetime]] = defaultdict(list)
    for uid, name, at in rows:
        if name == "checkout_completed":
            completed[uid].append(_ts(at))
    for uid, name, at in rows:
        t = _ts(at)
        abandoned = t <= hi - timedelta(minutes=cart_grace_minutes) and not any(c >= t for c in completed[uid])
        if name == "checkout_started" and lo < t <= hi and abandoned:
            hot.add(users[uid])
    _, quiz = _csv_rows(root / "quiz/responses.csv")
    for row in quiz:
        if len(row) == 10 and row[7] == "this_quarter" and row[9].isdigit() and int(row[9]) >= quiz_min_score:
            if lo < _ts(row[2]) <= hi:
                hot.add(row[1].strip().lower())
    return hot


def test_hot_leads(landing: tuple[Path, dict[str, int]]) -> None:
    root, _ = landing
    people = _people(root)
    truth_hot = {r["email"] for r in people if r["is_hot"] == "true"}
    assert 0.01 * len(people) <= len(truth_hot) <= 0.08 * len(people)
    assert _hot_emails_from_raw_files(root) == truth_hot
    # The same leads under dbt's defaults (quiz score >= 70, 30 minutes' grace before a cart counts as abandoned).
    assert _hot_emails_from_raw_files(root, quiz_min_score=70, cart_grace_minutes=30) == truth_hot
    reasons = Counter(reason for r in people for reason in r["hot_reasons"].split("|") if reason)
    assert set(reasons) <= {"demo_request", "quote_request", "pricing_views", "cart_abandon", "quiz"}
    assert len(reasons) >= 4


def test_companies_accounts_and_free_mail(landing: tuple[Path, dict[str, int]]) -> None:
    root, _ = landing
    people = _people(root)
    free = [r for r in people if r["is_free_mail"] == "true"]
    assert 0.1 * len(people) <= len(free) <= 0.45 * len(people)
    assert {r["email_domain"] for r in free} <= set(FREE_MAIL)
    accounts = [o["properties"] for o in _jsonl(root / API_FILES["crm.account"]) if o]
    domains = {a["domain"].lower() for a in accounts}
    assert not domains & set(FREE_MAIL)
    assert any(a["is_customer"] == "true" for a in accounts)
    sizes = {int(a["employee_count"]) for a in accounts if a["employee_count"].isdigit()}
    assert min(sizes) <= 10 and max(sizes) > 1000
    business = Counter(r["email_domain"] for r in people if r["is_free_mail"] == "false")
    assert max(business.values()) >= 3  # several leads share a company
    leads = [o["properties"] for o in _jsonl(root / API_FILES["crm.lead"]) if o]
    titles = " ".join(str(lead["title"]) for lead in leads)
    for word in ("VP", "Head of", "Director", "Manager", "Engineer", "Student", "Intern"):
        assert word in titles
    # Customers and competitors are suppressed with that reason.
    _, consent = _csv_rows(root / "consent/suppressions.csv")
    reasons = defaultdict(set)
    for row in consent:
        if len(row) == 3:
            reasons[row[0].strip().lower()].add(row[1])
    for r in people:
        if r["persona"] in ("customer", "competitor"):
            assert r["persona"] in reasons[r["email"]]


def test_messy_and_duplicate_emails(landing: tuple[Path, dict[str, int]]) -> None:
    root, _ = landing
    truth = _truth(root)
    assert sum(bool(r["duplicate_of"]) for r in truth) >= 3
    leads = [o["properties"] for o in _jsonl(root / API_FILES["crm.lead"]) if o]
    crm_emails = Counter(lead["email"].strip().lower() for lead in leads if lead["email"] and "@" in lead["email"])
    assert any(n > 1 for n in crm_emails.values())  # duplicate person records
    raw = [lead["email"] for lead in leads if lead["email"]]
    assert any(e != e.strip() for e in raw) and any(e != e.lower() for e in raw)
    people = {r["email"] for r in _people(root)}
    _, quiz = _csv_rows(root / "quiz/responses.csv")
    quiz_emails = [row[1] for row in quiz if len(row) > 1]
    assert any(e.strip().lower() in people and e != e.strip().lower() for e in quiz_emails)
    # The same person shows up in several sources.
    with sqlite3.connect(root / "product" / "app.db") as db:
        product = {row[0] for row in db.execute("select lower(trim(email)) from users")}
    assert len(product & set(crm_emails) & {e.strip().lower() for e in quiz_emails}) >= 10


def test_malformed_records(landing: tuple[Path, dict[str, int]]) -> None:
    root, counts = landing
    bad = _malformed(root)
    assert {r["kind"] for r in bad} == ALL_KINDS
    assert len({r["entity"] for r in bad}) >= 8  # spread across sources
    assert 0.002 <= len(bad) / sum(counts.values()) <= 0.01
    for r in bad:
        location = r["location"]
        if "#" in location:
            db_file, table = location.split("#")
            with sqlite3.connect(root / db_file) as db:
                pk = BY_KEY[r["entity"]].primary_key[0]
                assert db.execute(f"select count(*) from {table} where {pk} = ?", (r["key"],)).fetchone()[0] == 1
        elif r["key"]:
            assert r["key"] in (root / location).read_text(encoding="utf-8"), r
    web_lines = [line for p in sorted((root / "web").glob("*.jsonl")) for line in p.read_text("utf-8").splitlines()]
    assert sum(1 for line in web_lines if not line.endswith("}")) == sum(
        1 for r in bad if r["entity"] == "web.event" and r["kind"] == "unparseable_json"
    )
    _, consent = _csv_rows(root / "consent/suppressions.csv")
    assert any(len(row) != 3 for row in consent) or not any(
        r["entity"] == "consent.suppression" and r["kind"] == "missing_field" for r in bad
    )


def test_clean_timestamps_are_in_the_window(landing: tuple[Path, dict[str, int]]) -> None:
    root, _ = landing
    bad_keys = {(r["entity"], r["key"]) for r in _malformed(root)}
    lo, hi = AS_OF - timedelta(days=121), AS_OF

    def check(entity: str, key: str | None, record: dict) -> None:
        if not key or (entity, key) in bad_keys:
            return
        for col, typ in BY_KEY[entity].columns.items():
            if typ == "timestamp" and record.get(col) and col != "trial_ends_at":  # a trial may end in the future
                assert lo <= _ts(record[col]) <= hi, (entity, key, col, record[col])

    for entity, rel in API_FILES.items():
        pk = BY_KEY[entity].primary_key[0]
        for obj in _jsonl(root / rel):
            if obj is not None:
                check(entity, obj["properties"][pk], obj["properties"])
    for path in sorted((root / "web").glob("*.jsonl")):
        for ev in _jsonl(path):
            if ev is not None:
                check("web.event", ev.get("event_id"), ev)
    for path in sorted((root / "marketing").glob("*.csv")):
        header, rows = _csv_rows(path)
        for row in rows:
            if len(row) == len(header):
                check("marketing.engagement", row[0], dict(zip(header, row, strict=True)))
    for entity, rel in CSV_FILES.items():
        header, rows = _csv_rows(root / rel)
        for row in rows:
            if len(row) == len(header):
                key = row[0] if entity == "quiz.response" else row[0]
                check(entity, key, dict(zip(header, row, strict=True)))
    with sqlite3.connect(root / "product" / "app.db") as db:
        db.row_factory = sqlite3.Row
        for entity, table in DB_TABLES.items():
            for row in db.execute(f"select * from {table}"):
                check(entity, row[0], dict(row))
        trial = db.execute("select max(trial_ends_at) from workspaces").fetchone()[0]
    assert _ts(trial) <= AS_OF + timedelta(days=15)


def test_opportunities_follow_behaviour(landing: tuple[Path, dict[str, int]]) -> None:
    root, _ = landing
    opps = [o["properties"] for o in _jsonl(root / API_FILES["crm.opportunity"]) if o]
    stages = Counter(o["stage"] for o in opps)
    assert stages["closedwon"] and stages["closedlost"] and len(stages) > 3  # some still open
    for o in opps:
        if o["stage"] in ("closedwon", "closedlost"):
            assert o["closed_at"] and o["is_won"] == ("true" if o["stage"] == "closedwon" else "false")
        else:
            assert o["closed_at"] is None and o["is_won"] == "false"
        assert o["lead_id"] or o["email"]
    leads = {o["properties"]["lead_id"]: o["properties"] for o in _jsonl(root / API_FILES["crm.lead"]) if o}
    for o in opps:
        if o["lead_id"] and o["lead_id"] in leads and o["created_at"][:4] != "1999":
            assert o["created_at"] >= leads[o["lead_id"]]["created_at"]


def test_cli(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["--out", str(tmp_path), "--leads", "40", "--seed", "3", "--as-of", "2026-11-20T12:00:00Z"]
    )
    assert result.exit_code == 0, result.output
    assert "crm.lead" in result.output and "web.event" in result.output
    assert (tmp_path / "product" / "app.db").exists()
    bad = CliRunner().invoke(main, ["--out", str(tmp_path), "--as-of", "yesterday"])
    assert bad.exit_code != 0 and "ISO 8601" in bad.output


def test_default_as_of_is_now(tmp_path: Path) -> None:
    before = datetime.now(UTC).replace(second=0, microsecond=0)
    generate(tmp_path, leads=30, seed=2)
    leads = [o["properties"] for o in _jsonl(tmp_path / API_FILES["crm.lead"]) if o]
    latest = max(_ts(lead["updated_at"]) for lead in leads if lead["lead_id"])
    assert before - timedelta(days=121) <= latest <= datetime.now(UTC) + timedelta(days=400)


def test_pql_milestone_and_usage_depth(landing: tuple[Path, dict[str, int]]) -> None:
    """The milestone in the product database matches the truth flag, and activated teams also show depth."""
    root, _ = landing
    truth = {r["email"]: r["pql_milestone"] == "true" for r in _people(root)}
    malformed = {r["key"] for r in _malformed(root) if r["entity"].startswith("product.")}
    with sqlite3.connect(root / "product" / "app.db") as db:
        users = db.execute("select user_id, lower(trim(email)), signed_up_at, workspace_id from users").fetchall()
        seats = dict(db.execute("select workspace_id, seats from workspaces").fetchall())
        events = db.execute("select event_id, user_id, event_name, properties, occurred_at from events").fetchall()
    per_user: defaultdict[str, list[tuple[str, str, datetime]]] = defaultdict(list)
    for event_id, uid, name, props, at in events:
        if event_id not in malformed:
            per_user[uid].append((name, props, _ts(at)))
    checked = deep = 0
    for uid, email, signed_up, ws in users:
        if uid in malformed or email not in truth:
            continue
        start = _ts(signed_up)
        week = [(n, p) for n, p, t in per_user[uid] if t <= start + timedelta(days=7)]
        milestone = sum(n == "project_created" for n, _ in week) >= 2 and any(n == "teammate_invited" for n, _ in week)
        assert milestone == truth[email], email
        if milestone and start <= AS_OF - timedelta(days=14):
            fortnight = [(n, p, t) for n, p, t in per_user[uid] if t <= start + timedelta(days=14)]
            session_days = {t.date() for n, _, t in fortnight if n == "session_started"}
            features = {json.loads(p)["feature"] for n, p, _ in fortnight if n == "feature_used"}
            criteria = (len(session_days) >= 3) + (len(features) >= 3) + (int(seats[ws]) >= 2)
            checked += 1
            deep += criteria >= 2
    assert checked >= 20 and deep >= 0.8 * checked
