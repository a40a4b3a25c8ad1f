"""Two explainable, additive candidates, each exported as plain points (points.PointsModel):

- ``scorecard``: a binned logistic scorecard — numbers cut at their quantiles, categories kept when
  frequent enough, every bin and 'missing' one-hot encoded, fitted by scikit-learn's L2 logistic regression
  (its strength chosen on the latest part of the training rows). A bin's coefficient is its points.
- ``ebm``: an Explainable Boosting Machine (InterpretML) without interactions: each feature's learned
  shape function is a table of bins and scores, i.e. points.

Both optimise log-loss, so their probabilities are calibrated on the training rows; the model card reports
how well they hold on the holdout. Every export is checked against the fitted model's own predictions.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
from scipy import sparse

from leadflow.learn.points import FeatureBins, PointsModel

log = logging.getLogger(__name__)

N_BINS = 8  # quantile bins per numeric feature (scorecard)
MAX_CATEGORIES = 30  # categories kept per feature, most frequent first; the rest are 'other'
MIN_CATEGORY_ROWS = 10  # a category needs this many training rows (and 0.2% of them) to be kept
C_GRID = (0.03, 0.1, 0.3)  # L2 strengths tried on the latest fifth of the training rows


class ExportMismatch(RuntimeError):
    """The exported points do not reproduce the fitted model's predictions."""


def _categories(values: pd.Series) -> list[str]:
    counts = values.dropna().value_counts()
    floor = max(MIN_CATEGORY_ROWS, int(0.002 * len(values)))
    return [str(c) for c in counts[counts >= floor].index[:MAX_CATEGORIES]]


def _scorecard_bins(X: pd.DataFrame, kinds: dict[str, str]) -> list[FeatureBins]:
    bins = []
    for feature in X.columns:
        column = X[feature]
        if column.notna().sum() == 0:
            continue
        if kinds[feature] == "numeric":
            values = column.dropna().to_numpy(dtype=float)
            qs = np.quantile(values, np.linspace(0, 1, N_BINS + 1)[1:-1])
            edges = sorted(set(float(q) for q in qs) - {float(values.min())})
            bins.append(FeatureBins(feature, "numeric", edges=edges, points=[0.0] * (len(edges) + 1)))
        else:
            cats = _categories(column)
            bins.append(FeatureBins(feature, "categorical", categories=cats, points=[0.0] * (len(cats) + 1)))
    return bins


def _design(X: pd.DataFrame, bins: list[FeatureBins]) -> tuple[sparse.csr_matrix, list[tuple[int, int]]]:
    """One-hot of each feature's bin (missing = its last column); returns the matrix and each feature's span."""
    n = len(X)
    rows, cols, spans, offset = [], [], [], 0
    for fb in bins:
        width = len(fb.points) + 1  # bins (or categories + other) + missing
        if fb.kind == "numeric":
            v = X[fb.feature].to_numpy(dtype=float)
            idx = np.searchsorted(np.asarray(fb.edges, dtype=float), v, side="right")
            idx = np.where(np.isnan(v), width - 1, idx)
        else:
            lookup = {c: i for i, c in enumerate(fb.categories)}
            other = len(fb.categories)
            idx = np.array([width - 1 if v is None else lookup.get(v, other) for v in X[fb.feature]], dtype=int)
        rows.append(np.arange(n))
        cols.append(idx + offset)
        spans.append((offset, width))
        offset += width
    matrix = sparse.csr_matrix(
        (np.ones(n * len(bins)), (np.concatenate(rows), np.concatenate(cols))), shape=(n, offset)
    )
    return matrix, spans


def fit_scorecard(X: pd.DataFrame, y: np.ndarray, kinds: dict[str, str]) -> PointsModel:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    bins = _scorecard_bins(X, kinds)
    matrix, spans = _design(X, bins)
    # the regularisation strength that ranks the latest fifth of the training rows best (rows are in time order)
    cut = int(len(y) * 0.8)
    best_c, best_auc = C_GRID[-1], -1.0
    if 0 < y[:cut].sum() < cut and 0 < y[cut:].sum() < len(y) - cut:
        for c in C_GRID:
            fitted = LogisticRegression(C=c, max_iter=2000).fit(matrix[:cut], y[:cut])
            score = roc_auc_score(y[cut:], fitted.decision_function(matrix[cut:]))
            if score > best_auc:
                best_c, best_auc = c, score
    model = LogisticRegression(C=best_c, max_iter=2000).fit(matrix, y)
    coef = model.coef_[0]
    for fb, (offset, width) in zip(bins, spans, strict=True):
        fb.points = [float(x) for x in coef[offset : offset + width - 1]]
        fb.missing_points = float(coef[offset + width - 1])
    points = PointsModel(float(model.intercept_[0]), bins)
    _check(points, X, model.decision_function(matrix), "scorecard")
    log.info("scorecard: %d features, %d bins, C=%s", len(bins), matrix.shape[1], best_c)
    return points


def fit_ebm(X: pd.DataFrame, y: np.ndarray, kinds: dict[str, str]) -> PointsModel:
    from interpret.glassbox import ExplainableBoostingClassifier

    used = [f for f in X.columns if X[f].notna().any()]
    frame = X[used].copy()
    types = ["continuous" if kinds[f] == "numeric" else "nominal" for f in used]
    ebm = ExplainableBoostingClassifier(
        feature_names=used,
        feature_types=types,
        interactions=0,
        outer_bags=4,
        max_bins=64,
        n_jobs=2,
        random_state=0,
    )
    with warnings.catch_warnings():  # "missing values detected": the points keep them, as their own bin
        warnings.simplefilter("ignore", UserWarning)
        ebm.fit(frame, y)
    bins = []
    for i, feature in enumerate(used):
        binning = ebm.bins_[i][0]
        scores = np.asarray(ebm.term_scores_[i], dtype=float)
        if isinstance(binning, dict):
            ordered = sorted(binning.items(), key=lambda kv: kv[1])
            cats = [str(c) for c, _ in ordered]
            pts = [float(scores[j]) for _, j in ordered] + [float(scores[-1])]
            bins.append(FeatureBins(feature, "categorical", categories=cats, points=pts, missing_points=scores[0]))
        else:
            edges = [float(e) for e in binning]
            pts = [float(s) for s in scores[1 : len(edges) + 2]]
            bins.append(FeatureBins(feature, "numeric", edges=edges, points=pts, missing_points=float(scores[0])))
    points = PointsModel(float(ebm.intercept_[0]), bins)
    _check(points, X, ebm.decision_function(frame), "ebm")
    return points


def _check(points: PointsModel, X: pd.DataFrame, expected: np.ndarray, name: str) -> None:
    got = points.log_odds(X)
    worst = float(np.max(np.abs(got - expected))) if len(got) else 0.0
    if worst > 1e-6:
        raise ExportMismatch(f"{name}: exported points differ from the fitted model by up to {worst:.3g} log-odds")


CANDIDATES = {"scorecard": fit_scorecard, "ebm": fit_ebm}
