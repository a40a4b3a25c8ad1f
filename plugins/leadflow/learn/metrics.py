"""How well a score ranks and how honest its probabilities are: AUC, lift by decile, calibration."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        return None  # one class only: AUC is undefined
    return float(roc_auc_score(labels, scores))


def lift_by_decile(labels: np.ndarray, scores: np.ndarray) -> list[dict]:
    """Deciles by score, highest first: rows, positives, conversion rate and lift over the base rate.
    Ties are broken at random (seeded), so a constant score gives a lift of about 1 everywhere."""
    labels = np.asarray(labels, dtype=float)
    n = len(labels)
    if n == 0:
        return []
    jitter = np.random.default_rng(0).random(n)
    order = np.lexsort((jitter, -np.asarray(scores, dtype=float)))
    base = labels.mean()
    out = []
    for d, idx in enumerate(np.array_split(order, 10), start=1):
        rate = float(labels[idx].mean()) if len(idx) else 0.0
        out.append(
            {
                "decile": d,
                "rows": int(len(idx)),
                "positives": int(labels[idx].sum()),
                "conversion_rate": round(rate, 4),
                "lift": round(rate / base, 3) if base > 0 else None,
            }
        )
    return out


def calibration(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> tuple[float, list[dict]]:
    """Expected calibration error (row-weighted |mean predicted - observed| over equal-count bins) and the bins."""
    labels = np.asarray(labels, dtype=float)
    probabilities = np.asarray(probabilities, dtype=float)
    order = np.argsort(probabilities, kind="stable")
    table, error = [], 0.0
    for idx in np.array_split(order, bins):
        if not len(idx):
            continue
        predicted, observed = float(probabilities[idx].mean()), float(labels[idx].mean())
        error += len(idx) * abs(predicted - observed)
        table.append({"rows": int(len(idx)), "predicted": round(predicted, 4), "observed": round(observed, 4)})
    return (error / len(labels) if len(labels) else 0.0), table


def single_feature_auc(values, kind: str, train_y: np.ndarray, hold: np.ndarray, hold_y: np.ndarray) -> float | None:
    """How well one feature alone ranks the holdout, either way round: numbers as they are (missing lowest),
    categories by their conversion rate on the training rows (unseen and missing: the base rate)."""
    import pandas as pd

    column = pd.Series(values).reset_index(drop=True)
    if kind == "numeric":
        x = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        finite = x[~np.isnan(x)]
        x = np.where(np.isnan(x), (finite.min() - 1.0) if len(finite) else 0.0, x)
        score = x[hold]
    else:
        train_values = column[~hold].astype(object).where(column[~hold].notna(), None)
        rates = pd.Series(train_y).groupby(train_values.to_numpy()).mean()
        base = float(np.mean(train_y)) if len(train_y) else 0.0
        score = np.array([rates.get(v, base) if v is not None else base for v in column[hold]], dtype=float)
    a = auc(hold_y, score)
    return None if a is None else max(a, 1.0 - a)
