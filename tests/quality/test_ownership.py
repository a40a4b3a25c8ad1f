"""One owner per check (plugins/leadflow/quality/gate.py says who owns what): dbt's contracts and tests own the
constraints on a model's columns; the Great Expectations suites never restate one. Read from dbt's manifest
(``dbt parse``, no warehouse) and the suites in expectations/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

DBT = str(Path(sys.executable).parent / "dbt")

# GX expectation -> the constraint it states on a column (None: on the table's columns as a whole).
COLUMN_CONSTRAINTS = {
    "expect_column_values_to_not_be_null": "not_null",
    "expect_column_values_to_be_unique": "unique",
    "expect_column_values_to_be_in_set": "accepted_values",
    "expect_column_values_to_be_between": "accepted_range",
    "expect_column_values_to_match_regex": "matches_pattern",
    "expect_column_values_to_be_of_type": "contract",
    "expect_column_to_exist": "contract",
    "expect_table_columns_to_match_set": "contract",
    "expect_table_columns_to_match_ordered_list": "contract",
}
# dbt column constraints (the contract's, enforced by PostgreSQL) -> the tests they amount to.
CONSTRAINT_TESTS = {"primary_key": {"not_null", "unique"}, "not_null": {"not_null"}, "unique": {"unique"}}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("ownership")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADFLOW_PG", "DBT_"))}
    env.update({"DBT_TARGET_PATH": str(tmp / "target"), "DBT_LOG_PATH": str(tmp / "logs")})
    result = subprocess.run(
        [DBT, "--no-use-colors", "parse"], cwd=REPO / "dbt_project", env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:]
    return json.loads((tmp / "target" / "manifest.json").read_text())


def relations(manifest: dict) -> dict[str, dict]:
    """Every model and source of the project by the relation it reads or writes (``schema.table``)."""
    out = {}
    for node in [*manifest["nodes"].values(), *manifest["sources"].values()]:
        if node["resource_type"] == "model":
            out[f"{node['schema']}.{node.get('alias') or node['name']}"] = node
        elif node["resource_type"] == "source":
            out[f"{node['schema']}.{node.get('identifier') or node['name']}"] = node
    return out


def dbt_owned(manifest: dict) -> dict[tuple[str, str | None], set[str]]:
    """(model or source id, column) -> the constraints dbt holds there; column None: the model's contract."""
    owned: dict[tuple[str, str | None], set[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test" and node.get("test_metadata") and node.get("column_name"):
            parents = [node.get("attached_node")] if node.get("attached_node") else node["depends_on"]["nodes"]
            for parent in parents:
                owned.setdefault((parent, node["column_name"]), set()).add(node["test_metadata"]["name"])
        elif node["resource_type"] == "model":
            if (node.get("contract") or {}).get("enforced"):
                owned.setdefault((node["unique_id"], None), set()).add("contract")
                for name in node["columns"]:
                    owned.setdefault((node["unique_id"], name), set()).add("contract")
            for name, column in node["columns"].items():
                for constraint in column.get("constraints") or []:
                    owned.setdefault((node["unique_id"], name), set()).update(
                        CONSTRAINT_TESTS.get(constraint["type"], ())
                    )
    return owned


def restatements(manifest: dict, suites: list[dict]) -> list[str]:
    """Each suite expectation that states a constraint dbt already holds on the same model and column."""
    nodes, owned = relations(manifest), dbt_owned(manifest)
    found = []
    for suite in suites:
        node = nodes.get(suite["table"])
        if node is None:
            continue
        for exp in suite["expectations"]:
            kind = COLUMN_CONSTRAINTS.get(exp["type"])
            column = exp.get("kwargs", {}).get("column")
            if kind and kind in owned.get((node["unique_id"], column), set()):
                found.append(
                    f"{suite['name']}: {exp['type']} on {suite['table']}.{column or '*'} restates dbt's {kind}"
                )
    return found


def suites() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((REPO / "expectations").glob("*.json"))]


def test_no_suite_restates_a_dbt_test_on_the_same_model_and_column(manifest: dict) -> None:
    assert restatements(manifest, suites()) == []


def test_the_check_finds_a_restatement(manifest: dict) -> None:
    """The check above can fail: a key check, a range and the column set dbt already holds are each found."""
    suite = {
        "name": "restating",
        "table": "marts.lead_scores",
        "expectations": [
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "lead_id"}},
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "fit_score", "max_value": 100}},
            {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": ["lead_id"]}},
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "fit_score"}},  # dbt has none
        ],
    }
    assert len(restatements(manifest, [suite])) == 3


def test_suites_on_dbt_models_leave_column_constraints_to_dbt(manifest: dict) -> None:
    """Not only no restatement: a new column constraint on a model goes to its YAML, not to a suite."""
    nodes = relations(manifest)
    misplaced = [
        f"{s['name']}: {e['type']} ({e.get('kwargs', {}).get('column')})"
        for s in suites()
        if nodes.get(s["table"], {}).get("resource_type") == "model"
        for e in s["expectations"]
        if e["type"] in COLUMN_CONSTRAINTS
    ]
    assert misplaced == []


def test_every_model_a_suite_reads_has_an_enforced_contract(manifest: dict) -> None:
    """Its columns and types are dbt's to hold, so no suite needs to check them."""
    nodes = relations(manifest)
    read = {
        s["table"]: nodes[s["table"]] for s in suites() if nodes.get(s["table"], {}).get("resource_type") == "model"
    }
    assert read, "no suite reads a dbt model"
    assert [t for t, n in read.items() if not (n.get("contract") or {}).get("enforced")] == []
