"""A demo warehouse for the report tests: generated demo sources, the demo API, and `leadflow run` (pull, dbt
build, quality gate, sync and the report) against a fresh database, once for the package."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import REPO, scratch_warehouse

LEADS = 300
ARTIFACTS = REPO / ".test-artifacts"


@pytest.fixture(scope="package")
def demo_run(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from leadflow.cli import main
    from leadflow.settings import get_settings
    from leadflow_demo.api_server import CrmApiServer
    from leadflow_demo.generator import generate

    root = tmp_path_factory.mktemp("report")
    env = {
        "LEADFLOW_HOME": str(root / "home"),
        "LEADFLOW_LANDING_DIR": str(root / "landing"),
        "LEADFLOW_OUTBOX_DIR": str(root / "outbox"),
    }
    with scratch_warehouse(server_url, "report", **env) as url:
        settings = get_settings()
        as_of = datetime.now(UTC).replace(second=0, microsecond=0)
        generate(settings.landing, leads=LEADS, seed=11, as_of=as_of)
        port = int(settings.api_url.rsplit(":", 1)[1])
        with CrmApiServer(root=settings.landing, port=port):
            result = CliRunner().invoke(
                main, ["run", "--as-of", as_of.isoformat(), "--run-id", "report-1"], catch_exceptions=False
            )
        assert result.exit_code == 0, result.output
        yield {"url": url, "output": result.output, "home": Path(env["LEADFLOW_HOME"]), "settings": settings}
