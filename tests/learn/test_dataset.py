"""The training set's wide frame: one row per training row, one column per feature, missing where absent."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from leadflow.learn.dataset import widen

T = datetime(2026, 1, 1, tzinfo=UTC)
COLUMNS = ["lead_id", "cutoff_at", "feature", "value_num", "value_text"]
KEYS = pd.DataFrame([("a", T), ("b", T), ("c", T)], columns=["lead_id", "cutoff_at"])


def test_categories_only_and_numbers_only_both_widen() -> None:
    categories = pd.DataFrame(
        [("a", T, "lead:source", None, "ads"), ("b", T, "lead:source", None, "web")], columns=COLUMNS
    )
    frame, kinds = widen(categories, KEYS, {})
    assert kinds == {"lead:source": "categorical"}
    assert list(frame["lead:source"]) == ["ads", "web", None]
    numbers = pd.DataFrame([("b", T, "signal:page_view:count", 3.0, None)], columns=COLUMNS)
    frame, kinds = widen(numbers, KEYS, {})
    assert kinds == {"signal:page_view:count": "numeric"}
    assert frame["signal:page_view:count"].isna().tolist() == [True, False, True]


def test_settings_select_features_and_export_codes_are_categories() -> None:
    rows = [(k, T, "crm:traffictype", float(i % 3), str(i % 3)) for i, k in enumerate("abc")]
    rows += [(k, T, "signal:email_open:count", 1.0, None) for k in "abc"]
    frame, kinds = widen(pd.DataFrame(rows, columns=COLUMNS), KEYS, {"learn_features_exclude": ["signal:*"]})
    assert kinds == {"crm:traffictype": "categorical"}  # a handful of numbers in an export column: codes
    assert list(frame.columns) == ["crm:traffictype"]
