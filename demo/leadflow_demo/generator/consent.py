"""Consent: suppressions (unsubscribes, bounces, do-not-contact, customers, competitors) as CSV."""

from __future__ import annotations

import random

from leadflow_demo.generator.clock import DAY, HOUR, iso
from leadflow_demo.generator.core import Core, _between, _invalid_email
from leadflow_demo.generator.identity import _Lead, _messy


class ConsentSource(Core):
    """Consent: a lead's suppressions, and those of people who never became leads."""

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

    def _extra_suppressions(self, r: random.Random) -> None:
        """Suppressions of people who never became leads (old unsubscribes, bounces, DNC requests)."""
        for k in range(max(3, self.n // 50)):
            email = (
                f"{r.choice(('info', 'sales', 'contact', 'old.contact', 'admin'))}{k}@{r.choice(self.companies).domain}"
            )
            reason = r.choices(("unsubscribed", "bounced", "do_not_contact"), (5, 3, 2))[0]
            self._suppression(r, email, reason, _between(r, self.start, self.T))
