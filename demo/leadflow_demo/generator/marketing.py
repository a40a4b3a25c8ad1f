"""Marketing automation: nurture and newsletter e-mails, content downloads, webinars; weekly CSV exports."""

from __future__ import annotations

import random

from leadflow_demo.generator.clock import DAY, HOUR, MINUTE, _day, _week, iso
from leadflow_demo.generator.core import Core, _between, _control, _csv_line, _invalid_email, _poisson
from leadflow_demo.generator.identity import _Lead, _messy
from leadflow_demo.generator.web import ASSETS

NURTURE_DAYS = (1, 4, 9, 16, 25)


NURTURE_NAMES = (
    "Nurture 1: Welcome",
    "Nurture 2: Scoring basics",
    "Nurture 3: Customer story",
    "Nurture 4: PQL guide",
    "Nurture 5: Book a demo",
)


class MarketingSource(Core):
    """Marketing automation: nurture and newsletter e-mails (opens, clicks), downloads and webinars."""

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
