"""docker-compose.yml's cluster, without Docker: every service it defines, as its own process, runs both DAGs.

There is no Docker engine on CI, so the test does what the engine would with the file (profile ``celery``,
``AIRFLOW_EXECUTOR=CeleryExecutor`` as the README says to put in ``.env``), and nothing more:

* each Airflow service (api-server, scheduler, dag-processor, triggerer, Celery worker) and the demo API is
  one process started with *exactly* the service's ``environment`` after Compose's interpolation, its own
  ``AIRFLOW_HOME`` (a container's own ``/opt/airflow``, where Airflow writes its own ``airflow.cfg``) and
  nothing inherited from this process but ``PATH``, ``HOME``, ``LANG`` and ``HOSTNAME`` (as a container has);
* container names are what they would be inside the network: every URL naming a service (``postgres:5432``,
  ``redis:6379``, ``airflow-apiserver:8080``, ``leadflow-api:8765``) is rewritten to the host port that
  stands in for it, and ``/opt/airflow`` is a folder holding the service's volumes as symbolic links;
* each container's own network namespace becomes a free port for what would listen inside it (the
  api-server's port, the log servers', the scheduler's health check: ``AIRFLOW__...PORT`` variables added);
* ``postgres`` is a private cluster of the project's embedded PostgreSQL, prepared as the postgres image
  prepares one from its environment, then ``docker/init-warehouse.sql``; ``redis`` is a private
  ``redis-server`` (the machine's binary: CI installs Debian's);
* ``airflow-init``'s script runs with bash as written, except ``chown`` (Docker's user mapping) and the
  image's ``/entrypoint`` wrapper;
* ``.env`` (``DOT_ENV`` plus what a multi-machine deployment adds: the outbox and Data Docs on an S3 store,
  a local moto server) feeds the interpolation and, through ``env_file``, the containers.

The DAGs folder holds the two batch DAGs only (the fast lane's watcher and the weekly learner would compete
for the two cores). Both DAGs must succeed, every task must have run on the Celery worker, and each
service's own healthcheck must pass. A file whose containers disagree on a secret (each Airflow container
generating its own JWT secret: every task fails with "Invalid auth token") fails here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest

from leadflow_demo.airflow_services import AirflowProcesses, free_port
from tests.compose import REPO, load_compose

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

PROFILE = "celery"
# What the README's "Deploy" section tells a user to put in .env for the Celery profile (and a small demo).
DOT_ENV = {"AIRFLOW_EXECUTOR": "CeleryExecutor", "LEADFLOW_DEMO_LEADS": "150", "AIRFLOW_UID": str(os.getuid())}
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
WORKER = "airflow-worker"
DAGS = ("leadflow_pull.py", "leadflow_pipeline.py")
RUN_TIMEOUT = 600  # seconds for both DAGs; about 3 minutes on an idle 2-core machine
CONTAINER_ROOT = "/opt/airflow"
BUCKET = "leadflow-shared"
BIN = Path(sys.executable).parent


def _map_urls(value: str, ports: dict[tuple[str, int], int]) -> str:
    """``scheme://user@service:port/...`` -> ``scheme://user@127.0.0.1:<host port>/...``."""

    def one(match: re.Match) -> str:
        host, port = match.group("host"), match.group("port")
        services = {name for name, _ in ports}
        if host not in services:
            return match.group(0)
        if port is None:
            raise AssertionError(f"{value!r}: name the port of service {host} (the test maps ports, not defaults)")
        key = (host, int(port))
        assert key in ports, f"{value!r}: nothing listens on {host}:{port} in docker-compose.yml"
        return f"{match.group('pre')}127.0.0.1:{ports[key]}"

    return re.sub(r"(?P<pre>//(?:[^/@\s]*@)?)(?P<host>[A-Za-z0-9._-]+)(?::(?P<port>\d+))?", one, value)


class Cluster(AirflowProcesses):
    """The compose file's services as processes (the fast lane's Airflow launcher, with the compose file's
    commands and environments); ``stop()`` ends every process group it started."""

    def __init__(self, root: Path, dot_env: dict[str, str]) -> None:
        super().__init__(root / "service-logs")
        self.logs.mkdir(parents=True)
        self.root = root
        self.dot_env = dot_env
        self.config = load_compose(dot_env, profiles=(PROFILE,))
        self.services = self.config["services"]
        self.redis_port = free_port()
        self.api_port = free_port()
        self.demo_port = free_port()
        # service name and port inside the compose network -> the host port standing in for it
        self.ports = {
            ("postgres", 5432): 0,  # start_postgres()
            ("redis", 6379): self.redis_port,
            ("airflow-apiserver", 8080): self.api_port,
            ("leadflow-api", 8765): self.demo_port,
        }
        # What listens inside each container (its own network namespace): one free host port each.
        self.inner_ports = {
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": free_port(),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": free_port(),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": free_port(),
        }
        self.opt = root / "opt-airflow"  # what every container sees as /opt/airflow: its volumes
        self.postgres = None

    # -- the container world on this machine ------------------------------------------------------------
    def mount_volumes(self) -> None:
        shared = {"./.leadflow": self.root / "leadflow-home", "./logs": self.root / "logs"}
        dags = self.root / "dags"
        dags.mkdir()
        for name in DAGS:
            shutil.copy(REPO / "dags" / name, dags / name)
        shared["./dags"] = dags
        self.opt.mkdir()
        seen: dict[str, str] = {}
        for name, service in self.services.items():
            for volume in service.get("volumes", []):
                source, target = volume.split(":")[:2]
                if not target.startswith(CONTAINER_ROOT + "/") or not source.startswith("./"):
                    continue
                assert seen.setdefault(target, source) == source, f"{name}: {target} mounts two sources"
                link = self.opt / target[len(CONTAINER_ROOT) + 1 :]
                if link.exists() or link.is_symlink():
                    continue
                host = shared.get(source, REPO / source[2:])
                if source in shared:
                    host.mkdir(exist_ok=True)
                assert host.exists(), f"{name}: volume source {source} does not exist"
                link.symlink_to(host)

    def environment(self, name: str) -> dict[str, str]:
        """The service's compose environment, seen from this machine, plus its own AIRFLOW_HOME."""
        compose_env = self.services[name].get("environment") or {}
        env = {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": os.environ.get("HOME", str(self.root)),
            "LANG": "C.UTF-8",
            "HOSTNAME": socket.gethostname(),
        }
        for entry in self.services[name].get("env_file") or []:
            path = entry["path"] if isinstance(entry, dict) else entry
            assert path == ".env", f"{name}: env_file {path} is not emulated"
            env.update(self.dot_env)  # .env is this test's DOT_ENV; `environment:` below wins over it
        for key, value in compose_env.items():
            text = _map_urls(str(value), self.ports).replace(CONTAINER_ROOT, str(self.opt))
            env[key] = text
        home = self.root / "homes" / name
        home.mkdir(parents=True, exist_ok=True)
        env["AIRFLOW_HOME"] = str(home)  # the image's /opt/airflow: each container has its own
        env.update({k: str(v) for k, v in self.inner_ports.items()})
        if name == "airflow-apiserver":
            env["AIRFLOW__API__PORT"] = str(self.api_port)
            env["AIRFLOW__API__HOST"] = "127.0.0.1"
        return env

    def command(self, name: str) -> list[str]:
        """The service's command as the image's entrypoint runs it: airflow subcommands through ``airflow``."""
        command = self.services[name]["command"]
        argv = command.split() if isinstance(command, str) else list(command)
        if argv[0] == "python":
            argv = [sys.executable, *argv[1:]]
        elif argv[0] not in ("bash", "airflow"):
            argv = [str(BIN / "airflow"), *argv]
        argv = [a.replace(CONTAINER_ROOT, str(self.opt)) for a in argv]
        for flag, value in (("--port", str(self.ports.get((name, _inner_port(argv)), ""))), ("--host", "127.0.0.1")):
            if flag in argv and value:
                argv[argv.index(flag) + 1] = value
        return argv

    # -- postgres and redis ------------------------------------------------------------------------------
    def start_postgres(self) -> None:
        """A private embedded cluster (the compose file's database and role names, as written), prepared as the
        postgres image prepares one from its environment, then docker/init-warehouse.sql."""
        from leadflow.warehouse.embedded import EmbeddedPostgres

        self.postgres = EmbeddedPostgres(self.root / "pgdata", free_port())
        url = self.postgres.start()
        self.ports[("postgres", 5432)] = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        admin = url.rsplit("/", 1)[0] + "/postgres"
        pg = self.services["postgres"]["environment"]
        user, password, db = pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"]
        init_sql = (REPO / "docker" / "init-warehouse.sql").read_text()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("drop database if exists leadflow")  # the embedded server's own; init-warehouse.sql makes it
            conn.execute(f"create user \"{user}\" with superuser password '{password}'")
            conn.execute(f'create database "{db}" owner "{user}"')
            for statement in filter(None, (s.strip() for s in re.sub(r"--.*", "", init_sql).split(";"))):
                conn.execute(statement)
        self.meta_url = admin.rsplit("/", 1)[0] + f"/{db}"

    def start_redis(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            message = "redis-server is not installed (.ci/run installs Debian's redis-server)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        self.spawn(
            "redis",
            [binary, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            {"PATH": os.environ.get("PATH", "")},
            cwd=self.root,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.redis_port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"redis-server did not listen on {self.redis_port}: {self.tail('redis')}")

    # -- services ----------------------------------------------------------------------------------------
    def run_init(self) -> None:
        """airflow-init's script, with bash: everything but chown (Docker's uid mapping) runs as written."""
        service = self.services["airflow-init"]
        script = service["command"][-1]
        assert service["entrypoint"] == "/bin/bash" and service["command"][0] == "-c"
        script = script.replace("/entrypoint airflow", str(BIN / "airflow")).replace(CONTAINER_ROOT, str(self.opt))
        script = re.sub(r"^(\s*)chown ", r"\1: chown ", script, flags=re.M)
        env = self.environment("airflow-init")
        with (self.logs / "airflow-init.log").open("w") as out:
            done = subprocess.run(["bash", "-c", script], env=env, stdout=out, stderr=subprocess.STDOUT, timeout=300)
        assert done.returncode == 0, f"airflow-init failed:\n{self.tail('airflow-init')}"

    def start(self, name: str) -> None:
        self.spawn(name, self.command(name), self.environment(name), cwd=self.root)


def _inner_port(argv: list[str]) -> int:
    return int(argv[argv.index("--port") + 1]) if "--port" in argv else 0


def _healthcheck(cluster: Cluster, name: str) -> tuple[int, str]:
    """The service's own healthcheck, with its URL and hostname seen from here."""
    test = cluster.services[name]["healthcheck"]["test"]
    kind, args = test[0], test[1:]
    env = cluster.environment(name)
    if kind == "CMD" and args[0] == "curl":
        url = args[-1]
        url = url.replace("localhost:8080", f"127.0.0.1:{cluster.api_port}")
        url = url.replace("localhost:8765", f"127.0.0.1:{cluster.demo_port}")
        url = url.replace(
            "localhost:8974",
            f"127.0.0.1:{cluster.inner_ports['AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT']}",
        )
        assert "localhost" not in url, f"{name}: no host port stands in for {url}"
        response = httpx.get(url, timeout=10)
        return response.status_code, response.text[:500]
    assert kind == "CMD-SHELL", test
    command = (
        args[0].replace("celery --app", f"{BIN / 'celery'} --app").replace("airflow jobs", f"{BIN / 'airflow'} jobs")
    )
    if "airflow jobs" in command:
        # In a container $HOSTNAME is the container's name, which is also the name Airflow records for its
        # jobs (its getfqdn()); on this machine the two may differ.
        from airflow.utils.net import getfqdn

        env["HOSTNAME"] = getfqdn()
    done = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=120)
    return (200 if done.returncode == 0 else 500), (done.stdout + done.stderr)[-1500:]


@pytest.fixture(scope="module")
def shared_store():
    """An S3-compatible store (moto) every service reaches: the outbox and Data Docs of the whole cluster."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    import boto3
    import fsspec

    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                 region_name="us-east-1").create_bucket(Bucket=BUCKET)  # fmt: skip
    fs = fsspec.filesystem("s3", endpoint_url=endpoint, key="test", secret="test")
    try:
        yield {"fs": fs, "env": {**credentials, "AWS_ENDPOINT_URL": endpoint}}
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, shared_store: dict):
    # What a user deploying on several machines adds to .env (README "Deploy"): shared outputs on a store.
    dot_env = {
        **DOT_ENV,
        **shared_store["env"],
        "LEADFLOW_DATA_DOCS_URL": f"s3://{BUCKET}/data_docs",
        "AIRFLOW_CONN_LEADFLOW_FILE": json.dumps({"conn_type": "file", "extra": {"path": f"s3://{BUCKET}/outbox"}}),
    }
    cluster = Cluster(tmp_path_factory.mktemp("compose"), dot_env)
    cluster.mount_volumes()
    try:
        cluster.start_postgres()
        cluster.start_redis()
        started = time.monotonic()
        cluster.run_init()
        cluster.timings = {"init": time.monotonic() - started}
        for name in ("leadflow-api", *AIRFLOW_SERVICES, WORKER):
            cluster.start(name)
        yield cluster
    finally:
        cluster.stop()
        if cluster.postgres is not None:
            cluster.postgres.destroy()


@pytest.fixture(scope="module")
def both_dags(cluster: Cluster) -> dict:
    """Trigger leadflow_pull through the api-server's public API, as the UI's Trigger button does; the
    pipeline follows on its Assets. Returns the runs, their task instances and timings."""
    started = time.monotonic()
    api = f"http://127.0.0.1:{cluster.api_port}"
    cluster.wait("api-server answers", lambda: _get(f"{api}/api/v2/version") == 200, 240)
    token = httpx.get(f"{api}/auth/token", timeout=10).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    cluster.wait(
        "the DAGs are parsed",
        lambda: all(_get(f"{api}/api/v2/dags/{dag[:-3]}", headers) == 200 for dag in DAGS),
        240,
    )
    services_up = time.monotonic() - started
    as_of = datetime.now(UTC).replace(microsecond=0)
    response = httpx.post(
        f"{api}/api/v2/dags/leadflow_pull/dagRuns", json={"logical_date": as_of.isoformat()}, headers=headers
    )
    assert response.status_code in (200, 201), response.text

    def finished() -> bool:
        runs = cluster.metadata("select dag_id, state from dag_run")
        failed = [r for r in runs if r[1] == "failed"]
        if failed:
            tis = cluster.metadata("select dag_id, task_id, state, hostname from task_instance order by start_date")
            raise AssertionError(
                f"a DAG run failed: {failed}; tasks {tis}\n{_task_logs(cluster)}\n"
                f"--- {WORKER}:\n{cluster.tail(WORKER, 2500)}"
            )
        done = {dag_id for dag_id, state in runs if state == "success"}
        busy = [r for r in runs if r[1] in ("queued", "running")]
        # (the scheduler may add the pull's own hourly run: every run must be over, the Celery results stored)
        celery = dict(cluster.metadata("select task_id, status from celery_taskmeta"))
        ids = [r[0] for r in cluster.metadata("select external_executor_id from task_instance")]
        stored = all(celery.get(i) == "SUCCESS" for i in ids if i)
        return done == {"leadflow_pull", "leadflow_pipeline"} and not busy and stored

    cluster.wait("both DAGs succeed", finished, RUN_TIMEOUT)
    return {
        "runs": cluster.metadata("select dag_id, run_id, state from dag_run order by id"),
        "tasks": cluster.metadata(
            "select dag_id, task_id, state, executor, queue, external_executor_id, hostname from task_instance"
        ),
        "celery": dict(cluster.metadata("select task_id, status from celery_taskmeta")),
        "services_up": services_up,
        "dags": time.monotonic() - started - services_up,
    }


def _get(url: str, headers: dict | None = None) -> int:
    try:
        return httpx.get(url, headers=headers, timeout=5).status_code
    except httpx.HTTPError:
        return 0


def _task_logs(cluster: Cluster) -> str:
    logs = sorted((cluster.root / "logs").rglob("*.log"))
    return "\n".join(f"--- {p.name}:\n{p.read_text(errors='replace')[-1500:]}" for p in logs[-4:])


def test_both_dags_succeed_with_every_task_on_the_celery_worker(cluster: Cluster, both_dags: dict) -> None:
    runs = both_dags["runs"]
    assert {dag_id for dag_id, _, _ in runs} == {"leadflow_pull", "leadflow_pipeline"}, runs
    assert all(state == "success" for _, _, state in runs), runs
    assert any(run_id.startswith("manual__") for dag_id, run_id, _ in runs if dag_id == "leadflow_pull"), runs
    tasks = both_dags["tasks"]
    assert {t[1] for t in tasks} >= {"pull_crm", "pull_web", "dbt_build", "quality_gate", "outreach_sync"}
    for dag_id, task_id, state, _executor, _queue, celery_id, _hostname in tasks:
        assert state == "success", (dag_id, task_id, state)
        # The Celery executor sent it (a Celery task id) and the worker ran it (its result in the backend).
        assert celery_id, f"{dag_id}.{task_id} has no Celery task id: not run by the CeleryExecutor"
        assert both_dags["celery"].get(celery_id) == "SUCCESS", (task_id, celery_id, both_dags["celery"])
    worker_log = cluster.tail(WORKER, 10**7)
    assert "celery@" in worker_log and "ready" in worker_log, worker_log[-2000:]
    for task_id in ("dbt_build", "outreach_sync"):
        assert task_id in worker_log, f"the worker's log does not mention {task_id}"
    print(f"compose cluster: services up {both_dags['services_up']:.0f}s, both DAGs {both_dags['dags']:.0f}s")


def test_the_pipeline_delivered_through_the_shared_store_and_folders(
    cluster: Cluster, both_dags: dict, shared_store: dict
) -> None:
    """The worker wrote the outbox and published Data Docs to the store every machine reaches (set in .env),
    and task logs to the logs volume the api-server reads."""
    fs = shared_store["fs"]
    fs.invalidate_cache()
    batches = fs.glob(f"{BUCKET}/outbox/batch-*.jsonl")
    assert batches, fs.find(BUCKET)
    delivered = [json.loads(line) for b in batches for line in fs.cat(b).decode().splitlines()]
    home = cluster.root / "leadflow-home"
    assert not (home / "outbox").exists() or not list((home / "outbox").rglob("batch-*")), "a batch stayed local"
    assert fs.cat(f"{BUCKET}/data_docs/index.html") == (home / "data_docs" / "index.html").read_bytes()
    assert list((cluster.root / "logs").rglob("*.log")), "no task log in the logs volume"
    warehouse = cluster.services["airflow-scheduler"]["environment"]["LEADFLOW_WAREHOUSE_URL"]
    with psycopg.connect(_map_urls(warehouse, cluster.ports)) as conn:
        ledger = conn.execute(
            "select count(*) from ops.sync_ledger where destination = 'file' and status = 'delivered'"
        ).fetchone()[0]
    assert ledger == len({d["queue_id"] for d in delivered}) > 0


def test_each_service_passes_its_own_healthcheck(cluster: Cluster, both_dags: dict) -> None:
    for name in ("leadflow-api", *AIRFLOW_SERVICES, WORKER):
        assert "healthcheck" in cluster.services[name], f"{name} has no healthcheck"
        status, body = _healthcheck(cluster, name)
        assert status == 200, f"{name}'s healthcheck failed: {body}"
