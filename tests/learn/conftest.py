"""A small CRM export whose outcomes follow columns no rule reads, loaded into raw as the pull would."""

from __future__ import annotations

import json
import math
import random
from datetime import timedelta

import psycopg

from leadflow.pull.contract import BY_KEY
from tests.transform.conftest import AS_OF, create_raw_tables

OPPORTUNITIES = BY_KEY["crm.opportunity"].qualified_table
SEGMENT_LOGIT = {"enterprise": 1.6, "mid": 0.0, "small": -1.6}


def seed_export(url: str, leads: int = 600, seed: int = 11) -> None:
    """Leads created over six months before AS_OF - 100 days (every label window has elapsed), with
    extra columns `segment` (category) and `budget` (number, as text) that decide who converts; page
    views and pricing views, web sessions, conversations, quiz answers and accounts (with an extra column `tier`) at
    random, so the rules' scores carry no signal and every feature family has values to apply."""
    rng = random.Random(seed)
    create_raw_tables(url)
    start = AS_OF - timedelta(days=280)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("alter table raw.crm_leads add column if not exists segment text")
        conn.execute("alter table raw.crm_leads add column if not exists budget text")
        conn.execute("alter table raw.crm_accounts add column if not exists tier text")
        lead_rows, event_rows, opp_rows, chat_rows, quiz_rows, visit_rows = [], [], [], [], [], []
        account_rows = [
            (f"A{k}", f"company{k}.com", rng.choice(["saas", "retail", None]), rng.choice([5, 80, 900]), f"T{k % 3}")
            for k in range(50)
        ]
        for i in range(leads):
            created = start + timedelta(hours=rng.randrange(0, 180 * 24))
            segment = rng.choice(list(SEGMENT_LOGIT))
            budget = rng.choice([0, 500, 2000, 10000, 50000])
            logit = -1.8 + SEGMENT_LOGIT[segment] + 0.5 * math.log10(budget + 1) - 1.0
            won = rng.random() < 1 / (1 + math.exp(-logit))
            email = f"person{i}@company{i % 50}.com"
            lead_rows.append((f"L{i}", email, "web", created, created, segment, str(budget)))
            for k in range(rng.randrange(0, 6)):
                kind = "pricing_view" if rng.random() < 0.2 else "page_view"
                event_rows.append((f"E{i}-{k}", email, kind, created + timedelta(hours=1 + 20 * k)))
            if rng.random() < 0.4:
                topics = rng.sample(["Pricing", "security", "careers", "it's complicated"], rng.randrange(0, 3))
                chat_rows.append(
                    (
                        f"C{i}",
                        email,
                        rng.choice(["live_chat", "chatbot"]),
                        created + timedelta(hours=2),
                        created + timedelta(hours=2, minutes=rng.randrange(1, 40)),
                        rng.randrange(0, 12),
                        json.dumps(topics),
                        rng.choice(["resolved", "demo_booked", None]),
                    )
                )
            for k in range(rng.randrange(0, 3)):  # visits with their time on site, some of it unknown
                duration = rng.choice([None, 30, 300, 1800])
                visit_rows.append((f"S{i}-{k}", email, created + timedelta(hours=4 + k), duration, rng.randrange(1, 9)))
            if rng.random() < 0.3:
                quiz_rows.append(
                    (
                        f"Q{i}",
                        email,
                        created + timedelta(hours=3),
                        rng.choice(["founder", "engineer", "marketer"]),
                        rng.choice(["1-10", "11-50"]),
                        rng.choice(["this_quarter", "exploring"]),
                        rng.randrange(0, 100),
                    )
                )
            if won:
                opp_rows.append((f"O{i}", f"L{i}", created + timedelta(days=3), created + timedelta(days=20)))
        with conn.cursor() as cur:
            cur.executemany(
                "insert into raw.crm_leads (lead_id, email, lead_source, created_at, updated_at, segment, budget,"
                " _batch_id, _loaded_at) values (%s, %s, %s, %s, %s, %s, %s, 'b1', now())",
                lead_rows,
            )
            cur.executemany(
                "insert into raw.web_events (event_id, email, event_type, occurred_at, _batch_id, _loaded_at)"
                " values (%s, %s, %s, %s, 'b1', now())",
                event_rows,
            )
            cur.executemany(
                "insert into raw.crm_accounts (account_id, domain, industry, employee_count, tier, updated_at,"
                " _batch_id, _loaded_at) values (%s, %s, %s, %s, %s, now(), 'b1', now())",
                account_rows,
            )
            cur.executemany(
                "insert into raw.conversations_conversations (conversation_id, email, channel, started_at, ended_at,"
                " visitor_message_count, topics, outcome, updated_at, _batch_id, _loaded_at)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, now(), 'b1', now())",
                chat_rows,
            )
            cur.executemany(
                "insert into raw.web_sessions (session_id, email, started_at, duration_seconds, page_views,"
                " _batch_id, _loaded_at) values (%s, %s, %s, %s, %s, 'b1', now())",
                visit_rows,
            )
            cur.executemany(
                "insert into raw.quiz_responses (response_id, email, submitted_at, role, team_size, timeline, score,"
                " _batch_id, _loaded_at) values (%s, %s, %s, %s, %s, %s, %s, 'b1', now())",
                quiz_rows,
            )
            cur.executemany(
                f"insert into {OPPORTUNITIES} (opportunity_id, lead_id, stage, is_won, created_at, closed_at,"
                " updated_at, _batch_id, _loaded_at) values (%s, %s, 'closed_won', true, %s, %s, %s, 'b1', now())",
                [(o, lead, c, w, w) for o, lead, c, w in opp_rows],
            )
