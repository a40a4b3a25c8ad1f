"""dbt runs on its own in dbt_project with the standard PG* variables that `leadflow warehouse env` prints
(an analyst's plain `dbt debug` failed with "Env var required but not provided: 'LEADFLOW_PG_HOST'")."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from tests.conftest import REPO, scratch_warehouse

DBT = str(Path(sys.executable).parent / "dbt")


def _exports(output: str) -> dict[str, str]:
    return dict(line.removeprefix("export ").split("=", 1) for line in output.splitlines() if line.startswith("export"))


def test_plain_dbt_in_dbt_project_runs_with_the_pg_exports_of_leadflow_warehouse_env(
    server_url: str, tmp_path: Path
) -> None:
    from leadflow.cli import main

    with scratch_warehouse(server_url, "standalone") as url:
        result = CliRunner().invoke(main, ["warehouse", "env"])
        assert result.exit_code == 0, result.output
        exports = _exports(result.output)
        assert exports == {
            "PGHOST": "127.0.0.1",
            "PGPORT": url.rsplit(":", 1)[1].split("/")[0],
            "PGUSER": "postgres",
            "PGDATABASE": url.rsplit("/", 1)[1],
        }
        # what an analyst's shell has: no LEADFLOW_* at all, no --profiles-dir
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADFLOW_", "PG", "DBT_"))}
        env = {**env, **exports, "DBT_TARGET_PATH": str(tmp_path / "target"), "DBT_LOG_PATH": str(tmp_path)}
        run = [DBT, "--no-use-colors"]
        debug = subprocess.run([*run, "debug"], cwd=REPO / "dbt_project", env=env, capture_output=True, text=True)
        show = subprocess.run(
            [*run, "show", "--inline", f"select current_database() = '{exports['PGDATABASE']}' as same_db"],
            cwd=REPO / "dbt_project",
            env=env,
            capture_output=True,
            text=True,
        )
    assert debug.returncode == 0, debug.stdout[-3000:]
    assert "All checks passed!" in debug.stdout
    assert show.returncode == 0, show.stdout[-3000:]
    assert re.search(r"\|\s*True\s*\|", show.stdout), show.stdout[-1000:]  # the database leadflow uses


def test_warehouse_env_keeps_a_password_out_unless_asked(monkeypatch) -> None:
    from leadflow.cli import main
    from leadflow.settings import reset_settings

    monkeypatch.setenv("LEADFLOW_WAREHOUSE_URL", "postgresql://analyst:s3cr%40t@db.internal:6543/crm")
    reset_settings()
    try:
        plain = CliRunner().invoke(main, ["warehouse", "env"])
        shown = CliRunner().invoke(main, ["warehouse", "env", "--with-password"])
    finally:
        reset_settings()
    assert plain.exit_code == 0 and "s3cr" not in plain.output and "PGPASSWORD is not printed" in plain.output
    assert _exports(plain.output) == {
        "PGHOST": "db.internal",
        "PGPORT": "6543",
        "PGUSER": "analyst",
        "PGDATABASE": "crm",
    }
    assert _exports(shown.output)["PGPASSWORD"] in ("s3cr@t", "'s3cr@t'", "s3cr%40t")
