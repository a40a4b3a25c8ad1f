"""`leadflow profile`: after a first load, what the data can and cannot qualify with today's settings, and why.

Reads the warehouse a `dbt build` left (raw, intermediate, marts) and the qualification settings (the
``vars`` of dbt_project/dbt_project.yml): per source how many records arrived, per signal family how many
leads have it, the score distributions, for each qualification type whether its rule can fire (and, when
it cannot, which input or threshold stops it), and the MQL thresholds that would qualify the top x% of
leads. The report is printed and kept in ``ops.profile_runs`` (one JSON document per run).
"""

from __future__ import annotations

import json
import math
import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from leadflow.pull.contract import ENTITIES
from leadflow.settings import Settings, get_settings
from leadflow.transform.dbt import project_vars
from leadflow.warehouse.ops import ensure_ops

SCORES = ("fit_score", "engagement_score", "intent_score", "product_usage_score", "total_score")
FAMILIES = {  # signal family -> lead_scores column that is > 0 when a lead has it
    "fit (role, company, country, e-mail)": "fit_score",
    "engagement (marketing, web behaviour)": "engagement_score",
    "intent (buying actions, conversations)": "intent_score",
    "product usage": "product_usage_score",
}
TOP_SHARES = (0.01, 0.05, 0.10)
# Fit points suggested for a value (lead source, quiz role) by its lift (won share / all leads' won share), with
# at least MIN_VALUE_LEADS leads: a value this strong gets mql_min_fit_score points (it qualifies for fit alone).
MIN_VALUE_LEADS = 30
LIFT_POINTS = ((1.5, 1.0), (1.2, 0.5), (1.05, 0.25))  # (lift at least, share of mql_min_fit_score)


@dataclass
class Rule:
    qualification_type: str
    qualified_now: int
    can_fire: bool
    why: str
    inputs: dict = field(default_factory=dict)


def _one(conn: psycopg.Connection, query: str, params=None):
    return conn.execute(query, params).fetchone()[0]


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return _one(conn, "select to_regclass(%s) is not null", (relation,))


def build_profile(url: str, as_of: datetime, settings: Settings | None = None, extra_vars: dict | None = None) -> dict:
    """``extra_vars``: the ``--vars`` the build ran with (they override dbt_project.yml's)."""
    settings = settings or get_settings()
    v = {**project_vars(settings), **(extra_vars or {})}
    with psycopg.connect(url) as conn:
        for relation in (
            "marts.leads",
            "marts.lead_scores",
            "marts.qualified_leads",
            "intermediate.int_lead_signals",
        ):
            if not _exists(conn, relation):
                raise RuntimeError(f"{relation} does not exist: run `leadflow run` (or dbt build) before profiling")
        raw = {
            e.key: _one(conn, f"select count(*) from {e.qualified_table}")
            for e in ENTITIES
            if _exists(conn, e.qualified_table)
        }  # noqa: S608
        leads = _one(conn, "select count(*) from marts.leads")
        with_email = _one(conn, "select count(*) from marts.leads where email is not null")
        families = {
            name: _one(conn, f"select count(*) from marts.lead_scores where {column} > 0")  # noqa: S608
            for name, column in FAMILIES.items()
        }
        won = _one(conn, "select count(distinct lead_id) from raw.crm_opportunities where is_won")
        distributions = {}
        for column in SCORES:
            row = conn.execute(
                f"select percentile_cont(array[0.5, 0.9, 0.99]) within group (order by {column}), max({column}) "  # noqa: S608
                "from marts.lead_scores"
            ).fetchone()
            p50, p90, p99 = row[0] or (None, None, None)
            distributions[column] = {"p50": _num(p50), "p90": _num(p90), "p99": _num(p99), "max": _num(row[1])}
        qualified = dict(
            zip(
                ("conversion_qualified", "sql", "pql", "conversation_qualified", "mql"),
                conn.execute(
                    "select count(*) filter (where is_conversion_qualified), count(*) filter (where is_sql), "
                    "count(*) filter (where is_pql), count(*) filter (where is_conversation_qualified), "
                    "count(*) filter (where is_mql) from marts.qualified_leads"
                ).fetchone(),
                strict=True,
            )
        )
        rules = [
            _mql(conn, v, qualified["mql"]),
            _sql(conn, v, qualified["sql"]),
            _pql(raw, qualified["pql"]),
            _conversation(conn, v, raw, qualified["conversation_qualified"]),
            _hot(conn, v, as_of, qualified["conversion_qualified"]),
        ]
        top = _top_thresholds(conn, v, leads)
        values = {
            "lead_source": _value_lifts(conn, v, "lead_source", "fit_lead_source_points"),
            "quiz_role": _value_lifts(conn, v, "quiz_role", "fit_quiz_role_points"),
        }
    report = {
        "as_of": as_of.isoformat(),
        "sources_file": str(settings.sources_path),
        "raw_records": raw,
        "leads": leads,
        "leads_with_email": with_email,
        "leads_won": won,
        "signal_families": families,
        "score_distributions": distributions,
        "rules": [r.__dict__ for r in rules],
        "mql_thresholds_for_top_share": top,
        "fit_values": values,
        "extra_vars": extra_vars or {},
    }
    report["how_to_qualify"] = how_to_qualify(report, v)
    return report


def _num(value) -> float | None:
    return None if value is None else round(float(value), 1)


def _mql(conn, v: dict, now: int) -> Rule:
    fit, engagement = float(v.get("mql_min_fit_score", 40)), float(v.get("mql_min_engagement_score", 50))
    max_fit, max_eng, both = conn.execute(
        "select max(fit_score), max(engagement_score), "
        "count(*) filter (where fit_score >= %s and engagement_score >= %s) from marts.lead_scores",
        (fit, engagement),
    ).fetchone()
    inputs = {"mql_min_fit_score": fit, "mql_min_engagement_score": engagement, "max_fit": _num(max_fit),
              "max_engagement": _num(max_eng), "leads_meeting_both": both}  # fmt: skip
    if both:
        return Rule("mql", now, True, f"{both} lead(s) reach fit >= {fit:g} and engagement >= {engagement:g}", inputs)
    reasons = []
    if (max_fit or 0) < fit:
        reasons.append(f"no lead reaches fit {fit:g} (highest {_num(max_fit) or 0:g}; mql_min_fit_score)")
    if (max_eng or 0) < engagement:
        reasons.append(
            f"no lead reaches engagement {engagement:g} (highest {_num(max_eng) or 0:g}; mql_min_engagement_score"
            + ("; no marketing or web behaviour was loaded" if not max_eng else "")
            + ")"
        )
    if not reasons:
        reasons.append("no single lead reaches both thresholds at once")
    return Rule("mql", now, False, "; ".join(reasons), inputs)


def _sql(conn, v: dict, now: int) -> Rule:
    actions = list(v.get("sql_buying_actions") or [])
    n = _one(conn, "select count(*) from intermediate.int_lead_signals where signal_name = any(%s)", (actions,))
    inputs = {"buying_action_signals": n, "sql_buying_actions": actions}
    if not n:
        return Rule(
            "sql", now, False,
            f"no buying action ({', '.join(actions)}) in the loaded web events or conversations (sql_buying_actions)",
            inputs,
        )  # fmt: skip
    return Rule(
        "sql", now, True,
        f"{n} buying action(s); each also needs {v.get('sql_min_bant_dimensions', 2)} BANT dimensions known "
        "(quiz, conversation topics, CRM)",
        inputs,
    )  # fmt: skip


def _pql(raw: dict, now: int) -> Rule:
    users, events = raw.get("product.user", 0), raw.get("product.event", 0)
    inputs = {"product_users": users, "product_events": events}
    if not users or not events:
        return Rule(
            "pql", now, False, "no product data (product users and events): the product source is empty", inputs
        )
    return Rule(
        "pql", now, True, f"{users} product user(s), {events} event(s) to reach the activation milestone", inputs
    )


def _conversation(conn, v: dict, raw: dict, now: int) -> Rule:
    channels = list(v.get("conversation_channels") or [])
    n = raw.get("conversations.conversation", 0)
    inputs = {"conversations": n, "conversation_channels": channels}
    if not n:
        return Rule("conversation_qualified", now, False, "no conversations were loaded (conversations source)", inputs)
    return Rule(
        "conversation_qualified", now, True,
        f"{n} conversation(s); a meaningful one needs {v.get('conversation_min_visitor_messages', 4)} visitor "
        f"messages or {v.get('conversation_min_minutes', 5)} minutes and a qualifying topic",
        inputs,
    )  # fmt: skip


def _hot(conn, v: dict, as_of: datetime, now: int) -> Rule:
    hours = float(v.get("hot_window_hours", 48))
    names = ["demo_request", "quote_request", "pricing_view", "checkout_started"]
    recent, newest = conn.execute(
        "select count(*) filter (where occurred_at > %s::timestamptz - interval '1 hour' * %s), max(occurred_at) "
        "from intermediate.int_lead_signals where signal_name = any(%s)",
        (as_of, hours, names),
    ).fetchone()
    inputs = {"bottom_of_funnel_signals_in_window": recent, "newest": newest.isoformat() if newest else None}
    if recent:
        return Rule(
            "conversion_qualified", now, True, f"{recent} bottom-of-funnel action(s) in the last {hours:g} h", inputs
        )
    why = (
        f"no bottom-of-funnel action (demo / quote request, pricing view, checkout) in the {hours:g} h before as-of "
        + (f"(newest: {newest:%Y-%m-%d}; hot_window_hours)" if newest else "(none loaded at all)")
    )
    return Rule("conversion_qualified", now, False, why, inputs)


def _top_thresholds(conn, v: dict, leads: int) -> dict:
    """For the top 1/5/10% of leads: the MQL thresholds that would qualify about that many, and how many they
    would (counted, ties included). First the engagement threshold with the fit threshold as set; when
    engagement does not separate leads (no behaviour loaded, or too few reach the fit threshold), the fit
    threshold for fit alone (mql_min_engagement_score 0); and the total score the share reaches."""
    fit_min = float(v.get("mql_min_fit_score", 40))
    out = {}
    for share in TOP_SHARES:
        n = max(1, math.ceil(share * leads)) if leads else 0
        entry: dict = {"target_leads": n}
        if n:
            engagement = _nth(conn, "engagement_score", n, f"fit_score >= {fit_min}")
            if engagement:
                entry["mql_min_engagement_score"] = _num(engagement)
                entry["qualifies"] = _count(conn, f"fit_score >= {fit_min} and engagement_score >= {engagement}")
            fit = _nth(conn, "fit_score", n)
            if fit:
                entry["fit_alone"] = {
                    "mql_min_fit_score": _num(fit),
                    "mql_min_engagement_score": 0,
                    "qualifies": _count(conn, f"fit_score >= {fit}"),
                }
            total = _nth(conn, "total_score", n)
            if total:
                entry["total_score"] = _num(total)
        out[f"top {share:.0%}"] = entry
    return out


def _nth(conn, column: str, n: int, where: str = "true"):
    """The n-th highest value of a lead_scores column among the leads ``where`` holds (None if fewer, or 0)."""
    row = conn.execute(
        f"select {column} from marts.lead_scores where {where} order by {column} desc offset %s limit 1",  # noqa: S608
        (n - 1,),
    ).fetchone()
    return row[0] if row and row[0] else None


def _count(conn, where: str) -> int:
    return _one(conn, f"select count(*) from marts.lead_scores where {where}")  # noqa: S608


def _value_lifts(conn, v: dict, column: str, var: str) -> list[dict]:
    """Each value of a leads column with its leads, won share and lift, and the fit points suggested for it
    (LIFT_POINTS of mql_min_fit_score; values with fewer than MIN_VALUE_LEADS leads get none). Values are
    compared as the fit model compares them: lower-cased, and a quiz role with _ - / read as spaces."""
    fit_min = float(v.get("mql_min_fit_score", 40))
    value = f"lower(trim(d.{column}))"
    if column == "quiz_role":
        value = f"lower(regexp_replace(trim(d.{column}), '[_\\-/]+', ' ', 'g'))"
    rows = conn.execute(
        f"""
        with won as (select distinct lead_id from intermediate.int_opportunities_resolved where is_won)
        select {value} as value, count(*) as leads, count(won.lead_id) as won
        from marts.leads as d left join won on d.lead_id = won.lead_id
        where nullif(trim(d.{column}), '') is not null
        group by 1 order by 2 desc, 1
        """  # noqa: S608
    ).fetchall()
    total_leads = _one(conn, "select count(*) from marts.leads")
    total_won = _one(conn, "select count(distinct lead_id) from intermediate.int_opportunities_resolved where is_won")
    base = total_won / total_leads if total_leads else 0
    return [_value_row(value, n, won, base, fit_min) for value, n, won in rows]


def _value_row(value: str, n: int, won: int, base: float, fit_min: float) -> dict:
    lift = (won / n) / base if base and n else None
    points = 0
    if lift is not None and n >= MIN_VALUE_LEADS:
        points = next((round(fit_min * part) for at_least, part in LIFT_POINTS if lift >= at_least), 0)
    return {"value": value, "leads": n, "won": won, "won_share": round(won / n, 3) if n else None,
            "lift": None if lift is None else round(lift, 2), "suggested_points": points}  # fmt: skip


def how_to_qualify(report: dict, v: dict) -> list[str]:
    """What to do when the rules qualify nothing: settings to try for one run (a ready `leadflow run --vars`
    line), the learned score, or the data the rules read."""
    if sum(r["qualified_now"] for r in report["rules"]):
        return []
    steps = []
    fit_min = float(v.get("mql_min_fit_score", 40))
    settings, named = {}, []
    for name, var, seed in (
        ("lead_source", "fit_lead_source_points", "fit_lead_sources.csv"),
        ("quiz_role", "fit_quiz_role_points", "fit_quiz_roles.csv"),
    ):
        strong = {
            r["value"]: r["suggested_points"] for r in report["fit_values"].get(name, []) if r["suggested_points"]
        }
        if strong:
            # quiz roles are regular expressions in the fit model: the whole role, its special characters escaped
            settings[var] = (
                strong if name == "lead_source" else {f"^{_regex_literal(k)}$": p for k, p in strong.items()}
            )
            named.append((name.replace("_", " ") + "s", seed))
    if settings:
        no_behaviour = not report["signal_families"]["engagement (marketing, web behaviour)"]
        text = ", ".join(
            f"{var}: {{{', '.join(f'{_yaml_key(k)}: {p:g}' for k, p in points.items())}}}"
            for var, points in settings.items()
        ) + (", mql_min_engagement_score: 0" if no_behaviour else "")
        steps.append(
            f"give fit points to the {' and '.join(n for n, _ in named)} that win more often than average (lift >= "
            f"{LIFT_POINTS[-1][0]}, {MIN_VALUE_LEADS}+ leads; {fit_min:g} points = mql_min_fit_score)"
            + (" and, without behaviour data, let MQL rest on fit alone" if no_behaviour else "")
            + f" — for one run:\n      leadflow run --vars {shlex.quote('{' + text + '}')}\n"
            f"    then keep what works in {' and '.join(f'dbt_project/seeds/{seed}' for _, seed in named)}"
            + (" and dbt_project.yml (mql_min_engagement_score)" if no_behaviour else "")
        )
    if report["leads_won"]:
        steps.append(
            f"learn a score from your {report['leads_won']:,} won leads: `leadflow model train`, "
            "`leadflow model activate ID`, then `leadflow run --vars '{mql_score: learned}'` "
            "(or mql_score: learned in dbt_project.yml)"
        )
    else:
        steps.append("load the outcomes (won opportunities, crm.opportunity) so a score can be learned from them")
    if any(not r["can_fire"] for r in report["rules"]):
        steps.append("or bring the data the rules read (see the rules that cannot fire above)")
    return steps


def _regex_literal(text: str) -> str:
    """``text`` as a PostgreSQL regular expression that matches it literally."""
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", text)


def _yaml_key(value: str) -> str:
    return value if value.replace("_", "").isalnum() else json.dumps(value)


def record_profile(url: str, report: dict) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_ops(conn)
        return _one(
            conn,
            "insert into ops.profile_runs (as_of, sources_file, report) values (%s, %s, %s) returning profile_id",
            (report["as_of"], report["sources_file"], json.dumps(report, default=str)),
        )


def render(report: dict) -> str:
    lines = [f"=== leadflow profile (as of {report['as_of']}; {report['sources_file']}) ==="]
    loaded = {k: n for k, n in report["raw_records"].items() if n}
    empty = [k for k, n in report["raw_records"].items() if not n]
    lines.append("raw records: " + (", ".join(f"{k} {n:,}" for k, n in loaded.items()) or "none"))
    if empty:
        lines.append("empty:       " + ", ".join(empty))
    leads = report["leads"]
    lines.append(f"leads: {leads:,}; with an e-mail {report['leads_with_email']:,} (the key across sources); "
                 f"won {report['leads_won']:,}")  # fmt: skip
    lines.append("signal families (leads with any):")
    for name, n in report["signal_families"].items():
        share = f" ({n / leads:.1%})" if leads else ""
        lines.append(f"  {name:<40} {n:>8,}{share}")
    lines.append("scores (p50 / p90 / p99 / max):")
    for column, d in report["score_distributions"].items():
        lines.append(f"  {column:<20} {d['p50']} / {d['p90']} / {d['p99']} / {d['max']}")
    lines.append("rules with today's settings:")
    for rule in report["rules"]:
        verdict = "can fire" if rule["can_fire"] else "cannot fire"
        lines.append(
            f"  {rule['qualification_type']:<24} {verdict:<12} qualified now {rule['qualified_now']:>6,}: {rule['why']}"
        )
    lines.append("thresholds that would qualify the top x% of leads (counted on this load):")
    for share, t in report["mql_thresholds_for_top_share"].items():
        parts = []
        if "mql_min_engagement_score" in t:
            parts.append(f"mql_min_engagement_score {t['mql_min_engagement_score']} (fit as set) -> {t['qualifies']:,}")
        if "fit_alone" in t:
            f = t["fit_alone"]
            parts.append(f"mql_min_fit_score {f['mql_min_fit_score']} with engagement 0 -> {f['qualifies']:,}")
        if "total_score" in t:
            parts.append(f"total_score {t['total_score']}")
        lines.append(
            f"  {share:<8} ({t['target_leads']:,} leads) "
            + ("; ".join(parts) or "no threshold: every lead scores 0 on fit, engagement and total")
        )
    for name, rows in report["fit_values"].items():
        if not rows:
            continue
        lines.append(f"{name.replace('_', ' ')} values (won share, lift; fit points suggested):")
        for r in rows[:12]:
            lift = "-" if r["lift"] is None else f"{r['lift']:.2f}"
            share = "-" if r["won_share"] is None else f"{r['won_share']:.1%}"
            lines.append(f"  {r['value']:<28} {r['leads']:>7,} leads, won {share:>6}, lift {lift:>5}: "
                         f"{r['suggested_points']:g}")  # fmt: skip
        if len(rows) > 12:
            lines.append(f"  ... {len(rows) - 12} more (ops.profile_runs)")
    if report.get("how_to_qualify"):
        lines.append("nothing qualifies with today's settings; to get leads qualified:")
        for i, step in enumerate(report["how_to_qualify"], 1):
            lines.append(f"  {i}. {step}")
    return "\n".join(lines)
