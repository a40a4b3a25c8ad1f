"""Invoke dbt as a subprocess (its own logging and global state stay out of the Airflow worker)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from leadflow.pull.contract import ensure_raw_tables
from leadflow.settings import Settings, get_settings
from leadflow.warehouse.db import connect, dbt_env, ensure_ops_schema, warehouse_url

log = logging.getLogger(__name__)


class DbtFailed(RuntimeError):
    pass


def project_vars(settings: Settings | None = None) -> dict:
    """The settings (``vars``) as dbt_project.yml sets them (a single run's ``--vars`` not included)."""
    import yaml

    project = yaml.safe_load(((settings or get_settings()).dbt_dir / "dbt_project.yml").read_text())
    return project.get("vars") or {}


def dbt_target_dir(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).home_dir / "dbt_target"


# What dbt's process inherits from ours: what a Python process and dbt need, nothing else. The worker's
# environment holds every destination's credentials (AIRFLOW_CONN_*), the API token and the alert webhook
# URL; dbt needs none of them, and a model or package could read any variable it is given (env_var()).
INHERITED = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP", "SHELL", "TERM",
     "VIRTUAL_ENV", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
     "PYTHONPATH", "PYTHONHASHSEED", "PYTHONUTF8", "NO_COLOR", "SYSTEMROOT"}
)  # fmt: skip
INHERITED_PREFIXES = ("LC_", "DBT_", "PG", "LEADFLOW_")
SECRET_SETTINGS = frozenset({"LEADFLOW_API_TOKEN", "LEADFLOW_ALERT_WEBHOOK_URL", "LEADFLOW_WAREHOUSE_URL"})


def dbt_inherited_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The part of this process's environment dbt's subprocess gets (its connection comes from ``dbt_env``)."""
    environ = os.environ if environ is None else environ
    return {
        k: v
        for k, v in environ.items()
        if (k in INHERITED or k.startswith(INHERITED_PREFIXES)) and k not in SECRET_SETTINGS
    }


def dbt_executable() -> str:
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def run_dbt(
    args: list[str],
    as_of: datetime | None = None,
    settings: Settings | None = None,
    url: str | None = None,
    extra_vars: dict | None = None,
) -> float:
    """Run ``dbt <args>`` in dbt_project/ against the warehouse, streaming its output; returns seconds."""
    settings = settings or get_settings()
    url = url or warehouse_url(settings)
    with connect(url, autocommit=True) as conn:
        ensure_ops_schema(conn)  # dbt reads ops.sync_ledger (speed to lead) even on a fresh warehouse
        ensure_raw_tables(conn)  # and every raw table, whichever sources the sources file configures
    env = {
        **dbt_inherited_env(),
        **dbt_env(url),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        # Per-home artifacts: the demo, the tests and a benchmark can run side by side without racing.
        "DBT_TARGET_PATH": str(dbt_target_dir(settings)),
        "DBT_LOG_PATH": str(settings.home_dir / "logs" / "dbt"),
    }
    # as_of goes in the environment, not --vars: a var that changes every run costs a full re-parse.
    if as_of is not None:
        env["LEADFLOW_AS_OF"] = as_of.isoformat()
    dbt_vars = dict(extra_vars or {})
    command = [dbt_executable(), *args, "--profiles-dir", str(settings.dbt_dir), "--project-dir", str(settings.dbt_dir)]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    log.info("running: dbt %s", " ".join(args))
    started = time.monotonic()
    previous_results = _results_stamp(dbt_target_dir(settings))  # to tell this invocation's results from older ones
    process = subprocess.Popen(
        command, cwd=settings.dbt_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    tail: list[str] = []
    for line in process.stdout:
        line = line.rstrip()
        log.info("dbt | %s", line)
        tail = (tail + [line])[-40:]
    code = process.wait()
    seconds = time.monotonic() - started
    if code != 0:
        failed = failed_nodes(dbt_target_dir(settings), previous=previous_results)
        for node in failed:  # the task log ends with what failed, not with dbt's summary lines
            log.error("dbt failed node: %s", node)
        summary = f"\n{len(failed)} dbt node(s) failed:\n" + "\n".join(f"  {node}" for node in failed) if failed else ""
        raise DbtFailed(
            f"dbt {' '.join(args)} failed (exit {code}) after {seconds:.0f}s:\n" + "\n".join(tail) + summary
        )
    return seconds


FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})


def _results_stamp(target_dir: Path) -> tuple | None:
    """run_results.json's identity (inode, size, mtime in ns), or None when there is none."""
    try:
        stat = (target_dir / "run_results.json").stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def failed_nodes(target_dir: Path, previous: tuple | None) -> list[str]:
    """``<unique_id> (<status>): <message>`` for each node that failed in the run_results.json this dbt
    invocation wrote (none when it wrote none, e.g. a parse error: then dbt's own output says why).
    ``previous``: the file's stamp before the invocation; unchanged, the results are an earlier run's (a
    time comparison misreads two runs within the file system's clock resolution)."""
    path = target_dir / "run_results.json"
    try:
        if _results_stamp(target_dir) == previous:
            return []  # a previous invocation's results
        results = json.loads(path.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return []
    out = []
    for result in results:
        if str(result.get("status")) in FAILED_STATUSES:
            message = " ".join(str(result.get("message") or "").split())
            out.append(f"{result.get('unique_id')} ({result.get('status')}): {message[:500]}")
    return out
