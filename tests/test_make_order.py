"""The README's two commands in README order: `make demo` leaves a warehouse whose incremental models
exist, and `make test`'s lint must neither read it nor depend on it."""

from __future__ import annotations

import os
import subprocess

from tests.conftest import REPO
from tests.transform.conftest import create_raw_tables


def test_lint_sql_ignores_a_built_warehouse_and_lints_both_branches(warehouse: str) -> None:
    from leadflow.warehouse.db import dbt_env

    create_raw_tables(warehouse)
    model = "int_person_leads"  # incremental: its is_incremental() branch is a join on {{ this }}
    env = {**os.environ, **dbt_env(warehouse)}
    for step in (["seed"], ["run", "--select", f"+{model}"]):
        built = subprocess.run(
            [str(REPO / ".venv/bin/dbt"), *step, "--project-dir", "dbt_project", "--profiles-dir", "dbt_project"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        assert built.returncode == 0, built.stdout[-3000:]

    # As after `make demo`: this warehouse holds the incremental model, and the environment points at it.
    env["LEADFLOW_WAREHOUSE_URL"] = warehouse
    lint = subprocess.run(
        ["make", "--no-print-directory", "lint-sql", f"SQL_PATHS=dbt_project/models/intermediate/{model}.sql"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    out = lint.stdout + lint.stderr
    assert lint.returncode == 0, out[-3000:]
    assert "full builds" in out and "incremental branches" in out
