"""Train, compare, propose, activate: the model card lifecycle in ops.score_models.

``train`` builds the point-in-time training set in the warehouse, splits it by time (the latest rows are
the holdout), fits every candidate on the earlier rows, keeps the one that ranks the holdout best, and
records it as *proposed* with its card and points. It is recommended for activation only when it has
enough positives and beats what drives scoring today (the active model, else the rules' total score) on
the same holdout rows. ``activate`` is a person's decision: it retires the previous active model.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from leadflow.learn import metrics
from leadflow.learn.dataset import TrainingSet, build_training_set, learning_vars, read_training_set
from leadflow.learn.models import CANDIDATES
from leadflow.learn.points import FeatureBins, PointsModel

log = logging.getLogger(__name__)


class LearnError(RuntimeError):
    """A training or activation request that cannot be met (message says why)."""


@dataclass
class Card:
    model_id: str
    status: str
    recommended: bool
    message: str
    row: dict


def split(ts: TrainingSet, settings: dict) -> np.ndarray:
    """Holdout mask: rows from learn_holdout_start, else the latest learn_holdout_fraction of rows by cutoff."""
    cutoffs = pd.to_datetime(ts.examples["cutoff_at"], utc=True)
    start = settings.get("learn_holdout_start")
    if start:
        boundary = pd.Timestamp(str(start))
        boundary = boundary.tz_localize("UTC") if boundary.tzinfo is None else boundary
    else:
        fraction = float(settings.get("learn_holdout_fraction", 0.2))
        boundary = cutoffs.quantile(1 - fraction)
    mask = (cutoffs >= boundary).to_numpy()
    if mask.all() or not mask.any():
        raise LearnError(
            f"the holdout split at {boundary} leaves {int((~mask).sum())} training and {int(mask.sum())} holdout "
            "rows: set learn_holdout_start or learn_holdout_fraction so both have rows"
        )
    return mask


def leaking_features(ts: TrainingSet, y: np.ndarray, hold: np.ndarray, threshold: float) -> dict[str, float]:
    """Features that alone rank the holdout at AUC >= threshold: in a lead export, a column that good is the
    outcome itself ("Converted", a deal stage, a close date), recorded on the lead after the fact."""
    leaks = {}
    for feature in ts.features.columns:
        alone = metrics.single_feature_auc(ts.features[feature], ts.kinds[feature], y[~hold], hold, y[hold])
        if alone is not None and alone >= threshold:
            leaks[feature] = round(alone, 4)
    return leaks


def threshold_for(target: dict, probabilities: np.ndarray, labels: np.ndarray, days: float) -> tuple[float | None, str]:
    """The probability threshold that meets mql_learned_target on the holdout, and how it was chosen."""
    order = np.argsort(-probabilities, kind="stable")
    p, y = probabilities[order], labels[order]
    if "probability" in target:
        return float(target["probability"]), f"probability >= {target['probability']}"
    if "top_k_per_day" in target:
        k = max(1, int(round(float(target["top_k_per_day"]) * max(days, 1.0))))
        t = float(p[min(k, len(p)) - 1]) if len(p) else None
        return t, f"about {target['top_k_per_day']} leads a day (the holdout's top {k} over {days:.0f} days)"
    if "precision" in target:
        want = float(target["precision"])
        precision = np.cumsum(y) / np.arange(1, len(y) + 1)
        ok = np.nonzero(precision >= want)[0]
        if not len(ok):
            return None, f"no threshold reaches precision {want} on the holdout"
        i = int(ok[-1])
        return float(p[i]), f"precision >= {want} on the holdout ({precision[i]:.3f} at {i + 1} leads)"
    raise LearnError(
        f"mql_learned_target {target!r}: expected {{precision: p}}, {{top_k_per_day: k}} or {{probability: x}}"
    )


def load_model(conn: psycopg.Connection, model_id: str) -> PointsModel:
    row = conn.execute("select intercept from ops.score_models where model_id = %s", (model_id,)).fetchone()
    if row is None:
        raise LearnError(f"no model {model_id!r} in ops.score_models (see `leadflow model show`)")
    bins: dict[str, FeatureBins] = {}
    for feature, kind, lower, _upper, category, points in conn.execute(
        "select feature, bin_kind, lower_bound, upper_bound, category, points from ops.score_model_points"
        " where model_id = %s order by feature, bin_id",
        (model_id,),
    ):
        fb = bins.setdefault(feature, FeatureBins(feature, "numeric"))
        if kind == "missing":
            fb.missing_points = points
        elif kind == "range":
            if lower is not None:
                fb.edges.append(lower)
            fb.points.append(points)
        elif kind == "category":
            fb.kind = "categorical"
            fb.categories.append(category)
            fb.points.append(points)
        else:  # other
            fb.kind = "categorical"
            fb.points.append(points)
    return PointsModel(float(row[0]), list(bins.values()))


def active_model_id(conn: psycopg.Connection) -> str | None:
    row = conn.execute(
        "select model_id from ops.score_models where status = 'active' order by activated_at desc limit 1"
    ).fetchone()
    return row[0] if row else None


def train(
    url: str,
    as_of: datetime | None = None,
    overrides: dict | None = None,
    algorithms: tuple[str, ...] = ("scorecard", "ebm"),
    build: bool = True,
    echo=log.info,
) -> Card:
    settings = learning_vars(overrides)
    if build:
        echo("building the point-in-time training set (dbt: learn_training_examples, learn_training_features)")
        build_training_set(as_of, {k: v for k, v in (overrides or {}).items()})
    ts = read_training_set(url, settings)
    if ts.examples.empty:
        raise LearnError("the training set is empty: no lead has a cutoff whose label window has elapsed")
    y = ts.examples["label"].to_numpy(dtype=int)
    hold = split(ts, settings)
    train_y, hold_y = y[~hold], y[hold]
    echo(
        f"training rows {len(train_y):,} ({int(train_y.sum()):,} converted), holdout {len(hold_y):,} "
        f"({int(hold_y.sum()):,} converted), {ts.features.shape[1]} features"
    )
    leaks = leaking_features(ts, y, hold, float(settings.get("learn_leak_auc", 0.98)))
    for feature, alone in leaks.items():
        echo(f"  left out {feature}: alone it ranks the holdout at AUC {alone:.3f}, so it likely records the outcome")
    features = ts.features.drop(columns=list(leaks))
    kinds = {f: k for f, k in ts.kinds.items() if f not in leaks}
    if features.shape[1] == 0:
        raise LearnError("no feature is left to learn from (every one was left out as recording the outcome)")
    train_x, hold_x = features[~hold].reset_index(drop=True), features[hold].reset_index(drop=True)
    candidates, fitted = {}, {}
    for name in algorithms:
        if name not in CANDIDATES:
            raise LearnError(f"unknown algorithm {name!r}: choose from {', '.join(CANDIDATES)}")
        started = datetime.now(UTC)
        if train_y.min() == train_y.max():
            raise LearnError("the training rows hold one class only: nothing to learn from")
        model = CANDIDATES[name](train_x, train_y, kinds)
        proba = model.probability(hold_x)
        fitted[name] = (model, proba)
        candidates[name] = {
            "holdout_auc": _round(metrics.auc(hold_y, proba)),
            "fit_seconds": round((datetime.now(UTC) - started).total_seconds(), 1),
        }
        echo(f"  {name}: holdout AUC {candidates[name]['holdout_auc']} ({candidates[name]['fit_seconds']} s)")
    chosen = max(fitted, key=lambda n: candidates[n]["holdout_auc"] or 0.0)
    model, proba = fitted[chosen]

    with psycopg.connect(url) as conn:
        active = active_model_id(conn)
        if active:
            baseline_name = f"active model {active}"
            baseline_scores = load_model(conn, active).probability(hold_x)
        else:
            baseline_name = "rules total score"
            baseline_scores = ts.examples["rules_total_score"].to_numpy(dtype=float)[hold]
    holdout_auc = metrics.auc(hold_y, proba)
    baseline_auc = metrics.auc(hold_y, baseline_scores)
    ece, reliability = metrics.calibration(hold_y, proba)
    deciles = metrics.lift_by_decile(hold_y, proba)
    cutoffs = pd.to_datetime(ts.examples["cutoff_at"], utc=True)[hold]
    days = max((cutoffs.max() - cutoffs.min()).total_seconds() / 86400.0, 1.0)
    threshold, threshold_rule = threshold_for(settings.get("mql_learned_target") or {}, proba, hold_y, days)

    problems = []
    positives = int(train_y.sum())
    if positives < int(settings.get("learn_min_positives", 50)):
        problems.append(
            f"only {positives} converted training rows (learn_min_positives is {settings['learn_min_positives']})"
        )
    if holdout_auc is None:
        problems.append("the holdout holds one class only, so the model could not be checked")
    elif baseline_auc is not None and holdout_auc <= baseline_auc:
        problems.append(f"holdout AUC {holdout_auc:.3f} does not beat the {baseline_name} ({baseline_auc:.3f})")
    recommended = not problems
    if recommended:
        vs = f"{baseline_auc:.3f}" if baseline_auc is not None else "n/a"
        message = f"recommended: holdout AUC {holdout_auc:.3f} beats the {baseline_name} ({vs}) on the same rows"
    else:
        message = "not recommended: " + "; ".join(problems)
    if leaks:
        message += (
            "; left out as recording the outcome (alone they rank the holdout at AUC >= learn_leak_auc): "
            + ", ".join(f"{f} ({a:.3f})" for f, a in leaks.items())
            + ". If one is known before the outcome, raise learn_leak_auc; else add it to learn_ignored_columns"
        )

    trained_at = datetime.now(UTC)
    model_id = "lm_" + trained_at.strftime("%Y%m%dT%H%M%S%f")[:-3]
    row = {
        "model_id": model_id,
        "trained_at": trained_at,
        "status": "proposed",
        "algorithm": chosen,
        "cutoff_scheme": f"each lead at days {settings['learn_cutoff_days']} after creation",
        "label_window_days": int(settings["learn_label_window_days"]),
        "training_rows": int(len(train_y)),
        "training_positives": positives,
        "holdout_rows": int(len(hold_y)),
        "holdout_positives": int(hold_y.sum()),
        "holdout_start": cutoffs.min().to_pydatetime(),
        "features": Jsonb(sorted(fb.feature for fb in model.features)),
        "intercept": model.intercept,
        "holdout_auc": _round(holdout_auc),
        "baseline_name": baseline_name,
        "baseline_holdout_auc": _round(baseline_auc),
        "top_decile_lift": deciles[0]["lift"] if deciles else None,
        "lift_by_decile": Jsonb(deciles),
        "baseline_lift_by_decile": Jsonb(metrics.lift_by_decile(hold_y, baseline_scores)),
        "calibration_error": _round(ece),
        "calibration": Jsonb(reliability),
        "candidates": Jsonb(candidates),
        "threshold_probability": threshold,
        "threshold_rule": threshold_rule,
        "message": message,
    }
    with psycopg.connect(url) as conn:
        columns = list(row)
        conn.execute(
            f"insert into ops.score_models ({', '.join(columns)}) values ({', '.join(['%s'] * len(columns))})",  # noqa: S608
            [row[c] for c in columns],
        )
        with conn.cursor() as cur:
            cur.executemany(
                "insert into ops.score_model_points (model_id, feature, bin_id, bin_kind, lower_bound, upper_bound,"
                " category, label, points) values (%(model_id)s, %(feature)s, %(bin_id)s, %(bin_kind)s,"
                " %(lower_bound)s, %(upper_bound)s, %(category)s, %(label)s, %(points)s)",
                model.rows(model_id),
            )
    echo(f"proposed {model_id} ({chosen}): {message}")
    return Card(model_id, "proposed", recommended, message, row)


def activate(url: str, model_id: str, by: str, force: bool = False) -> str:
    """Make ``model_id`` the active model (the previous one is retired); returns what happened."""
    with psycopg.connect(url) as conn:
        row = conn.execute("select status, message from ops.score_models where model_id = %s", (model_id,)).fetchone()
        if row is None:
            raise LearnError(f"no model {model_id!r} in ops.score_models (see `leadflow model show`)")
        status, message = row
        if status == "active":
            return f"{model_id} is already active"
        if message and message.startswith("not recommended") and not force:
            raise LearnError(f"{model_id} is {message}. Activate it anyway with --force.")
        conn.execute("update ops.score_models set status = 'retired', retired_at = now() where status = 'active'")
        conn.execute(
            "update ops.score_models set status = 'active', activated_at = now(), activated_by = %s,"
            " retired_at = null where model_id = %s",
            (by, model_id),
        )
    return f"{model_id} is active: the next dbt build scores every lead with it"


def cards(url: str, model_id: str | None = None) -> list[dict]:
    with psycopg.connect(url) as conn:
        cur = conn.execute(
            "select * from ops.score_models where %s::text is null or model_id = %s order by trained_at desc",
            (model_id, model_id),
        )
        names = [d.name for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def top_points(url: str, model_id: str, limit: int = 15) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select feature, label, points from ops.score_model_points where model_id = %s"
            " order by abs(points) desc limit %s",
            (model_id, limit),
        ).fetchall()


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)


def card_json(card: dict) -> str:
    return json.dumps(card, default=str, indent=2)


def train_and_propose() -> dict:
    """The weekly DAG's task: train on the run's as-of and propose the model (a person activates it)."""
    from leadflow.pipeline import run_context
    from leadflow.warehouse.db import warehouse_url

    _, as_of = run_context()
    card = train(warehouse_url(), as_of=as_of)
    return {"model_id": card.model_id, "recommended": card.recommended, "message": card.message}
