"""The benchmark runs end to end at a tiny scale, so it cannot rot. It reports; it never asserts a timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_runs_every_stage_and_writes_results(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LEADFLOW_HOME": str(tmp_path / "home"),
        "LEADFLOW_EMBEDDED_PORT": "54359",
        "LEADFLOW_API_URL": "http://127.0.0.1:18767",
    }
    env.pop("LEADFLOW_WAREHOUSE_URL", None)
    out = subprocess.run(
        [sys.executable, "-m", "bench.run", "--scale", "0.02", "--no-airflow", "--out", str(tmp_path / "results")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    [result_file] = (tmp_path / "results").glob("bench-*.json")
    results = json.loads(result_file.read_text())
    stages = {s["stage"]: s for s in results["stages"]}
    assert set(stages) == {
        "pull",
        "transform",
        "validate",
        "sync",
        "incremental",
        "incremental, nothing new",
        "incremental, next hour",
        "whole pipeline (bare)",
    }
    for stage in stages.values():
        assert stage["seconds"] > 0 and stage["peak_rss_mb"] > 0
    assert stages["pull"]["rows"] == results["meta"]["records"]
    assert stages["sync"]["notes"]["rerun_planned"] == 0
    assert stages["validate"]["notes"]["passed"] is True
    assert (tmp_path / "results" / "latest.md").read_text().startswith("# leadflow benchmark")
