"""The model card's figures and the MQL threshold by target, on small hand-checked cases."""

from __future__ import annotations

import numpy as np
import pytest

from leadflow.learn import metrics
from leadflow.learn.train import LearnError, threshold_for


def test_auc_is_undefined_for_one_class_and_exact_otherwise() -> None:
    assert metrics.auc(np.array([1, 1, 1]), np.array([0.1, 0.2, 0.3])) is None
    assert metrics.auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)


def test_lift_by_decile_puts_the_converters_of_a_perfect_score_in_the_top_decile() -> None:
    labels = np.array([1] * 10 + [0] * 90)
    deciles = metrics.lift_by_decile(labels, np.arange(100, 0, -1))
    assert [d["rows"] for d in deciles] == [10] * 10
    assert deciles[0]["conversion_rate"] == 1.0 and deciles[0]["lift"] == 10.0
    assert all(d["positives"] == 0 for d in deciles[1:])


def test_calibration_error_is_zero_when_predictions_match_outcomes_per_bin() -> None:
    probabilities = np.repeat([0.0, 0.5, 1.0], 4)
    labels = np.array([0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 1, 1])
    error, table = metrics.calibration(labels, probabilities, bins=3)
    assert error == pytest.approx(0.0)
    assert [row["observed"] for row in table] == [0.0, 0.5, 1.0]
    error, _ = metrics.calibration(labels, np.full(12, 0.9), bins=1)  # one bin: |mean predicted - rate|
    assert error == pytest.approx(abs(0.9 - 0.5))


def test_threshold_by_precision_top_k_and_probability() -> None:
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    y = np.array([1, 1, 0, 1, 0, 0])
    # precision at 1..6 leads: 1, 1, .67, .75, .6, .5 -> the most leads still >= 0.7 is 4 (threshold 0.6)
    assert threshold_for({"precision": 0.7}, p, y, days=3)[0] == pytest.approx(0.6)
    assert threshold_for({"precision": 0.99}, p, y, days=3)[0] == pytest.approx(0.8)
    assert threshold_for({"precision": 1.01}, p, y, days=3)[0] is None
    # 1 lead a day over a 3-day holdout: the third-highest probability
    assert threshold_for({"top_k_per_day": 1}, p, y, days=3)[0] == pytest.approx(0.7)
    assert threshold_for({"probability": 0.25}, p, y, days=3)[0] == 0.25
    with pytest.raises(LearnError, match="mql_learned_target"):
        threshold_for({"recall": 0.5}, p, y, days=3)


def test_single_feature_auc_reads_numbers_as_they_are_and_categories_by_training_rates() -> None:
    from leadflow.learn.metrics import single_feature_auc

    y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    hold = np.array([False] * 4 + [True] * 4)
    # a number that orders the holdout backwards still ranks it perfectly, either way round
    assert single_feature_auc([9, 1, 9, 1, 8, 2, 7, 3], "numeric", y[~hold], hold, y[hold]) == 1.0
    # categories score by their training conversion rate; an unseen one gets the base rate
    values = ["a", "b", "a", "b", "a", "b", "a", "a"]  # holdout scores 0, 1, 0, 0 for labels 0, 1, 0, 1
    assert single_feature_auc(values, "categorical", y[~hold], hold, y[hold]) == 0.75
    assert single_feature_auc(["a", "b", "a", "b", "c", "c", "c", "c"], "categorical", y[~hold], hold, y[hold]) == 0.5
    # an id, unique per row, tells the holdout nothing
    ids = [f"id{i}" for i in range(8)]
    assert single_feature_auc(ids, "categorical", y[~hold], hold, y[hold]) == 0.5
