"""The pull benchmark runs end to end on a tiny landing zone, so it cannot rot. It reports; it never asserts a timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ..conftest import _free_port

REPO = Path(__file__).resolve().parents[2]


def test_pull_bench_reports_every_source_against_its_floors(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    landing = tmp_path / "landing"
    subprocess.run(
        [sys.executable, "-m", "leadflow_demo.generator", "--out", str(landing), "--leads", "200"],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    out = subprocess.run(
        [
            sys.executable, "-m", "bench.pull", "--landing", str(landing), "--pgdata", str(tmp_path / "pgdata"),
            "--port", str(_free_port()), "--out", str(tmp_path / "results"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    report = json.loads((tmp_path / "results" / "pull-200.json").read_text())
    sources = report["sources"]
    assert set(sources) == {"web", "marketing", "quiz", "consent", "product", "crm", "conversations"}
    for name, row in sources.items():
        audited = sum(e["loaded"] + e["quarantined"] for e in row["entities"].values())
        assert row["records"] == audited > 0, name
        # the typed floor loads exactly the rows the pull kept in raw
        assert row["copy_typed_rows"] == sum(e["loaded"] for e in row["entities"].values()), name
        assert row["copy_files_rows"] >= row["copy_typed_rows"] > 0, name
    for name in ("crm", "conversations"):
        assert sources[name]["fetch_records"] == sources[name]["records"], name
    assert report["total_all"]["records"] == sum(row["records"] for row in sources.values())
    assert report["contract_bound_seconds"] >= sum(
        sources[s]["copy_typed_seconds"] for s in ("web", "marketing", "quiz", "consent", "product")
    )
    assert report["peak_rss_mb"] > 0
    assert "Contract bound" in (tmp_path / "results" / "pull-200.md").read_text()
