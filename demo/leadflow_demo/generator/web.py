"""Web analytics: sessions of page views and bottom-of-funnel actions per lead, anonymous traffic, daily
JSONL exports.
"""

from __future__ import annotations

import random
from itertools import accumulate

from leadflow_demo.generator.clock import DAY, HOT_WINDOW, HOUR, MINUTE, iso
from leadflow_demo.generator.core import _ENCODE, _QUOTE, Core, _between, _control, _invalid_email, _jq, _poisson
from leadflow_demo.generator.identity import _Lead, _messy

SITE = "https://www.leadflow.example"


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
# Cumulative weights for random.choices (passing plain weights re-accumulates them on every call).
_CUM = {CHANNELS: list(accumulate(CHANNEL_WEIGHTS))}


class WebSource(Core):
    """Web analytics: buying actions on the site, each lead's sessions up to and after identification, and
    visitors who never identify themselves."""

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
