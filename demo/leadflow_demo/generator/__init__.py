"""Deterministic demo data for all seven source systems of the raw contract.

``generate(out_dir, leads, seed, as_of)`` writes a landing zone in the forms the sources really arrive in
(HubSpot-shaped JSONL behind the REST API, daily JSONL and weekly CSV exports, a SQLite application
database, quiz and consent CSVs) plus ``_truth/`` files the pipeline never loads; its docstring has the
layout, ``_Generator``'s how the data is made. One module per source (``crm``, ``web``, ``marketing``,
``product``, ``conversations``, ``quiz``, ``consent``), each a mixin over ``core.Core``, beside ``clock``,
``core`` and ``identity``. Where the harness sits: docs/layout.md.
"""

from __future__ import annotations

import gc
import json
import random
import time
from bisect import bisect
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click

from leadflow_demo.generator.clock import DAY, HOT_WINDOW, HOUR, MINUTE, WINDOW_DAYS, _as_of_seconds, iso
from leadflow_demo.generator.consent import ConsentSource
from leadflow_demo.generator.conversations import ConversationsSource
from leadflow_demo.generator.core import COLUMNS, NOT_GENERATED, TRUTH_COLUMNS, _between, _csv_line, _Shards
from leadflow_demo.generator.crm import CrmSource
from leadflow_demo.generator.identity import (
    _CUM,
    COMPETITORS,
    COUNTRIES,
    EDU_DOMAINS,
    FIRST_NAMES,
    FREE_MAIL,
    FREE_MAIL_SHARE,
    ICP_COUNTRIES,
    ICP_INDUSTRIES,
    LAST_NAMES,
    NAME_A,
    NAME_B,
    PERSONA_SENIORITY,
    PERSONAS,
    PROPENSITY_BETA,
    SENIORITIES,
    SENIORITY_FIT,
    TITLES,
    Identity,
    _Lead,
)
from leadflow_demo.generator.marketing import MarketingSource
from leadflow_demo.generator.product import ProductSource
from leadflow_demo.generator.quiz import QUIZ_PROB, QuizSource
from leadflow_demo.generator.web import WebSource

__all__ = ["FREE_MAIL", "NOT_GENERATED", "TRUTH_COLUMNS", "generate", "main"]


class _Generator(
    Identity, CrmSource, WebSource, MarketingSource, ProductSource, ConversationsSource, QuizSource, ConsentSource
):
    """Every source together: ``run`` writes the landing zone; ``_lead`` makes one person, drawing from the
    lead's own random generator for each source in a fixed order (identity, plans, then records): the one
    place that fixes that order (change it and every file changes).

    Every lead gets a persona and a hidden propensity (beta-distributed per persona, scaled by ideal-customer-
    profile fit). Propensity drives every behaviour (web depth, pricing views, demo/quote requests,
    conversations and their topics, quiz answers, product activation). An opportunity is drawn from
    propensity *plus* the buying signals that actually happened (demo request, PQL milestone, meaningful
    conversation, strong quiz), and won with a probability rising steeply with propensity, so good
    qualification rules measurably beat bad ones (tire-kickers engage a lot and rarely buy; shallow signups
    sign up once and leave). A few % of leads are "hot": a bottom-of-funnel action in the 48 h before
    ``as_of``; no other lead has one in that window, so ``_truth/leads.csv:is_hot`` is exact.
    """

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

    Layout of ``out_dir`` (the loaders and ``sources.yml`` depend on it)::

        crm_api/leads.jsonl, accounts.jsonl, opportunities.jsonl   HubSpot v3 objects, sorted by (updatedAt, id):
        conversations_api/conversations.jsonl                        {"id", "properties": {<contract columns>:
                                                                      str|null}, "createdAt", "updatedAt", "archived"}
        web/events_<YYYY-MM-DD>.jsonl        one file per UTC day, contract columns, sorted by occurred_at
        marketing/engagements_<monday>.csv   one file per ISO week (named by its Monday), header = contract columns
        product/app.db                       SQLite: users, events (properties = JSON text), workspaces
        quiz/responses.csv, consent/suppressions.csv
        _truth/leads.csv                     one row per CRM lead record (TRUTH_COLUMNS): hidden propensity,
                                             persona, outcome, hot flag; never loaded
        _truth/malformed.csv                 every deliberately malformed record: entity, location, key, kind

    All timestamps are ISO 8601 UTC with "Z", whole seconds; only ``product.workspace.trial_ends_at``
    (signup + 14 days) may lie after ``as_of``. Determinism: one ``random.Random`` for the global set-up and
    one per lead (seeded from seed and the lead's index), sequential ids, sorted outputs, no set iteration
    or ``hash()``: the same (leads, seed, as_of) gives byte-identical files.
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
