"""A learned model as plain points, and how a lead's features map onto them.

The same table dbt applies (ops.score_model_points, models/learning/learn_lead_contributions.sql): per
feature one row per numeric range, category, 'other' category and missing value, each with log-odds points.
log-odds = intercept + for each feature the points of the lead's bin (its missing bin when it has no value).
``apply_points`` is this module's reading of that rule; a test checks it gives dbt's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class FeatureBins:
    """One feature's bins: numeric ranges [lower, upper) or categories, plus 'other' and missing."""

    feature: str
    kind: str  # "numeric" | "categorical"
    edges: list[float] = field(default_factory=list)  # numeric: inner cut points, ascending
    categories: list[str] = field(default_factory=list)  # categorical: the named categories
    points: list[float] = field(default_factory=list)  # numeric: len(edges)+1; categorical: len(categories)+1 (other)
    missing_points: float = 0.0

    def rows(self, model_id: str) -> list[dict]:
        """This feature as ops.score_model_points rows."""
        out = [_row(model_id, self.feature, 0, "missing", label="no value", points=self.missing_points)]
        if self.kind == "numeric":
            bounds = [None, *self.edges, None]
            for i, pts in enumerate(self.points):
                lo, hi = bounds[i], bounds[i + 1]
                out.append(_row(model_id, self.feature, i + 1, "range", lo, hi, label=_range_label(lo, hi), points=pts))
        else:
            for i, (cat, pts) in enumerate(zip(self.categories, self.points, strict=False)):
                out.append(_row(model_id, self.feature, i + 1, "category", category=cat, label=cat, points=pts))
            out.append(
                _row(model_id, self.feature, len(self.categories) + 1, "other", label="other", points=self.points[-1])
            )
        return out

    def column_points(self, values: pd.Series) -> np.ndarray:
        """Points of each value (NaN/None = missing)."""
        if self.kind == "numeric":
            v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            idx = np.searchsorted(np.asarray(self.edges, dtype=float), v, side="right")
            pts = np.asarray(self.points, dtype=float)[np.clip(idx, 0, len(self.points) - 1)]
            return np.where(np.isnan(v), self.missing_points, pts)
        lookup = dict(zip(self.categories, self.points, strict=False))
        other = self.points[-1]
        return np.array(
            [self.missing_points if (v is None or v is pd.NA or v != v) else lookup.get(v, other) for v in values],
            dtype=float,
        )


def _row(model_id, feature, bin_id, kind, lower=None, upper=None, category=None, *, label, points) -> dict:
    return {
        "model_id": model_id,
        "feature": feature,
        "bin_id": bin_id,
        "bin_kind": kind,
        "lower_bound": lower,
        "upper_bound": upper,
        "category": category,
        "label": label,
        "points": float(points),
    }


def _num(x: float) -> str:
    return f"{x:.4g}"


def _range_label(lo: float | None, hi: float | None) -> str:
    if lo is None and hi is None:
        return "any value"
    if lo is None:
        return f"below {_num(hi)}"
    if hi is None:
        return f"{_num(lo)} or more"
    return f"{_num(lo)} to below {_num(hi)}"


@dataclass
class PointsModel:
    """An additive model: log-odds = intercept + sum of each feature's points."""

    intercept: float
    features: list[FeatureBins]

    def log_odds(self, frame: pd.DataFrame) -> np.ndarray:
        total = np.full(len(frame), self.intercept, dtype=float)
        for fb in self.features:
            values = frame[fb.feature] if fb.feature in frame else pd.Series([None] * len(frame), index=frame.index)
            total += fb.column_points(values)
        return total

    def probability(self, frame: pd.DataFrame) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.log_odds(frame), -50, 50)))

    def rows(self, model_id: str) -> list[dict]:
        return [row for fb in self.features for row in fb.rows(model_id)]


def apply_points(model: PointsModel, frame: pd.DataFrame) -> np.ndarray:
    """Calibrated conversion probability of each row of a wide feature frame."""
    return model.probability(frame)
