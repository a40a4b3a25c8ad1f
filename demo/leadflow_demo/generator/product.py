"""The product's application database (SQLite): sign-ups, activation, feature use and checkouts."""

from __future__ import annotations

import random
import sqlite3

from leadflow_demo.generator.clock import DAY, HOT_WINDOW, HOUR, MINUTE, iso
from leadflow_demo.generator.core import _ENCODE, Core, _between, _invalid_email, _poisson
from leadflow_demo.generator.identity import _Lead, _messy

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


class ProductSource(Core):
    """The application database: sign-up, activation (or its near misses), usage and checkouts."""

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
