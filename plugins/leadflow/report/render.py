"""Render the lead-qualification report: one self-contained HTML file (charts and their JavaScript inlined, no
network needed to view it), written readable by its owner only (it holds lead e-mails).

Charts are Vega-Lite specs built with Altair (which GX already brings); the Vega / Vega-Lite / vega-embed
JavaScript comes from vl-convert-python, whose wheel carries those libraries and bundles them offline. The
bundle is built once per vl-convert version and kept under $LEADFLOW_HOME/cache/.
"""

from __future__ import annotations

import html
import json
import logging
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from leadflow.report import charts, queries
from leadflow.report.queries import TYPE_LABELS, as_text
from leadflow.settings import Settings, get_settings

log = logging.getLogger("leadflow.report")

REPORT_NAME = "lead-qualification.html"


def report_path(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).report_dir / REPORT_NAME


def vega_bundle(settings: Settings) -> str:
    """Vega, Vega-Lite and vega-embed as one script (built offline by vl-convert; cached per its version)."""
    import vl_convert

    version = vl_convert.__version__ if hasattr(vl_convert, "__version__") else "unknown"
    cache = settings.home_dir / "cache" / f"vega-bundle-{version}.js"
    if cache.exists():
        return cache.read_text()
    bundle = vl_convert.javascript_bundle()
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(bundle)
    tmp.replace(cache)
    return bundle


def _fmt(value: Any, kind: str = "") -> str:
    value = charts.plain(value)
    if value is None:
        return "–"
    if kind == "pct":
        return f"{value:.1%}"
    if kind == "x":
        return f"{value:.2f}×"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _table(columns: list[tuple[str, str, str]], rows: list[dict], empty: str = "nothing yet") -> str:
    """columns: (key, header, kind). Every value is escaped."""
    if not rows:
        return f'<p class="empty">{html.escape(empty)}</p>'
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"num" if k in ("pct", "x", "n") else ""}">{html.escape(_fmt(r.get(key), k))}</td>'
            for key, _, k in columns
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class _Page:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.specs: dict[str, dict] = {}

    def section(self, title: str) -> None:
        self.parts.append(f"<h2>{html.escape(title)}</h2>")

    def chart(self, spec: dict, caption: str, mart: str) -> None:
        chart_id = f"chart{len(self.specs) + 1}"
        self.specs[chart_id] = spec
        self.parts.append(
            f'<figure><div class="chart" id="{chart_id}"></div><figcaption>{html.escape(caption)} '
            f'<span class="source">From <code>{html.escape(mart)}</code>.</span></figcaption></figure>'
        )

    def html(self, fragment: str) -> None:
        self.parts.append(fragment)

    def note(self, text: str) -> None:
        self.parts.append(f'<p class="note">{html.escape(text)}</p>')


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1000px;padding:1.5rem;
color:#1f2328;background:#fff}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
.meta{color:#57606a}.kpis{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.kpi{border:1px solid #d0d7de;border-radius:6px;padding:.6rem 1rem;min-width:9rem}
.kpi b{display:block;font-size:1.5rem}.kpi span{color:#57606a;font-size:.85rem}
.pass{color:#1a7f37}.fail{color:#cf222e}
figure{margin:1rem 0}figcaption{color:#57606a;font-size:.9rem;margin-top:.3rem}
table{border-collapse:collapse;font-size:.85rem;margin:.6rem 0;width:100%}
th,td{border-bottom:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f6f8fa}
.note,.empty{color:#57606a;font-style:italic}code{font-size:.85em}
"""


def build_html(conn: psycopg.Connection, bundle: str, generated_at: datetime) -> str:
    queries.check_marts(conn)
    page = _Page()
    head = queries.overview(conn)
    gate = queries.gate_status(conn)
    grain = queries.time_grain(conn)
    performance = queries.performance(conn)
    quarantine = queries.quarantine(conn)

    if gate is None:
        gate_kpi = "<b>–</b><span>quality gate: not run yet</span>"
    else:
        verdict = "passed" if gate["success"] else f"failed ({gate['failed']} checks)"
        css = "pass" if gate["success"] else "fail"
        gate_kpi = f'<b class="{css}">{verdict}</b><span>quality gate, {gate["evaluated"]} checks</span>'
    overall = next((r for r in performance if r["rule"] == "any" and r["qualification_type"] == "mql"), None)
    page.html(
        '<div class="kpis">'
        f'<div class="kpi"><b>{head["leads"]:,}</b><span>leads</span></div>'
        f'<div class="kpi"><b>{head["qualified"]:,}</b><span>qualified now (any type)</span></div>'
        f'<div class="kpi">{gate_kpi}</div>'
        f'<div class="kpi"><b>{quarantine["total"]:,}</b><span>records quarantined</span></div>'
        + (
            f'<div class="kpi"><b>{_fmt(overall["conversion_rate_qualified"], "pct")}</b>'
            f"<span>MQLs that converted</span></div>"
            if overall
            else ""
        )
        + "</div>"
    )

    page.section("Leads and qualified leads over time")
    page.chart(
        charts.leads_over_time(queries.leads_over_time(conn, grain)),
        f"New leads and leads first qualified per type, per {grain}.",
        "marts.funnel_daily",
    )
    page.chart(
        charts.leads_by_source(queries.leads_by_source(conn, grain)),
        f"Leads first qualified for any type, per {grain} and lead source.",
        "marts.funnel_daily",
    )
    page.html(
        _table(
            [
                ("lead_source", "lead source", ""),
                ("new_leads", "leads", "n"),
                ("qualified", "first qualified", "n"),
                ("won", "won (any time)", "n"),
                ("lead_to_customer", "lead-to-customer", "pct"),
            ],
            queries.source_totals(conn),
        )
    )

    page.section("Do qualified leads convert? Conversion, lift, precision and recall")
    page.chart(
        charts.precision_recall(performance),
        "Precision (qualified leads that won within the conversion window) and recall (won leads the rule had "
        "qualified) per type and rule.",
        "marts.qualification_performance",
    )
    page.chart(
        charts.lift(performance),
        "Lift: how many times more often a qualified lead converts than one the rule never fired for (1 = no better).",
        "marts.qualification_performance",
    )
    page.html(
        _table(
            [
                ("label", "type · rule", ""),
                ("qualified_count", "qualified", "n"),
                ("qualified_won_count", "won", "n"),
                ("conversion_rate_qualified", "conversion if qualified", "pct"),
                ("conversion_rate_not_qualified", "if not", "pct"),
                ("lift", "lift", "x"),
                ("precision", "precision", "pct"),
                ("recall", "recall", "pct"),
                ("conversion_window_days", "window (days)", "n"),
            ],
            [{**r, "label": charts.rule_label(r)} for r in performance],
        )
    )

    page.section("Learned score: lift by decile and calibration")
    scores = queries.score_performance(conn)
    if scores is None:
        page.note(
            "No learned score yet: `leadflow model train` proposes one from your won opportunities "
            "(marts.score_performance is empty)."
        )
    else:
        state = "active" if scores["is_active"] else "proposed, not active"
        page.chart(
            charts.lift_by_decile(scores["deciles"]),
            f"Lift by decile of model {scores['model_id']} ({state}) beside the score it would replace, "
            "on its time-split holdout.",
            "marts.score_performance",
        )
        if scores["calibration"]:
            page.chart(
                charts.calibration(scores["calibration"]),
                "Calibration: mean predicted probability against observed conversion in ten equal-count bins "
                "(on the diagonal = honest probabilities).",
                "ops.score_models (the model card)",
            )

    page.section("Days to qualify and to won")
    page.chart(
        charts.days_to_qualify_and_won(queries.days_to_qualify_and_won(conn)),
        "Average days from a lead's creation to qualifying, and from qualifying to the won opportunity, per type.",
        "marts.funnel_daily",
    )

    page.section("Speed to lead")
    stl = queries.speed_to_lead(conn)
    page.chart(
        charts.speed_to_lead(stl["touch"]),
        "Share of qualified leads whose first sales touch came inside the SLA (hot leads: minutes), per primary type.",
        "marts.speed_to_lead",
    )
    delivery = sorted(
        (
            {**r, "type": TYPE_LABELS[r["qualification_type"]], "share": _share(r)}
            for r in stl["delivery"]
            if r["sla_leads"]
        ),
        key=lambda r: list(TYPE_LABELS).index(r["qualification_type"]),
    )
    page.html(
        _table(
            [
                ("type", "type", ""),
                ("sla_leads", "leads due or delivered", "n"),
                ("delivered_in_sla", "delivered by the sync inside the SLA", "n"),
                ("share", "SLA attainment", "pct"),
            ],
            delivery,
            empty="no qualified lead is due or delivered yet",
        )
        + '<p class="note">Delivery inside the SLA by the outreach sync, from marts.funnel_daily; '
        "the hot row is the speed-to-lead SLA for conversion-qualified leads.</p>"
    )

    page.section("Quality gate and quarantine")
    if gate is None:
        page.note("The quality gate has not run yet: nothing has been validated or sent.")
    else:
        page.html(
            f"<p>Run <code>{html.escape(gate['run_id'])}</code>, validated {as_text(gate['validated_at'])}: "
            f'<b class="{"pass" if gate["success"] else "fail"}">'
            f"{'passed' if gate['success'] else 'FAILED — nothing was sent'}</b>, "
            f"{gate['evaluated']} checks, {gate['failed']} failed.</p>"
        )
        problems = [
            {"suite": s["suite"], "kind": kind, "detail": text}
            for s in gate["suites"]
            for kind, texts in (("failed", s["details"]), ("warning", s["warnings"]))
            for text in texts or []
        ]
        page.html(
            _table(
                [("suite", "suite", ""), ("kind", "", ""), ("detail", "check", "")],
                problems,
                empty="every check passed, no warnings",
            )
        )
    if quarantine["by_entity"]:
        page.chart(
            charts.quarantine(quarantine["by_entity"]),
            "Records that broke the raw contract, kept out of raw with their location and reason, per source entity.",
            "ops.quarantine",
        )
    page.html(
        _table(
            [("entity", "entity", ""), ("field", "field", ""), ("reason", "reason", ""), ("records", "records", "n")],
            quarantine["reasons"],
            empty="nothing was quarantined",
        )
    )

    page.section("Top qualified leads, with their reasons")
    page.html(
        _table(
            [
                ("email", "lead", ""),
                ("type", "type", ""),
                ("total_score", "score", "n"),
                ("route", "route", ""),
                ("qualified", "qualified at", ""),
                ("reasons_text", "why", ""),
            ],
            [
                {
                    **r,
                    "email": r["email"] or r["lead_id"],
                    "type": TYPE_LABELS.get(r["primary_type"], r["primary_type"]),
                    "qualified": as_text(r["qualifying_event_at"]),
                }
                for r in queries.top_qualified(conn)
            ],
            empty="no lead qualifies yet",
        )
        + '<p class="note">From marts.qualified_leads, ranked by type precedence, then score.</p>'
    )

    specs = json.dumps(page.specs, separators=(",", ":")).replace("</", "<\\/")
    safe_bundle = bundle.replace("</script", "<\\/script")
    title = "Lead qualification"
    as_of = as_text(head["as_of"]) or "unknown"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — leadflow</title>
<link rel="icon" href="data:,">
<style>{CSS}</style></head>
<body data-charts="{len(page.specs)}" data-rendered="0">
<h1>{title}</h1>
<p class="meta">As of {html.escape(as_of)} · rendered {as_text(generated_at)} · leadflow</p>
{"".join(page.parts)}
<script type="module">
{safe_bundle}
const specs = {specs};
const runs = Object.entries(specs).map(([id, spec]) =>
  vegaEmbed("#" + id, spec, {{actions: false, renderer: "svg"}}));
Promise.all(runs).then(() => {{ document.body.dataset.rendered = String(runs.length); }})
  .catch((err) => {{ console.error("leadflow report: a chart failed to render", err); }});
</script>
</body></html>
"""


def _share(row: dict) -> float | None:
    return row["delivered_in_sla"] / row["sla_leads"] if row["sla_leads"] else None


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable and writable by its owner only (0600), replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render_report(url: str | None = None, settings: Settings | None = None) -> Path:
    """Render the report from the warehouse into $LEADFLOW_HOME/report/; returns its path.
    Raises ReportUnavailable (one line) when the warehouse holds no marts yet."""
    from leadflow.warehouse.db import connect

    settings = settings or get_settings()
    started = time.monotonic()
    bundle = vega_bundle(settings)
    with connect(url, autocommit=True) as conn:
        text = build_html(conn, bundle, datetime.now(UTC))
    path = report_path(settings)
    write_private(path, text)
    log.info("report: %s (%d kB) in %.1fs", path, len(text) // 1024, time.monotonic() - started)
    return path
