"""The report's charts as Vega-Lite specs (built with Altair from the rows queries.py returns)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import altair as alt

from leadflow.report.queries import TYPE_LABELS, TYPE_ORDER

WIDTH = 640
LABELS = alt.Axis(labelLimit=360)
TYPE_DOMAIN = [TYPE_LABELS[t] for t in TYPE_ORDER]


def plain(value: Any) -> Any:
    """A JSON-ready value: numbers as floats, dates as ISO strings."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _data(records: list[dict]) -> alt.Data:
    return alt.Data(values=[{k: plain(v) for k, v in r.items()} for r in records])


def _spec(chart: alt.TopLevelMixin) -> dict:
    return chart.properties(width=WIDTH).to_dict()


def leads_over_time(rows: list[dict]) -> dict:
    series = []
    for r in rows:
        if r["qualification_type"] == "any":
            series.append({"period": r["period"], "series": "new leads", "leads": r["new_leads"]})
        series.append(
            {
                "period": r["period"],
                "series": f"qualified: {TYPE_LABELS[r['qualification_type']]}",
                "leads": r["new_qualified_leads"],
            }
        )
    chart = (
        alt.Chart(_data(series))
        .mark_line(point=True)
        .encode(
            x=alt.X("period:T", title=None),
            y=alt.Y("leads:Q", title="leads"),
            color=alt.Color("series:N", title=None),
            tooltip=["period:T", "series:N", "leads:Q"],
        )
        .properties(height=260)
    )
    return _spec(chart)


def leads_by_source(rows: list[dict]) -> dict:
    chart = (
        alt.Chart(_data(rows))
        .mark_bar()
        .encode(
            x=alt.X("period:O", title=None, axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("new_qualified_leads:Q", title="leads first qualified (any type)"),
            color=alt.Color("lead_source:N", title="lead source"),
            tooltip=["period:O", "lead_source:N", "new_leads:Q", "new_qualified_leads:Q"],
        )
        .properties(height=240)
    )
    return _spec(chart)


def rule_label(r: dict) -> str:
    rule = "all rules" if r["rule"] == "any" else r["rule"]
    return f"{TYPE_LABELS[r['qualification_type']]} · {rule}"


def precision_recall(rows: list[dict]) -> dict:
    records = [
        {"rule": rule_label(r), "metric": metric, "value": r[metric], "qualified": r["qualified_count"]}
        for r in rows
        for metric in ("precision", "recall")
        if r[metric] is not None
    ]
    order = [rule_label(r) for r in rows]
    chart = (
        alt.Chart(_data(records))
        .mark_bar()
        .encode(
            y=alt.Y("rule:N", sort=order, title=None, axis=LABELS),
            x=alt.X("value:Q", title="share", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=alt.Color("metric:N", title=None),
            yOffset="metric:N",
            tooltip=["rule:N", "metric:N", alt.Tooltip("value:Q", format=".1%"), "qualified:Q"],
        )
        .properties(height=alt.Step(9))
    )
    return _spec(chart)


def lift(rows: list[dict]) -> dict:
    records = [{"rule": rule_label(r), "lift": r["lift"]} for r in rows if r["lift"] is not None]
    order = [rule_label(r) for r in rows]
    bars = (
        alt.Chart(_data(records))
        .mark_bar()
        .encode(
            y=alt.Y("rule:N", sort=order, title=None, axis=LABELS),
            x=alt.X("lift:Q", title="conversion when qualified ÷ conversion when not"),
            tooltip=["rule:N", alt.Tooltip("lift:Q", format=".2f")],
        )
    )
    one = alt.Chart(alt.Data(values=[{"x": 1}])).mark_rule(strokeDash=[4, 3], color="#666").encode(x="x:Q")
    return _spec(alt.layer(bars, one).properties(height=alt.Step(16)))


def days_to_qualify_and_won(rows: list[dict]) -> dict:
    records = [
        {"type": TYPE_LABELS[r["qualification_type"]], "measure": measure, "days": r[column]}
        for r in rows
        for measure, column in (("creation → qualified", "avg_days_to_qualify"), ("qualified → won", "avg_days_to_won"))
        if r[column] is not None
    ]
    chart = (
        alt.Chart(_data(records))
        .mark_bar()
        .encode(
            y=alt.Y("type:N", sort=[*TYPE_DOMAIN, TYPE_LABELS["any"]], title=None),
            x=alt.X("days:Q", title="average days"),
            color=alt.Color("measure:N", title=None),
            yOffset="measure:N",
            tooltip=["type:N", "measure:N", alt.Tooltip("days:Q", format=".1f")],
        )
        .properties(height=alt.Step(12))
    )
    return _spec(chart)


def speed_to_lead(touch: list[dict]) -> dict:
    records = [
        {"type": TYPE_LABELS[r["primary_type"]], "outcome": outcome, "leads": r[key]}
        for r in touch
        for outcome, key in (("first touch inside SLA", "met"), ("missed", "missed"), ("not yet due", "pending"))
    ]
    chart = (
        alt.Chart(_data(records))
        .mark_bar()
        .encode(
            y=alt.Y("type:N", sort=TYPE_DOMAIN, title=None),
            x=alt.X("leads:Q", stack="normalize", title="share of qualified leads", axis=alt.Axis(format="%")),
            color=alt.Color(
                "outcome:N",
                title=None,
                scale=alt.Scale(
                    domain=["first touch inside SLA", "missed", "not yet due"], range=["#2e7d32", "#c62828", "#9e9e9e"]
                ),
            ),
            tooltip=["type:N", "outcome:N", "leads:Q"],
        )
        .properties(height=alt.Step(22))
    )
    return _spec(chart)


def lift_by_decile(deciles: list[dict]) -> dict:
    chart = (
        alt.Chart(_data(deciles))
        .mark_line(point=True)
        .encode(
            x=alt.X("decile:O", title="decile (1 = highest scores)"),
            y=alt.Y("lift:Q", title="lift over the holdout's conversion"),
            color=alt.Color("score:N", title="score"),
            tooltip=["score:N", "decile:O", "holdout_rows:Q", "conversions:Q", alt.Tooltip("lift:Q", format=".2f")],
        )
        .properties(height=240)
    )
    return _spec(chart)


def calibration(bins: list[dict]) -> dict:
    points = (
        alt.Chart(_data(bins))
        .mark_circle(size=70)
        .encode(
            x=alt.X("predicted:Q", title="predicted probability", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("observed:Q", title="observed conversion", scale=alt.Scale(domain=[0, 1])),
            tooltip=["rows:Q", alt.Tooltip("predicted:Q", format=".3f"), alt.Tooltip("observed:Q", format=".3f")],
        )
    )
    diagonal = (
        alt.Chart(alt.Data(values=[{"p": 0}, {"p": 1}]))
        .mark_line(strokeDash=[4, 3], color="#666")
        .encode(x="p:Q", y="p:Q")
    )
    return alt.layer(diagonal, points).properties(width=320, height=320).to_dict()


def quarantine(by_entity: list[dict]) -> dict:
    chart = (
        alt.Chart(_data(by_entity))
        .mark_bar(color="#c62828")
        .encode(
            y=alt.Y("entity:N", sort="-x", title=None),
            x=alt.X("quarantined:Q", title="records quarantined (all runs)"),
            tooltip=["entity:N", "quarantined:Q", "latest_run:Q"],
        )
        .properties(height=alt.Step(18))
    )
    return _spec(chart)
