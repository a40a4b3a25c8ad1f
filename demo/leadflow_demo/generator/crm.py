"""The CRM (HubSpot v3 objects behind the REST API): leads, their duplicates, accounts and opportunities."""

from __future__ import annotations

import random

from leadflow_demo.generator.clock import DAY, HOUR, MINUTE, iso
from leadflow_demo.generator.core import COLUMNS, Core, _between, _control, _invalid_email, _poisson, _sigmoid
from leadflow_demo.generator.identity import _Lead, _title_case_email

OWNERS = ("71000101", "71000102", "71000103", "71000104", "71000105", "71000106", "71000107", "71000108")


OPEN_STAGES = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
)


class CrmSource(Core):
    """The CRM: a lead's record (and its malformed siblings), duplicate records, opportunities planned from
    propensity and the buying signals that happened, and the accounts."""

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
