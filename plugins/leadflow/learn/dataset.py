"""The point-in-time training set, built in the warehouse by dbt and read back as one wide frame."""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import psycopg

from leadflow.settings import get_settings
from leadflow.transform.dbt import project_vars

log = logging.getLogger(__name__)

# Extra columns of an export (crm:*, account:*) holding at most this many distinct numbers are codes
# (traffic type, region, browser), learned per value; larger ones are quantities, learned in ranges.
MAX_CODE_VALUES = 25


def learning_vars(overrides: dict | None = None) -> dict:
    """The learn_* and mql_* settings: dbt_project.yml's vars (the analyst's one place), then ``overrides``."""
    values = {k: v for k, v in project_vars(get_settings()).items() if k.startswith(("learn_", "mql_"))}
    values.update(overrides or {})
    return values


@dataclass
class TrainingSet:
    examples: pd.DataFrame  # example_id, lead_id, cutoff_at, label, rules_total_score (labelled rows only)
    features: pd.DataFrame  # one column per feature, indexed like examples
    kinds: dict[str, str]  # feature -> numeric | categorical


def build_training_set(as_of: datetime | None = None, overrides: dict | None = None) -> None:
    """Run dbt for the training models (learn_training_*) with the learn_* settings."""
    from leadflow.transform.dbt import run_dbt

    extra = {"learn_build_training": True, **(overrides or {})}
    run_dbt(["build", "--select", "learn_training_examples", "learn_training_features"], as_of=as_of, extra_vars=extra)


def read_training_set(url: str, settings: dict) -> TrainingSet:
    with psycopg.connect(url) as conn:
        examples = pd.DataFrame(
            conn.execute(
                "select lead_id, cutoff_at, label, rules_total_score from learning.learn_training_examples"
                " where label is not null order by cutoff_at, lead_id"
            ).fetchall(),
            columns=["lead_id", "cutoff_at", "label", "rules_total_score"],
        )
        long = pd.DataFrame(
            conn.execute(
                "select lead_id, cutoff_at, feature, value_num, value_text from learning.learn_training_features"
            ).fetchall(),
            columns=["lead_id", "cutoff_at", "feature", "value_num", "value_text"],
        )
    examples["rules_total_score"] = examples["rules_total_score"].astype(float)
    features, kinds = widen(long, examples[["lead_id", "cutoff_at"]], settings)
    return TrainingSet(examples.reset_index(drop=True), features, kinds)


def selected(feature: str, settings: dict) -> bool:
    include = settings.get("learn_features_include") or ["*"]
    exclude = settings.get("learn_features_exclude") or []
    return any(fnmatch.fnmatchcase(feature, p) for p in include) and not any(
        fnmatch.fnmatchcase(feature, p) for p in exclude
    )


def feature_kinds(long: pd.DataFrame) -> dict[str, str]:
    """numeric when every value is a number (codes of an export's extra column excepted), else categorical."""
    kinds = {}
    for feature, rows in long.groupby("feature", sort=True):
        numeric = rows["value_num"].notna().all()
        if numeric and feature.startswith(("crm:", "account:")) and rows["value_num"].nunique() <= MAX_CODE_VALUES:
            numeric = False
        kinds[feature] = "numeric" if numeric else "categorical"
    return kinds


def widen(long: pd.DataFrame, keys: pd.DataFrame, settings: dict, kinds: dict[str, str] | None = None):
    """Long feature rows -> one row per key (lead_id, cutoff_at), one column per selected feature."""
    wanted = [f for f in long["feature"].unique() if selected(f, settings)]
    long = long[long["feature"].isin(wanted)]
    kinds = kinds or feature_kinds(long)
    key = ["lead_id", "cutoff_at", "feature"]
    long = long[long["feature"].isin(kinds)].drop_duplicates(key)
    numeric = [f for f, k in kinds.items() if k == "numeric"]
    is_numeric = long["feature"].isin(numeric)
    wide = keys.set_index(["lead_id", "cutoff_at"])
    for rows, column in ((long[is_numeric], "value_num"), (long[~is_numeric], "value_text")):
        if len(rows):
            wide = wide.join(rows.set_index(key)[column].unstack("feature"), how="left")
    for f in kinds:
        if f not in wide:
            wide[f] = None
    for f in numeric:
        wide[f] = pd.to_numeric(wide[f], errors="coerce").astype(float)
    for f in set(kinds) - set(numeric):
        wide[f] = wide[f].astype(object).where(wide[f].notna(), None)
    return wide.reset_index(drop=True)[sorted(kinds)], kinds
