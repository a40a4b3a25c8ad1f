"""Pull benchmark: every source through the loaders vs PostgreSQL COPY of the same data, in one run.

    .venv/bin/python -m leadflow_demo.generator --out /tmp/pullbench/landing --leads 100000
    .venv/bin/python -m bench.pull --landing /tmp/pullbench/landing

Starts its own embedded PostgreSQL (``--pgdata``, ``--port``; stopped at the end unless ``--keep``)
and the demo CRM / conversations API on the landing zone, then:

1. pull  — ``pull_source`` for each source, one after the other, in a child process whose peak RSS
           is the memory figure (the PostgreSQL server is not counted);
2. floors, on the same server right after:
   * ``copy lines``: COPY of the same files, each line into one text column of a logged table — the
     bytes-into-PostgreSQL floor. The SQLite tables are exported to CSV first (not timed);
   * ``copy typed``: COPY of the same, already clean records into tables shaped like raw (typed and
     lineage columns), then the primary key built, as a first load does — what loading would cost if
     the files needed no parsing or checking. The records are exported from raw first (not timed);
   * ``copy files``: the COPY a user would run on the same files: a CSV ``(FORMAT csv, HEADER)`` into a
     table with the file's columns (text), a JSON Lines file line by line into a ``jsonb`` column
     (``ON_ERROR ignore`` skips the lines that are not JSON), the SQLite tables exported as CSV (not
     timed). COPY cannot skip a CSV row with the wrong number of fields: those few rows are taken out of
     a copy of the file first (not timed).

Ratios are throughputs: pull rows/s divided by floor rows/s. The API sources are reported on their
own (the HTTP round trips, not PostgreSQL, bound them; the API is served unthrottled here).

``contract bound``: the time a loader with free parsing and checks would still need — ``copy typed`` of
the files and SQL tables, and for an API the longer of reading its pages and ``copy typed`` of its
records — and the best ratio against COPY of every landing file (the API's JSONL too) that leaves.

On a shared machine wall-clock ratios move with other people's jobs, so CPU time is reported too:
client CPU (the pull process and any children it waited for; the floors' COPY client) plus server CPU (every
PostgreSQL process of the benchmark's own server), per record. ``cpu ratio`` = floor CPU per record /
pull CPU per record — what the ratio would be on an idle machine with one core for each side.
Peak memory is sampled over the pull process and any children together (RSS, summed).

``--parallel`` then pulls every source again into a fresh database, each in its own process and all at
once, as the Airflow DAG runs them (one task per source); reported next to the sequential figures.

``--parquet`` also converts the web and marketing files to Parquet (not timed) and pulls them, into a
second database, through the Parquet reader; they are compared with the same COPY floor.

Writes ``pull-<leads>.json`` and ``.md`` (``--out``, default ``bench/results``) and prints the table. It never fails on a figure.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import click
import psutil
import psycopg

REPO = Path(__file__).resolve().parents[1]
GROUPS = {
    "files": ("web", "marketing", "quiz", "consent"),
    "sql": ("product",),
    "files + sql": ("web", "marketing", "quiz", "consent", "product"),
    "api": ("crm", "conversations"),
}
FILES = {
    "web": ["web/*.jsonl"],
    "marketing": ["marketing/*.csv"],
    "quiz": ["quiz/*.csv"],
    "consent": ["consent/*.csv"],
    "crm": ["crm_api/*.jsonl"],
    "conversations": ["conversations_api/*.jsonl"],
}


def server_cpu(pid: int) -> float:
    """CPU seconds of a PostgreSQL server so far: the postmaster, its live processes and its reaped ones."""
    try:
        root = psutil.Process(pid)
        t = root.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for proc in root.children():
            try:
                c = proc.cpu_times()
                total += c.user + c.system
            except psutil.Error:
                pass
        return total
    except psutil.Error:
        return 0.0


def client_cpu() -> float:
    """CPU seconds of this process and the children it waited for."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _child(url: str, landing: str, api_url: str, as_of: str, sources: list[str], pg_pid: int) -> None:
    """Runs in the child process: the pull itself, timed per source; prints JSON."""
    os.environ.update(LEADFLOW_WAREHOUSE_URL=url, LEADFLOW_LANDING_DIR=landing, LEADFLOW_API_URL=api_url)
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from leadflow.pull import fast
    from leadflow.pull.run import pull_source

    out = {}
    for source in sources:
        started, client, server = time.perf_counter(), client_cpu(), server_cpu(pg_pid)
        before = dict(fast.ROWS)
        summary = pull_source(source, "bench-pull", datetime.fromisoformat(as_of))
        out[source] = {
            "seconds": time.perf_counter() - started,
            "client_cpu": client_cpu() - client,
            "server_cpu": server_cpu(pg_pid) - server,
            "entities": summary,
            "fast_rows": sum(v - before.get(k, 0) for k, v in fast.ROWS.items()),  # rows the Arrow fast path loaded
        }
    out["_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


class TreeMemory:
    """Peak RSS of a process (or several) and all their descendants together, sampled every 50 ms."""

    def __init__(self, pid: int | list[int]):
        self.pids = pid if isinstance(pid, list) else [pid]
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for pid in self.pids:
                try:
                    root = psutil.Process(pid)
                    procs = [root, *root.children(recursive=True)]
                except psutil.Error:
                    continue
                for proc in procs:
                    try:
                        total += proc.memory_info().rss
                    except psutil.Error:
                        pass
            self.peak = max(self.peak, total)
            self._stop.wait(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _copy_lines(conn: psycopg.Connection, files: list[Path]) -> tuple[float, int]:
    """COPY each file's lines into a logged one-column table; returns (seconds, data lines)."""
    rows = 0
    seconds = 0.0
    for i, path in enumerate(files):
        conn.execute(f"drop table if exists floor_lines_{i}; create table floor_lines_{i} (line text)")
        started = time.perf_counter()
        with conn.cursor() as cur:
            with cur.copy(
                f"copy floor_lines_{i} from stdin with (format csv, delimiter e'\\x01', quote e'\\x02')"
            ) as cp:
                with path.open("rb") as fh:
                    while block := fh.read(1 << 20):
                        cp.write(block)
        seconds += time.perf_counter() - started
        n = conn.execute(f"select count(*) from floor_lines_{i}").fetchone()[0]
        rows += n - (1 if path.suffix == ".csv" else 0)
        conn.execute(f"drop table floor_lines_{i}")
    return seconds, rows


def _copy_files(conn: psycopg.Connection, files: list[Path], scratch: Path, pg_pid: int) -> tuple[float, int, float]:
    """The COPY a user would run on each file (see the module docstring).

    Returns (seconds, rows loaded, CPU seconds of client and server during the COPYs)."""
    rows, seconds, cpu = 0, 0.0, 0.0
    for i, path in enumerate(files):
        table = f"floor_files_{i}"
        conn.execute(f"drop table if exists {table}")
        if path.suffix == ".jsonl":
            conn.execute(f"create table {table} (doc jsonb)")
            statement = (
                f"copy {table} from stdin with (format csv, delimiter e'\\x01', quote e'\\x02', on_error ignore)"
            )
        else:
            header, kept = _copyable_csv(path)
            if kept is not None:  # COPY cannot skip some rows: leave them out of a copy of the file (not timed)
                path = scratch / f"floor_{path.name}"
                path.write_bytes(kept)
            columns = ", ".join(f"c{j} text" for j in range(len(header)))
            conn.execute(f"create table {table} ({columns})")
            statement = f"copy {table} from stdin with (format csv, header true)"
        started, before = time.perf_counter(), client_cpu() + server_cpu(pg_pid)
        with conn.cursor() as cur, cur.copy(statement) as cp, path.open("rb") as fh:
            while block := fh.read(1 << 20):
                cp.write(block)
        seconds += time.perf_counter() - started
        cpu += client_cpu() + server_cpu(pg_pid) - before
        rows += conn.execute(f"select count(*) from {table}").fetchone()[0]
        conn.execute(f"drop table {table}")
    return seconds, rows, cpu


def _copyable_csv(path: Path) -> tuple[list[str], bytes | None]:
    """The header, and the file without the lines COPY would stop at (wrong number of fields, not UTF-8,
    NUL) — None when there are none. Each line of these files is one record."""
    lines = path.read_bytes().splitlines(keepends=True)
    header = next(csv.reader([lines[0].decode("utf-8", "replace")]))
    kept, dropped = [lines[0]], 0
    for line in lines[1:]:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            dropped += 1
            continue
        if "\x00" in text or len(next(csv.reader([text]), header)) != len(header):
            dropped += 1
            continue
        kept.append(line)
    return header, (b"".join(kept) if dropped else None)


def _export_sqlite(db: Path, out: Path) -> list[Path]:
    files = []
    with sqlite3.connect(db) as conn:
        for (table,) in conn.execute("select name from sqlite_master where type = 'table'"):
            path = out / f"{table}.csv"
            cur = conn.execute(f'select * from "{table}"')
            with path.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow([d[0] for d in cur.description])
                writer.writerows(cur)
            files.append(path)
    return files


def _copy_typed(conn: psycopg.Connection, tables: list[str], scratch: Path, pg_pid: int) -> tuple[float, int, float]:
    """Export raw tables (not timed), COPY them into fresh tables of the same shape and build the primary key
    after the rows, as the pull's first load does (timed): the least any loader writing the raw contract
    (typed columns, lineage columns, a primary key) pays, with no parsing and no checks.

    Returns (seconds, rows, CPU seconds of client and server during the COPYs and key builds).
    """
    seconds, rows, cpu = 0.0, 0, 0.0
    for table in tables:
        path = scratch / f"{table}.copy"
        with conn.cursor() as cur, path.open("wb") as fh:
            with cur.copy(f"copy raw.{table} to stdout") as cp:
                for block in cp:
                    fh.write(block)
        conn.execute(f"drop table if exists public.floor_{table}")
        conn.execute(f"create table public.floor_{table} (like raw.{table} including defaults)")
        key = conn.execute(
            "select pg_get_constraintdef(oid) from pg_constraint where conrelid = %s::regclass and contype = 'p'",
            (f"raw.{table}",),
        ).fetchone()
        conn.execute("checkpoint")
        started, before = time.perf_counter(), client_cpu() + server_cpu(pg_pid)
        with conn.cursor() as cur, cur.copy(f"copy public.floor_{table} from stdin") as cp, path.open("rb") as fh:
            while block := fh.read(1 << 20):
                cp.write(block)
        if key:
            conn.execute(f"alter table public.floor_{table} add {key[0]}")
        seconds += time.perf_counter() - started
        cpu += client_cpu() + server_cpu(pg_pid) - before
        rows += conn.execute(f"select count(*) from public.floor_{table}").fetchone()[0]
        conn.execute(f"drop table public.floor_{table}")
        path.unlink()
    return seconds, rows, cpu


def _fetch_floor(api_url: str, source: str) -> tuple[float, int]:
    """Every page of the source's API entities fetched and parsed as the reader does, nothing loaded: what
    any loader of that API pays (the API server runs in this process, so no CPU figure is kept)."""
    import httpx
    import orjson
    import yaml

    config = yaml.safe_load((REPO / "sources.yml").read_text())[source]
    started, records = time.perf_counter(), 0
    with httpx.Client(base_url=api_url, timeout=30) as client:
        for spec in config["entities"].values():
            params = {"limit": int(config.get("page_size", 100))}
            while True:
                body = orjson.loads(client.get(spec["path"], params=params).raise_for_status().content)
                records += len(body.get("results") or [])
                after = ((body.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
                params["after"] = after
    return time.perf_counter() - started, records


def _ratio(rows: int, seconds: float, floor_rows: int, floor_seconds: float) -> float | None:
    if not (rows and seconds and floor_rows and floor_seconds):
        return None
    return round((rows / seconds) / (floor_rows / floor_seconds), 3)


def _fresh_database(server_url: str, name: str) -> str:
    admin = server_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"drop database if exists {name} with (force)")
        conn.execute(f"create database {name}")
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def _pull(url: str, landing: Path, api_url: str, as_of: str, sources: list[str], pg_pid: int, env: dict) -> dict:
    """The pull in a child process; returns its JSON, wall time and peak memory (with any children of its own)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.pull", "--child", "--landing", str(landing), "--url", url,
         "--api-url", api_url, "--as-of", as_of, "--sources", ",".join(sources), "--pg-pid", str(pg_pid)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env},
    )  # fmt: skip
    with TreeMemory(proc.pid) as mem:
        out, err = proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise click.ClickException(f"pull failed:\n{err[-4000:]}")
    pulled = json.loads(out.strip().splitlines()[-1])
    pulled["_wall"] = wall
    pulled["_tree_peak_mb"] = mem.peak / (1 << 20)
    return pulled


def _pull_parallel(url: str, landing: Path, api_url: str, as_of: str, sources: list[str], pg_pid: int) -> dict:
    """Every source in its own child process, all started at once (as the DAG's parallel tasks run)."""
    started, server = time.perf_counter(), server_cpu(pg_pid)
    procs = {
        source: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.pull",
                "--child",
                "--landing",
                str(landing),
                "--url",
                url,
                "--api-url",
                api_url,
                "--as-of",
                as_of,
                "--sources",
                source,
                "--pg-pid",
                str(pg_pid),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for source in sources
    }
    with TreeMemory([p.pid for p in procs.values()]) as mem:
        outputs = {source: proc.communicate() for source, proc in procs.items()}
    wall = time.perf_counter() - started
    server = server_cpu(pg_pid) - server
    pulled = {}
    for source, (out, err) in outputs.items():
        if procs[source].returncode != 0:
            raise click.ClickException(f"parallel pull of {source} failed:\n{err[-4000:]}")
        pulled[source] = json.loads(out.strip().splitlines()[-1])[source]
    records = sum(e["read"] for p in pulled.values() for e in p["entities"].values())
    return {
        "records": records,
        "wall_seconds": round(wall, 2),
        "rows_per_second": round(records / wall),
        "client_cpu_seconds": round(sum(p["client_cpu"] for p in pulled.values()), 2),
        "server_cpu_seconds": round(server, 2),
        "peak_rss_mb": round(mem.peak / (1 << 20), 1),
        "source_seconds": {s: round(p["seconds"], 2) for s, p in pulled.items()},
    }


def _to_parquet(landing: Path, out: Path) -> Path:
    """Web events and marketing engagements as Parquet, one file per source file, every column text.

    Lines that are not JSON objects and ragged CSV rows cannot be written to Parquet and are left out;
    every other record, planted bad values included, goes through as the source file has it.
    """
    import orjson

    for path in sorted(landing.glob("web/*.jsonl")):
        records = []
        for line in path.read_bytes().splitlines():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict):
                records.append(record)
        names = list(dict.fromkeys(k for r in records for k in r))
        columns = {n: [_text(r.get(n)) for r in records] for n in names}
        _write_parquet(columns, out / "web" / (path.stem + ".parquet"))
    for path in sorted(landing.glob("marketing/*.csv")):
        with path.open(newline="", encoding="utf-8", errors="replace") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            rows = [row for row in reader if len(row) == len(header)]
        columns = {n: [row[i] for row in rows] for i, n in enumerate(header)}
        _write_parquet(columns, out / "marketing" / (path.stem + ".parquet"))
    config = out / "sources.parquet.yml"
    config.write_text(
        "web:\n  kind: files\n  format: parquet\n  entities:\n    event: {pattern: 'web/*.parquet'}\n"
        "marketing:\n  kind: files\n  format: parquet\n  entities:\n    engagement: {pattern: 'marketing/*.parquet'}\n"
    )
    return config


def _text(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _write_parquet(columns: dict, target: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({n: pa.array(v, type=pa.string()) for n, v in columns.items()}), target)


def _source_row(p: dict, rows: int, line: tuple, typed: tuple, files: tuple) -> dict:
    line_s, line_rows, line_cpu = line
    typed_s, typed_rows, typed_cpu = typed
    files_s, files_rows, files_cpu = files
    cpu = p["client_cpu"] + p["server_cpu"]
    return {
        "records": rows,
        "pull_seconds": round(p["seconds"], 2),
        "rows_per_second": round(rows / p["seconds"]),
        "pull_cpu_seconds": round(cpu, 2),
        "pull_client_cpu_seconds": round(p["client_cpu"], 2),
        "pull_server_cpu_seconds": round(p["server_cpu"], 2),
        "copy_lines_seconds": round(line_s, 2),
        "copy_lines_rows": line_rows,
        "copy_lines_cpu_seconds": round(line_cpu, 2),
        "copy_typed_seconds": round(typed_s, 2),
        "copy_typed_rows": typed_rows,
        "copy_typed_cpu_seconds": round(typed_cpu, 2),
        "copy_files_seconds": round(files_s, 2),
        "copy_files_rows": files_rows,
        "copy_files_cpu_seconds": round(files_cpu, 2),
        "ratio_vs_copy_lines": _ratio(rows, p["seconds"], line_rows, line_s),
        "ratio_vs_copy_typed": _ratio(rows, p["seconds"], typed_rows, typed_s),
        "ratio_vs_copy_files": _ratio(rows, p["seconds"], files_rows, files_s),
        "cpu_ratio_vs_copy_lines": _ratio(rows, cpu, line_rows, line_cpu),
        "cpu_ratio_vs_copy_typed": _ratio(rows, cpu, typed_rows, typed_cpu),
        "cpu_ratio_vs_copy_files": _ratio(rows, cpu, files_rows, files_cpu),
        "entities": p["entities"],
    }


SUMMED = (
    "records", "pull_seconds", "pull_cpu_seconds", "pull_client_cpu_seconds", "pull_server_cpu_seconds", "copy_lines_seconds", "copy_lines_rows", "copy_lines_cpu_seconds",
    "copy_typed_seconds", "copy_typed_rows", "copy_typed_cpu_seconds",
    "copy_files_seconds", "copy_files_rows", "copy_files_cpu_seconds",
)  # fmt: skip


def _aggregate(chosen: list[dict]) -> dict:
    agg = {k: sum(c[k] for c in chosen) for k in SUMMED}
    agg["rows_per_second"] = round(agg["records"] / agg["pull_seconds"]) if agg["pull_seconds"] else 0
    for floor in ("lines", "typed", "files"):
        agg[f"ratio_vs_copy_{floor}"] = _ratio(
            agg["records"], agg["pull_seconds"], agg[f"copy_{floor}_rows"], agg[f"copy_{floor}_seconds"]
        )
        agg[f"cpu_ratio_vs_copy_{floor}"] = _ratio(
            agg["records"], agg["pull_cpu_seconds"], agg[f"copy_{floor}_rows"], agg[f"copy_{floor}_cpu_seconds"]
        )
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in agg.items()}


def _load() -> dict:
    one, five, _ = os.getloadavg()
    return {"loadavg_1m": round(one, 2), "loadavg_5m": round(five, 2), "cpus": os.cpu_count()}


@click.command()
@click.option("--landing", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--pgdata", default="/tmp/pullbench/pgdata", show_default=True, type=click.Path(path_type=Path))
@click.option("--port", default=55432, show_default=True, type=int)
@click.option("--as-of", "as_of", default=None, help="The run's as-of (default: the landing's manifest, else now).")
@click.option("--sources", default="web,marketing,quiz,consent,product,crm,conversations", show_default=True)
@click.option("--parquet", is_flag=True, help="Also pull web and marketing converted to Parquet (second database).")
@click.option("--parallel", is_flag=True, help="Also pull all sources at once, one process each (second database).")
@click.option("--keep", is_flag=True, help="Leave the benchmark's PostgreSQL running.")
@click.option(
    "--out",
    "out_dir",
    default=REPO / "bench" / "results",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where pull-<leads>.json and .md are written.",
)
@click.option("--child", is_flag=True, hidden=True)
@click.option("--url", hidden=True)
@click.option("--api-url", "api_url", hidden=True)
@click.option("--pg-pid", "pg_pid", type=int, default=0, hidden=True)
def main(landing, pgdata, port, as_of, sources, parquet, parallel, keep, out_dir, child, url, api_url, pg_pid) -> None:
    sources = [s for s in sources.split(",") if s]
    if child:
        _child(url, str(landing), api_url, as_of, sources, pg_pid)
        return
    from leadflow.pull.contract import entities_of
    from leadflow.warehouse.embedded import EmbeddedPostgres
    from leadflow_demo.api_server import CrmApiServer

    if as_of is None:
        truth = landing / "_truth" / "leads.csv"
        as_of = datetime.now(UTC).replace(second=0, microsecond=0).isoformat()
        manifest = landing / "_truth" / "manifest.json"
        if manifest.exists():
            as_of = json.loads(manifest.read_text())["as_of"]
        elif truth.exists():
            click.echo("no manifest: using now as as-of (pass --as-of with the generator's)", err=True)
    leads = sum(1 for _ in (landing / "_truth" / "leads.csv").open()) - 1 if (landing / "_truth").exists() else 0
    server = EmbeddedPostgres(pgdata, port)
    server_url = server.start()
    pg_pid = int((Path(pgdata) / "postmaster.pid").read_text().splitlines()[0])
    url = _fresh_database(server_url, "pullbench")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            scratch = Path(tmp)
            load_before = _load()
            with CrmApiServer(root=landing, max_rps=None) as api:
                click.echo(f"pull: {', '.join(sources)} from {landing} into {url} ...", err=True)
                pulled = _pull(url, landing, api.url, as_of, sources, pg_pid, {})
            report = {
                "leads": leads,
                "as_of": as_of,
                "pull_wall_seconds": round(pulled.pop("_wall"), 2),
                "peak_rss_mb": round(pulled.pop("_tree_peak_mb"), 1),
                "peak_rss_main_process_mb": round(pulled.pop("_maxrss_mb"), 1),
                "machine_before": load_before,
                "machine_after_pull": _load(),
            }
            click.echo("floors ...", err=True)
            per_source = {}
            lines_floor: dict[str, tuple] = {}
            files_floor: dict[str, tuple] = {}
            with psycopg.connect(url, autocommit=True) as conn:
                for source in sources:
                    p = pulled[source]
                    rows = sum(e["read"] for e in p["entities"].values())
                    if source == "product":
                        files = _export_sqlite(landing / "product" / "app.db", scratch)
                    else:
                        files = sorted(f for pattern in FILES[source] for f in landing.glob(pattern))
                    before = client_cpu() + server_cpu(pg_pid)
                    line_s, line_rows = _copy_lines(conn, files)
                    lines_floor[source] = (line_s, line_rows, client_cpu() + server_cpu(pg_pid) - before)
                    files_floor[source] = _copy_files(conn, files, scratch, pg_pid)
                    typed = _copy_typed(conn, [e.table for e in entities_of(source)], scratch, pg_pid)
                    per_source[source] = _source_row(p, rows, lines_floor[source], typed, files_floor[source])
                    per_source[source]["fast_path_rows"] = p.get("fast_rows", 0)
            report["sources"] = per_source
            api_sources = [s for s in GROUPS["api"] if s in sources]
            if api_sources:  # an API has no files to COPY: its own floor is reading the pages
                with CrmApiServer(root=landing, max_rps=None) as api:
                    for source in api_sources:
                        seconds, records = _fetch_floor(api.url, source)
                        row = per_source[source]
                        row["fetch_seconds"], row["fetch_records"] = round(seconds, 2), records
                        row["ratio_vs_fetch"] = _ratio(row["records"], row["pull_seconds"], records, seconds)
                # the whole pull against each source's own floor: COPY for files and SQL, the page reads for APIs
                own = sum(
                    v["fetch_seconds"] * v["records"] / v["fetch_records"]
                    if "fetch_seconds" in v
                    else v["copy_files_seconds"] * v["records"] / v["copy_files_rows"]
                    for v in per_source.values()
                )
                report["own_floors_seconds"] = round(own, 2)
                report["ratio_vs_own_floors"] = round(own / sum(v["pull_seconds"] for v in per_source.values()), 3)
            for group, members in {**GROUPS, "all": tuple(sources)}.items():
                chosen = [per_source[s] for s in members if s in per_source]
                if chosen:
                    report[f"total_{group}"] = _aggregate(chosen)
            # parsing and checks for free: COPY typed, and for an API the longer of that and reading its pages
            bound = sum(max(v.get("fetch_seconds", 0.0), v["copy_typed_seconds"]) for v in per_source.values())
            report["contract_bound_seconds"] = round(bound, 2)
            report["contract_bound_ratio_vs_copy_files"] = round(report["total_all"]["copy_files_seconds"] / bound, 3)
            chosen = [s for s in ("web", "marketing") if s in sources]
            if parquet and chosen:
                click.echo("parquet: converting (not timed) ...", err=True)
                config = _to_parquet(landing, scratch / "parquet")
                purl = _fresh_database(server_url, "pullbench_parquet")
                pq_pulled = _pull(
                    purl, scratch / "parquet", "http://127.0.0.1:9", as_of, chosen, pg_pid,
                    {"LEADFLOW_SOURCES_FILE": str(config)},
                )  # fmt: skip
                report["parquet_peak_rss_mb"] = round(pq_pulled["_tree_peak_mb"], 1)
                with psycopg.connect(purl, autocommit=True) as conn:
                    pq_rows = {}
                    for source in chosen:
                        p = pq_pulled[source]
                        rows = sum(e["read"] for e in p["entities"].values())
                        typed = _copy_typed(conn, [e.table for e in entities_of(source)], scratch, pg_pid)
                        pq_rows[f"{source} (parquet)"] = _source_row(
                            p, rows, lines_floor[source], typed, files_floor[source]
                        )
                report["parquet"] = pq_rows
                report["total_parquet"] = _aggregate(list(pq_rows.values()))
            if parallel:
                click.echo("parallel: every source at once ...", err=True)
                purl = _fresh_database(server_url, "pullbench_parallel")
                report["machine_before_parallel"] = _load()
                with CrmApiServer(root=landing, max_rps=None) as api:
                    par = _pull_parallel(purl, landing, api.url, as_of, sources, pg_pid)
                par["machine_after"] = _load()
                total = report["total_all"]
                for floor in ("lines", "typed", "files"):
                    rows_, secs, cpu = (total[f"copy_{floor}_{k}"] for k in ("rows", "seconds", "cpu_seconds"))
                    par[f"ratio_vs_copy_{floor}"] = _ratio(par["records"], par["wall_seconds"], rows_, secs)
                    par[f"cpu_ratio_vs_copy_{floor}"] = _ratio(
                        par["records"], par["client_cpu_seconds"] + par["server_cpu_seconds"], rows_, cpu
                    )
                report["parallel"] = par
            report["machine_after"] = _load()
    finally:
        if not keep:
            server.stop()
    _write(report, out_dir)


def _write(report: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stem = f"pull-{report['leads']}"
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    m = report["machine_before"]
    head = (
        "| | records | pull s | rows/s | COPY lines s | ratio vs COPY lines | COPY typed s | ratio vs COPY typed "
        "| COPY files s | ratio vs COPY files | pull CPU s (client + server) | COPY lines CPU s | CPU ratio vs lines "
        "| COPY typed CPU s | CPU ratio vs typed | COPY files CPU s | CPU ratio vs files |"
    )
    lines = [
        f"# Pull benchmark — {report['leads']:,} leads (as of {report['as_of']})",
        "",
        f"Peak RSS of the pull (its process and any children, summed): **{report['peak_rss_mb']} MB**"
        f" (main process alone {report['peak_rss_main_process_mb']} MB). "
        f"Wall time of the whole pull: {report['pull_wall_seconds']} s. "
        f"Machine: {m['cpus']} CPUs, load average {m['loadavg_1m']} before the pull, "
        f"{report['machine_after_pull']['loadavg_1m']} after it, {report['machine_after']['loadavg_1m']} at the end.",
        "",
        head,
        "|---|" + "---:|" * 16,
    ]
    rows = [(s, v) for s, v in report["sources"].items()]
    rows += [(s, v) for s, v in report.get("parquet", {}).items()]
    rows += [(f"**{k[6:]}**", v) for k, v in report.items() if k.startswith("total_")]
    for name, v in rows:
        client, server = v.get("pull_client_cpu_seconds"), v.get("pull_server_cpu_seconds")
        split = f" ({client} + {server})" if client is not None else ""
        lines.append(
            f"| {name} | {v['records']:,} | {v['pull_seconds']} | {v['rows_per_second']:,} | "
            f"{v['copy_lines_seconds']} | {v['ratio_vs_copy_lines']} | {v['copy_typed_seconds']} | "
            f"{v['ratio_vs_copy_typed']} | {v['copy_files_seconds']} | {v['ratio_vs_copy_files']} | "
            f"{v['pull_cpu_seconds']}{split} | {v['copy_lines_cpu_seconds']} | "
            f"{v['cpu_ratio_vs_copy_lines']} | {v['copy_typed_cpu_seconds']} | {v['cpu_ratio_vs_copy_typed']} | "
            f"{v['copy_files_cpu_seconds']} | {v['cpu_ratio_vs_copy_files']} |"
        )
    fetched = [(s, v) for s, v in report["sources"].items() if "fetch_seconds" in v]
    if fetched:
        lines += [
            "",
            "API sources against reading the same pages (GET every page, parse the JSON, load nothing): "
            + ", ".join(
                f"{s} {v['pull_seconds']} s vs {v['fetch_seconds']} s = {v['ratio_vs_fetch']}" for s, v in fetched
            )
            + f". The whole pull against each source's own floor (COPY of the files for files and SQL, the page "
            f"reads for APIs; {report['own_floors_seconds']} s): **{report['ratio_vs_own_floors']}**.",
        ]
    lines += [
        "",
        f"Contract bound (parsing and checks for free: COPY typed of files and SQL, the longer of the page "
        f"reads and COPY typed for APIs): {report['contract_bound_seconds']} s, so no loader writing the raw "
        f"contract gets above **{report['contract_bound_ratio_vs_copy_files']}** of COPY of every landing "
        f"file ({report['total_all']['copy_files_seconds']} s, the API's JSONL included); this pull: "
        f"{report['total_all']['ratio_vs_copy_files']}.",
    ]
    fast_rows = [f"{s} {v['fast_path_rows']:,} of {v['records']:,}" for s, v in report["sources"].items()]
    lines += ["", "Rows loaded through the Arrow fast path (`LEADFLOW_PULL_FAST`): " + ", ".join(fast_rows)]
    if "parallel" in report:
        par = report["parallel"]
        lines += [
            "",
            f"**All sources at once** (one process each, as the DAG runs them; load average "
            f"{report['machine_before_parallel']['loadavg_1m']} before, {par['machine_after']['loadavg_1m']} after): "
            f"{par['records']:,} records in {par['wall_seconds']} s = {par['rows_per_second']:,} rows/s; "
            f"ratio vs COPY lines {par['ratio_vs_copy_lines']}, vs COPY typed {par['ratio_vs_copy_typed']}, "
            f"vs COPY files {par['ratio_vs_copy_files']} (the floors run one file after the other, as above); "
            f"CPU {par['client_cpu_seconds']} s client + {par['server_cpu_seconds']} s server (CPU ratios "
            f"{par['cpu_ratio_vs_copy_lines']} / {par['cpu_ratio_vs_copy_typed']} / {par['cpu_ratio_vs_copy_files']}); "
            f"peak RSS of all pull processes together {par['peak_rss_mb']} MB; per source: "
            + ", ".join(f"{s} {t} s" for s, t in par["source_seconds"].items()),
        ]
    text = "\n".join(lines) + "\n"
    (out / f"{stem}.md").write_text(text)
    click.echo(text)


if __name__ == "__main__":
    main()
