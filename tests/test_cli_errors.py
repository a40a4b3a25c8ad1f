"""One error handler for the CLI: a user's mistake (a setting, a port, a connection, an unknown destination, an
empty or unreachable warehouse) is one or two lines naming the setting and what it expects; a traceback only
with -v. And every LEADFLOW_* variable is read through the settings object."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import REPO, scratch_warehouse

LEADFLOW = str(Path(sys.executable).parent / "leadflow")


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LEADFLOW, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=120, cwd=REPO
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("LEADFLOW_PULL_WORKERS", "abc", "expected a whole number of at least 1"),
        ("LEADFLOW_SYNC_DESTINATIONS", "file,hubspot", 'expected a JSON list of names, e.g. ["file", "hubspot"]'),
        ("LEADFLOW_EMBEDDED_PORT", "54x", "expected a whole number"),
        ("LEADFLOW_PULL_FAST", "maybe", "expected true or false"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable_and_what_it_expects(variable, value, expected) -> None:
    result = _run("summary", **{variable: value})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{variable}={value!r}" in lines[0] and expected in lines[0]
    assert "Traceback" not in result.stderr + result.stdout

    verbose = _run("-v", "summary", **{variable: value})
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr  # -v: the whole story


def test_an_unreachable_warehouse_names_where_it_came_from() -> None:
    result = _run("summary", LEADFLOW_WAREHOUSE_URL=f"postgresql://postgres:s3cret@127.0.0.1:{_free_port()}/nowhere")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("Error: cannot reach the warehouse:") and "Connection refused" in lines[0]
    assert "LEADFLOW_WAREHOUSE_URL" in lines[1]
    assert "s3cret" not in result.stderr and "Traceback" not in result.stderr


def _invoke(*args: str):
    from leadflow.cli import main

    return CliRunner().invoke(main, list(args))


def test_summary_of_an_empty_warehouse_says_what_to_run(server_url: str) -> None:
    with scratch_warehouse(server_url, "summary_empty"):
        result = _invoke("summary")
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "has no marts.leads" in result.output and "leadflow run" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_unknown_destination_names_its_connection_and_the_setting(server_url: str) -> None:
    with scratch_warehouse(server_url, "unknown_dest", LEADFLOW_SYNC_DESTINATIONS='["nope"]'):
        result = _invoke("sync", "--dry-run")
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "leadflow_nope" in result.output and "LEADFLOW_SYNC_DESTINATIONS" in result.output


def test_a_taken_demo_api_port_is_named_with_its_setting(server_url: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"LEADFLOW_API_URL": f"http://127.0.0.1:{port}", "LEADFLOW_LANDING_DIR": str(tmp_path / "landing")}
        with scratch_warehouse(server_url, "taken_port", **env):
            result = _invoke("demo", "--leads", "20")
    assert result.exit_code == 1
    message = result.output[result.output.index("Error:") :].strip().splitlines()
    assert len(message) == 2, result.output
    assert f"port {port}" in message[0] and "already in use" in message[0] and "LEADFLOW_API_URL" in message[0]
    assert "Traceback" not in result.output


def test_the_demo_without_its_harness_installed_is_one_line(tmp_path: Path) -> None:
    """The demo harness (leadflow_demo, demo/) is not in the leadflow package: where only the package is installed,
    `leadflow demo` says so in one line, before it starts anything."""
    # -S: no site, so no .pth file installs the editable leadflow_demo; leadflow and its dependencies by path.
    path = os.pathsep.join([str(REPO / "plugins"), sysconfig.get_paths()["purelib"]])
    result = subprocess.run(
        [sys.executable, "-S", "-c", "from leadflow.cli import main; main(['demo'])"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: the demo is not installed: it comes with the repository, not the package (`make install` in a clone)"
    ], result.stderr
    assert "warehouse:" not in result.stdout  # nothing was started


def test_every_leadflow_variable_is_read_through_the_settings_object() -> None:
    reads = re.compile(r"""(environ\s*(\.get\s*\(|\[)|getenv\s*\()\s*['"]LEADFLOW_""")
    offenders = [
        f"{path.relative_to(REPO)}:{n}"
        for folder in ("plugins", "dags", "demo")
        for path in sorted((REPO / folder).rglob("*.py"))
        if path.name != "settings.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if reads.search(line)
    ]
    assert offenders == []
