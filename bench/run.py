"""leadflow benchmark: every stage against its floor, measured in one run at one scale.

    .venv/bin/python -m bench.run --scale 1        # 10k leads; 10 = 100k leads (several million events)

Writes results/bench-<scale>-<time>.json and results/latest.md and prints the table. Benchmarks
report; they never fail on a timing. Stages and floors (issue "Benchmarks"):

  pull           all seven sources through the loaders   vs COPY of the same files (SQL exported), API page reads
  transform      dbt run --full-refresh (models)          vs the same compiled SQL run with psql
  incremental    dbt run after 1% new events              vs the full refresh at the same scale
  incremental, nothing new the same with no new data: what every run costs whatever it finds
  incremental, next hour   the same, as_of one hour later (what an hourly production run does)
  validate       the GX quality gate                      vs the same checks as dbt tests (dbt test on the marts)
  sync           file destination, first run and re-run   vs ceil(changed / batch size) batches; re-run 0
  orchestration  both DAGs through Airflow (dags test)     vs the same calls without Airflow (the bare run),
                 and the dbt project in Cosmos's default per-model mode (bench/orchestration.py)
  whole pipeline the bare run                             vs the sum of the floors
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import psutil
import psycopg

from bench.stage import PeakMemory, Stage, timed

REPO = Path(__file__).resolve().parents[1]
LEADS_PER_SCALE = 10_000


def _postmaster_pid(url: str) -> list[int]:
    from leadflow.warehouse.db import embedded

    pidfile = embedded().data_dir / "postmaster.pid"
    return [int(pidfile.read_text().split()[0])] if pidfile.exists() else []


def fresh_database(server_url: str, name: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def set_warehouse(url: str) -> None:
    from leadflow.settings import reset_settings

    os.environ["LEADFLOW_WAREHOUSE_URL"] = url
    reset_settings()


def psql_bin() -> str:
    from leadflow.warehouse.embedded import _bin_dir

    return str(_bin_dir() / "psql")


def run_psql(url: str, sql_text: str) -> float:
    with timed() as t:
        out = subprocess.run(
            [psql_bin(), url, "-v", "ON_ERROR_STOP=1", "-q", "-f", "-"], input=sql_text, capture_output=True, text=True
        )
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr[-1000:]}")
    return t["seconds"]


# -- stages ------------------------------------------------------------------------------------------
def stage_pull(url: str, landing: Path, as_of: datetime, pids: list[int], api_url: str) -> Stage:
    from leadflow.pull.contract import SOURCES
    from leadflow.pull.run import pull_source

    with PeakMemory(pids) as mem, timed() as t:
        summary = {}
        for source in SOURCES:
            summary.update(pull_source(source, "bench-pull", as_of))
    rows = sum(v["read"] for v in summary.values())
    per_source = {s: sum(v["read"] for k, v in summary.items() if k.split(".")[0] == s) for s in SOURCES}
    floor_seconds, floors = pull_floor(url, landing, api_url, pids, per_source)
    return Stage(
        "pull",
        rows,
        t["seconds"],
        floor_seconds,
        "each source's own floor: COPY of its files (SQL tables exported as CSV); reading the pages of an API",
        mem.mb,
        {"per_entity": summary, "floors": floors, "copy_lines_seconds": round(copy_floor(url, landing)[0], 2)},
    )


def pull_floor(url: str, landing: Path, api_url: str, pids: list[int], records: dict) -> tuple[float, dict]:
    """The floor of each source, as bench/pull.py measures it, scaled to the records the pull read: the
    COPY a user would run on the same files (CSV into the file's columns, JSONL into jsonb, the SQLite
    tables exported as CSV), and for an API, which has no files to COPY, paging through it (GET, parse)."""
    import tempfile

    from bench.pull import FILES, GROUPS, _copy_files, _export_sqlite, _fetch_floor

    floors = {}
    with tempfile.TemporaryDirectory() as tmp, psycopg.connect(url, autocommit=True) as conn:
        for source, count in records.items():
            if not count:
                continue
            if source in GROUPS["api"]:
                seconds, floor_rows = _fetch_floor(api_url, source)
            else:
                if source == "product":
                    files = _export_sqlite(landing / "product" / "app.db", Path(tmp))
                else:
                    files = sorted(f for pattern in FILES[source] for f in landing.glob(pattern))
                seconds, floor_rows, _ = _copy_files(conn, files, Path(tmp), pids[0] if pids else 0)
            floors[source] = round(seconds * count / floor_rows, 2) if floor_rows else None
    return sum(v for v in floors.values() if v), floors


def copy_floor(url: str, landing: Path) -> tuple[float, int]:
    """COPY every landing file's lines into unlogged scratch tables: the bytes-into-PostgreSQL figure, reported
    next to the floor (earlier runs compared against it)."""
    files = sorted([*landing.glob("**/*.csv"), *landing.glob("**/*.jsonl")])
    files = [f for f in files if "_truth" not in f.parts]
    statements = ["drop schema if exists floor_copy cascade; create schema floor_copy;"]
    for i, path in enumerate(files):
        statements.append(f"create unlogged table floor_copy.f{i} (line text);")
        # Text format with an impossible delimiter/escape: each line lands as one value, as fast as COPY goes.
        statements.append(f"\\copy floor_copy.f{i} from '{path}' with (format text, delimiter E'\\x01')")
    seconds = run_psql(url, "\n".join(statements))
    with psycopg.connect(url) as conn:
        rows = sum(conn.execute(f"select count(*) from floor_copy.f{i}").fetchone()[0] for i in range(len(files)))
        conn.execute("drop schema floor_copy cascade")
        conn.commit()
    return seconds, rows


def dbt(args: list[str], as_of: datetime) -> float:
    from leadflow.transform.dbt import run_dbt

    return run_dbt(args, as_of=as_of)


def model_floor_sql(url: str) -> str:
    """The compiled SELECT of every model, in dbt's run order, as CREATE TABLE/VIEW in a scratch schema."""
    from leadflow.transform.dbt import dbt_target_dir

    target = dbt_target_dir()
    manifest = json.loads((target / "manifest.json").read_text())
    run = json.loads((target / "run_results.json").read_text())
    statements = ["drop schema if exists floor_sql cascade; create schema floor_sql;"]
    for result in run["results"]:
        node = manifest["nodes"].get(result["unique_id"])
        if not node or node["resource_type"] != "model":
            continue
        compiled = node.get("compiled_code")
        if compiled is None:
            raise RuntimeError(f"no compiled SQL for {node['unique_id']}: run dbt compile")
        kind = "view" if node["config"]["materialized"] == "view" else "table"
        name = f'floor_sql."{node["schema"]}__{node["name"]}"'
        statements.append(f"create {kind} {name} as {compiled.rstrip().rstrip(';')};")
    return "\n".join(statements)


def slowest_models(limit: int = 8) -> dict[str, float]:
    """The slowest models of the last dbt invocation (run_results.json), seconds each."""
    from leadflow.transform.dbt import dbt_target_dir

    results = json.loads((dbt_target_dir() / "run_results.json").read_text())["results"]
    timed_models = sorted(((r["execution_time"], r["unique_id"].split(".")[-1]) for r in results), reverse=True)
    return {name: round(seconds, 2) for seconds, name in timed_models[:limit]}


def stage_transform(url: str, as_of: datetime, pids: list[int]) -> tuple[Stage, float]:
    # What the DAG runs (seeds, models, snapshot, tests) on a fresh warehouse; then the models alone.
    build_seconds = dbt(["build"], as_of)
    with PeakMemory(pids) as mem:
        seconds = dbt(["run", "--full-refresh"], as_of)
    slowest = slowest_models()
    floor = run_psql(url, model_floor_sql(url))
    with psycopg.connect(url) as conn:
        rows = int(
            sum(
                r[0]
                for r in conn.execute(
                    "select coalesce(sum(n_live_tup), 0) from pg_stat_user_tables where schemaname in ('intermediate', 'marts')"
                )
            )
        )
        conn.execute("drop schema if exists floor_sql cascade")
        conn.commit()
    return Stage(
        "transform",
        rows,
        seconds,
        floor,
        "compiled SQL of the same models via psql",
        mem.mb,
        {"dbt_build_seconds": round(build_seconds, 2), "slowest_models": slowest, "load_average": os.getloadavg()},
    ), seconds


def add_new_events(url: str, share: float = 0.01) -> int:
    """1% new web and product events for existing people, arriving now in a new load batch (as a later pull).

    Each call lands a batch of its own (new event ids and _batch_id), so it can be repeated on one warehouse.
    """
    batch = uuid.uuid4().hex[:8]
    with psycopg.connect(url) as conn:
        added = 0
        for table, key in (("raw.web_events", "event_id"), ("raw.product_events", "event_id")):
            cols = [
                r[0]
                for r in conn.execute(
                    "select column_name from information_schema.columns where table_schema || '.' || table_name = %s "
                    "order by ordinal_position",
                    (table,),
                )
            ]
            # as a later pull lands them: a batch of its own, loaded now
            replaced = {
                key: f"{key} || '-inc-{batch}'",
                "_loaded_at": "clock_timestamp()",
                "_batch_id": f"'bench-incremental-{batch}'",
            }
            select = ", ".join(replaced.get(c, c) for c in cols)
            added += conn.execute(
                f"insert into {table} ({', '.join(cols)}) select {select} from {table} "
                f"where {key} not like '%%-inc-%%' and random() < %s",
                (share,),
            ).rowcount
        conn.commit()
    return added


def stage_incremental(
    url: str, as_of: datetime, full_seconds: float, pids: list[int], moved_hours: int = 0, share: float = 0.01
) -> Stage:
    """dbt run after 1% new events. moved_hours=0 is the issue's scenario (the same as_of); moved_hours=1 is
    what an hourly production run does (the DAG passes the run's logical date): every lead's decayed score
    and every window move with as_of, so lead-level tables are recomputed in full and only the event-sized
    models stay incremental. share=0 adds nothing: the cost of a run that finds no new data, i.e. the part
    of every run that does not depend on how much arrived. All are reported so none is mistaken for another."""
    added = add_new_events(url, share) if share else 0
    with PeakMemory(pids) as mem:
        seconds = dbt(["run"], as_of + timedelta(hours=moved_hours))
    name = "incremental, next hour" if moved_hours else "incremental"
    return Stage(
        name if share else "incremental, nothing new",
        added,
        seconds,
        full_seconds,
        "full refresh at the same scale",
        mem.mb,
        {
            "new_events": added,
            "as_of_moved_hours": moved_hours,
            "target_ratio": 0.10,
            "slowest_models": slowest_models(),
            "load_average": os.getloadavg(),
        },
    )


GATE_IN_A_PROCESS = """
import json, sys
from datetime import datetime
from leadflow.quality.gate import run_gate
r = run_gate("bench", datetime.fromisoformat(sys.argv[1]))
print(json.dumps({"seconds": r.seconds, "success": r.success, "evaluated": r.evaluated, "rows": r.row_counts,
                  "failures": [str(f) for f in r.failures][:10], "timings": r.timings}))
"""


def stage_validate(url: str, as_of: datetime, pids: list[int]) -> Stage:
    """The GX gate as the DAG task runs it, then dbt test on every mart the suites cover, in one run.

    Like the Airflow task (and like dbt test), the gate runs in a process of its own, so GX's import
    is part of its time and this process's memory sampler does not compete with it for the GIL.
    The stage's seconds are that process's wall time; ``gate_own_seconds`` is what the gate measured.
    """
    from leadflow.quality.gate import load_suites
    from leadflow.settings import get_settings
    from leadflow.transform.dbt import dbt_target_dir

    load_before = os.getloadavg()
    with PeakMemory(pids) as mem, timed() as t:
        out = subprocess.run(
            [sys.executable, "-c", GATE_IN_A_PROCESS, as_of.isoformat()], capture_output=True, text=True, env=os.environ
        )
    if out.returncode != 0:
        raise RuntimeError(f"quality gate process failed: {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    load_gate = os.getloadavg()
    rows = sum(result["rows"].values())
    # dbt's data tests on the same tables (raw.web_events, the raw suite's table, has none in dbt).
    marts = sorted(
        s["table"].split(".", 1)[1]
        for s in load_suites(get_settings().expectations_dir)
        if s["table"].startswith("marts.")
    )
    dbt_tests = dbt(["test", "--resource-type", "test", "--select", *marts], as_of)  # data tests, not unit tests
    load_dbt = os.getloadavg()
    run_results = json.loads((dbt_target_dir() / "run_results.json").read_text())
    return Stage(
        "validate",
        rows,
        t["seconds"],
        dbt_tests,
        f"dbt test on the {len(marts)} marts the suites cover",
        mem.mb,
        {
            "checks": result["evaluated"],
            "dbt_tests": len(run_results["results"]),
            "passed": result["success"],
            "failures": result["failures"],
            "gate_own_seconds": round(result["seconds"], 2),
            "gate_parts_seconds": {k: round(v, 2) for k, v in result["timings"].items()},
            "load_avg_1m": {"before": load_before[0], "after_gate": load_gate[0], "after_dbt_test": load_dbt[0]},
        },
    )


def stage_sync(url: str, pids: list[int]) -> Stage:
    from leadflow.settings import get_settings
    from leadflow.sync.engine import build_destination, sync_destination

    destination = build_destination("file", get_settings())
    with psycopg.connect(url, autocommit=True) as conn, PeakMemory(pids) as mem, timed() as t:
        first, _ = sync_destination(conn, destination, "bench")
        again, _ = sync_destination(conn, destination, "bench")
    changed = first.sent + first.updated
    batches = len(list((get_settings().outbox / "file").glob("batch-*.jsonl")))
    return Stage(
        "sync",
        changed,
        t["seconds"],
        None,
        "ceil(changed / batch size) batches; re-run sends 0",
        mem.mb,
        {
            "changed": changed,
            "batches": batches,
            "floor_batches": math.ceil(changed / destination.batch_size),
            "rerun_planned": again.planned,
        },
    )


# -- driver ------------------------------------------------------------------------------------------
def render(stages: list[Stage], meta: dict) -> str:
    lines = [
        f"# leadflow benchmark — scale {meta['scale']} ({meta['leads']:,} leads, {meta['records']:,} source records)",
        "",
        f"{meta['started_at']} on {meta['machine']}",
        "",
        "| stage | rows | wall s | rows/s | floor s | ratio | peak MB | floor |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in stages:
        floor = f"{s.floor_seconds:.2f}" if s.floor_seconds else "–"
        lines.append(
            f"| {s.stage} | {s.rows:,} | {s.seconds:.2f} | {s.rows_per_second:,.0f} | {floor} | "
            f"{s.ratio if s.ratio is not None else '–'} | {s.peak_rss_mb:,.0f} | {s.floor} |"
        )
    return "\n".join(lines) + "\n"


def run(scale: float, seed: int, with_airflow: bool, out_dir: Path) -> dict:
    from leadflow.settings import get_settings, reset_settings
    from leadflow.warehouse.db import embedded
    from leadflow_demo.api_server import CrmApiServer
    from leadflow_demo.generator import generate

    leads = max(int(LEADS_PER_SCALE * scale), 50)
    home = Path(os.environ.get("LEADFLOW_HOME", REPO / ".leadflow" / "bench"))
    os.environ["LEADFLOW_HOME"] = str(home)
    os.environ.setdefault("LEADFLOW_EMBEDDED_PORT", "54349")
    os.environ.setdefault("LEADFLOW_API_URL", "http://127.0.0.1:18766")
    os.environ.pop("LEADFLOW_WAREHOUSE_URL", None)
    reset_settings()
    settings = get_settings()
    server_url = embedded(settings).start()
    as_of = datetime.now(UTC).replace(second=0, microsecond=0)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    click.echo(f"bench: scale {scale} = {leads:,} leads; warehouse {server_url}")

    with timed() as g:
        counts = generate(settings.landing, leads=leads, seed=seed, as_of=as_of)
    records = sum(counts.values())
    click.echo(f"bench: generated {records:,} records in {g['seconds']:.1f}s")

    url = fresh_database(server_url, "bench_bare")
    set_warehouse(url)
    pids = _postmaster_pid(url)
    stages: list[Stage] = []
    port = int(settings.api_url.rsplit(":", 1)[1])
    with CrmApiServer(root=settings.landing, port=port, max_rps=None):
        stages.append(stage_pull(url, settings.landing, as_of, pids, settings.api_url))
    click.echo(f"bench: pull {stages[-1].seconds:.1f}s")
    transform, full_seconds = stage_transform(url, as_of, pids)
    stages.append(transform)
    click.echo(f"bench: transform {transform.seconds:.1f}s (floor {transform.floor_seconds:.1f}s)")
    stages.append(stage_validate(url, as_of, pids))
    click.echo(f"bench: validate {stages[-1].seconds:.1f}s")
    stages.append(stage_sync(url, pids))
    click.echo(f"bench: sync {stages[-1].seconds:.1f}s")
    stages.append(stage_incremental(url, as_of, full_seconds, pids))
    click.echo(f"bench: incremental {stages[-1].seconds:.1f}s after {stages[-1].rows:,} new events")
    stages.append(stage_incremental(url, as_of, full_seconds, pids, share=0))
    click.echo(f"bench: incremental, nothing new {stages[-1].seconds:.1f}s")
    stages.append(stage_incremental(url, as_of, full_seconds, pids, moved_hours=1))
    click.echo(f"bench: incremental, next hour {stages[-1].seconds:.1f}s after {stages[-1].rows:,} new events")

    by_name = {s.stage: s for s in stages}
    bare = sum(by_name[n].seconds for n in ("pull", "validate", "sync")) + transform.notes["dbt_build_seconds"]
    floors = sum(s.floor_seconds or 0 for s in stages if s.stage in ("pull", "transform"))
    stages.append(
        Stage(
            "whole pipeline (bare)",
            records,
            bare,
            floors,
            "sum of the pull and transform floors",
            max(s.peak_rss_mb for s in stages),
            {"target_ratio": 3.0, "validate_share": round(by_name["validate"].seconds / bare, 3)},
        )
    )
    if with_airflow:
        from bench.orchestration import measure

        bare_parts = {n: by_name[n].seconds for n in ("pull", "validate", "sync")}
        bare_parts["dbt_build"] = transform.notes["dbt_build_seconds"]
        url = fresh_database(server_url, "bench_airflow")
        set_warehouse(url)
        stages.append(measure(url, settings.landing, as_of, bare_parts, records, _postmaster_pid(url)))
        click.echo(f"bench: orchestration {stages[-1].seconds:.1f}s")

    meta = {
        "scale": scale,
        "leads": leads,
        "records": records,
        "seed": seed,
        "started_at": started_at,
        "machine": f"{os.cpu_count()} cores, {round(psutil.virtual_memory().total / 2**30)} GiB",
        "generate_seconds": round(g["seconds"], 2),
    }
    results = {
        "meta": meta,
        "stages": [{**asdict(s), "ratio": s.ratio, "rows_per_second": s.rows_per_second} for s in stages],
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (out_dir / f"bench-{scale}-{stamp}-{uuid.uuid4().hex[:4]}.json").write_text(
        json.dumps(results, indent=2, default=str)
    )
    table = render(stages, meta)
    (out_dir / "latest.md").write_text(table)
    click.echo("\n" + table)
    embedded(settings).stop()
    return results


@click.command(help=__doc__)
@click.option(
    "--scale",
    "scales",
    default="1",
    show_default=True,
    help="1 = 10k leads, 10 = 100k, 100 = 1M. Several, comma-separated (1,3,10), also write a growth table.",
)
@click.option("--seed", default=7, show_default=True)
@click.option("--airflow/--no-airflow", default=True, show_default=True, help="Also time the DAG through Airflow.")
@click.option("--out", "out_dir", default=str(REPO / "results"), show_default=True, type=click.Path(path_type=Path))
def main(scales: str, seed: int, airflow: bool, out_dir: Path) -> None:
    import logging

    from bench.growth import growth_table

    logging.basicConfig(level=logging.WARNING)
    try:
        values = [float(v) for v in scales.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(
            f"expected numbers separated by commas, got {scales!r}", param_hint="--scale"
        ) from None
    runs = [run(scale, seed, airflow, out_dir) for scale in values]
    if len(runs) > 1:
        table = growth_table(runs)
        (out_dir / "growth.md").write_text(table)
        click.echo("\n" + table)


if __name__ == "__main__":
    sys.exit(main())
