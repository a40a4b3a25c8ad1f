"""Pull benchmark: every source through the loaders vs PostgreSQL COPY of the same data, in one run.

    .venv/bin/python -m leadflow.demo.generator --out /tmp/pullbench/landing --leads 100000
    .venv/bin/python -m bench.pull --landing /tmp/pullbench/landing

Starts its own embedded PostgreSQL (``--pgdata``, ``--port``; stopped at the end unless ``--keep``)
and the demo CRM / conversations API on the landing zone, then:

1. pull  — ``pull_source`` for each source, one after the other, in a child process whose peak RSS
           is the memory figure (the PostgreSQL server is not counted);
2. floors, on the same server right after:
   * ``copy lines``: COPY of the same files, each line into one text column of a logged table — the
     bytes-into-PostgreSQL floor. The SQLite tables are exported to CSV first (not timed);
   * ``copy typed``: COPY of the same, already clean records into tables shaped like raw (typed
     columns, primary key) — what loading would cost if the files needed no parsing or checking.
     The records are exported from raw first (not timed).

Ratios are throughputs: pull rows/s divided by floor rows/s. The API sources are reported on their
own (the HTTP round trips, not PostgreSQL, bound them; the API is served unthrottled here).
Writes ``bench/results/pull-<leads>.json`` and ``.md`` and prints the table. It never fails on a figure.
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
import time
from datetime import UTC, datetime
from pathlib import Path

import click
import psycopg

REPO = Path(__file__).resolve().parents[1]
GROUPS = {"files": ("web", "marketing", "quiz", "consent"), "sql": ("product",), "api": ("crm", "conversations")}
FILES = {
    "web": ["web/*.jsonl"],
    "marketing": ["marketing/*.csv"],
    "quiz": ["quiz/*.csv"],
    "consent": ["consent/*.csv"],
    "crm": ["crm_api/*.jsonl"],
    "conversations": ["conversations_api/*.jsonl"],
}


def _child(url: str, landing: str, api_url: str, as_of: str, sources: list[str]) -> None:
    """Runs in the child process: the pull itself, timed per source; prints JSON."""
    os.environ.update(LEADFLOW_WAREHOUSE_URL=url, LEADFLOW_LANDING_DIR=landing, LEADFLOW_API_URL=api_url)
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from leadflow.pull.run import pull_source

    out = {}
    for source in sources:
        started = time.perf_counter()
        summary = pull_source(source, "bench-pull", datetime.fromisoformat(as_of))
        out[source] = {"seconds": time.perf_counter() - started, "entities": summary}
    out["_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


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


def _copy_typed(conn: psycopg.Connection, tables: list[str], scratch: Path) -> tuple[float, int]:
    """Export raw tables (not timed), COPY them into fresh keyed tables of the same shape (timed)."""
    seconds, rows = 0.0, 0
    for table in tables:
        path = scratch / f"{table}.copy"
        with conn.cursor() as cur, path.open("wb") as fh:
            with cur.copy(f"copy raw.{table} to stdout") as cp:
                for block in cp:
                    fh.write(block)
        conn.execute(f"drop table if exists public.floor_{table}")
        conn.execute(f"create table public.floor_{table} (like raw.{table} including all)")
        conn.execute("checkpoint")
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"copy public.floor_{table} from stdin") as cp, path.open("rb") as fh:
            while block := fh.read(1 << 20):
                cp.write(block)
        seconds += time.perf_counter() - started
        rows += conn.execute(f"select count(*) from public.floor_{table}").fetchone()[0]
        conn.execute(f"drop table public.floor_{table}")
        path.unlink()
    return seconds, rows


def _ratio(rows: int, seconds: float, floor_rows: int, floor_seconds: float) -> float | None:
    if not (rows and seconds and floor_rows and floor_seconds):
        return None
    return round((rows / seconds) / (floor_rows / floor_seconds), 3)


@click.command()
@click.option("--landing", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--pgdata", default="/tmp/pullbench/pgdata", show_default=True, type=click.Path(path_type=Path))
@click.option("--port", default=55432, show_default=True, type=int)
@click.option("--as-of", "as_of", default=None, help="The run's as-of (default: the landing's manifest, else now).")
@click.option("--sources", default="web,marketing,quiz,consent,product,crm,conversations", show_default=True)
@click.option("--keep", is_flag=True, help="Leave the benchmark's PostgreSQL running.")
@click.option("--child", is_flag=True, hidden=True)
@click.option("--url", hidden=True)
@click.option("--api-url", "api_url", hidden=True)
def main(landing, pgdata, port, as_of, sources, keep, child, url, api_url) -> None:
    sources = [s for s in sources.split(",") if s]
    if child:
        _child(url, str(landing), api_url, as_of, sources)
        return
    from leadflow.demo.api_server import CrmApiServer
    from leadflow.pull.contract import entities_of
    from leadflow.warehouse.embedded import EmbeddedPostgres

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
    admin = server_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("drop database if exists pullbench with (force)")
        conn.execute("create database pullbench")
    url = server_url.rsplit("/", 1)[0] + "/pullbench"
    try:
        with CrmApiServer(root=landing, max_rps=None) as api:
            click.echo(f"pull: {', '.join(sources)} from {landing} into {url} ...", err=True)
            started = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "bench.pull", "--child", "--landing", str(landing), "--url", url,
                 "--api-url", api.url, "--as-of", as_of, "--sources", ",".join(sources)],
                cwd=REPO, capture_output=True, text=True,
            )  # fmt: skip
            wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise click.ClickException(f"pull failed:\n{proc.stderr[-4000:]}")
        pulled = json.loads(proc.stdout.strip().splitlines()[-1])
        peak_mb = round(pulled.pop("_maxrss_mb"), 1)
        click.echo("floors ...", err=True)
        report = {"leads": leads, "as_of": as_of, "pull_wall_seconds": round(wall, 2), "peak_rss_mb": peak_mb}
        per_source = {}
        with psycopg.connect(url, autocommit=True) as conn, tempfile.TemporaryDirectory() as tmp:
            scratch = Path(tmp)
            for source in sources:
                p = pulled[source]
                rows = sum(e["read"] for e in p["entities"].values())
                if source == "product":
                    files = _export_sqlite(landing / "product" / "app.db", scratch)
                else:
                    files = sorted(f for pattern in FILES[source] for f in landing.glob(pattern))
                line_s, line_rows = _copy_lines(conn, files)
                typed_s, typed_rows = _copy_typed(conn, [e.table for e in entities_of(source)], scratch)
                per_source[source] = {
                    "records": rows,
                    "pull_seconds": round(p["seconds"], 2),
                    "rows_per_second": round(rows / p["seconds"]),
                    "copy_lines_seconds": round(line_s, 2),
                    "copy_lines_rows": line_rows,
                    "copy_typed_seconds": round(typed_s, 2),
                    "copy_typed_rows": typed_rows,
                    "ratio_vs_copy_lines": _ratio(rows, p["seconds"], line_rows, line_s),
                    "ratio_vs_copy_typed": _ratio(rows, p["seconds"], typed_rows, typed_s),
                    "entities": p["entities"],
                }
        report["sources"] = per_source
        for group, members in {**GROUPS, "all": tuple(sources)}.items():
            chosen = [per_source[s] for s in members if s in per_source]
            if not chosen:
                continue
            agg = {k: sum(c[k] for c in chosen) for k in (
                "records", "pull_seconds", "copy_lines_seconds", "copy_lines_rows", "copy_typed_seconds",
                "copy_typed_rows")}  # fmt: skip
            agg["rows_per_second"] = round(agg["records"] / agg["pull_seconds"]) if agg["pull_seconds"] else 0
            agg["ratio_vs_copy_lines"] = _ratio(
                agg["records"], agg["pull_seconds"], agg["copy_lines_rows"], agg["copy_lines_seconds"]
            )
            agg["ratio_vs_copy_typed"] = _ratio(
                agg["records"], agg["pull_seconds"], agg["copy_typed_rows"], agg["copy_typed_seconds"]
            )
            report[f"total_{group}"] = {k: round(v, 2) if isinstance(v, float) else v for k, v in agg.items()}
    finally:
        if not keep:
            server.stop()
    _write(report)


def _write(report: dict) -> None:
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stem = f"pull-{report['leads']}"
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    head = "| | records | pull s | rows/s | COPY lines s | ratio vs COPY lines | COPY typed s | ratio vs COPY typed |"
    lines = [
        f"# Pull benchmark — {report['leads']:,} leads (as of {report['as_of']})",
        "",
        f"Peak RSS of the pull process: **{report['peak_rss_mb']} MB**. "
        f"Wall time of the whole pull: {report['pull_wall_seconds']} s.",
        "",
        head,
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = [(s, v) for s, v in report["sources"].items()] + [
        (f"**{k[6:]}**", v) for k, v in report.items() if k.startswith("total_")
    ]
    for name, v in rows:
        lines.append(
            f"| {name} | {v['records']:,} | {v['pull_seconds']} | {v['rows_per_second']:,} | "
            f"{v['copy_lines_seconds']} | {v['ratio_vs_copy_lines']} | {v['copy_typed_seconds']} | "
            f"{v['ratio_vs_copy_typed']} |"
        )
    text = "\n".join(lines) + "\n"
    (out / f"{stem}.md").write_text(text)
    click.echo(text)


if __name__ == "__main__":
    main()
