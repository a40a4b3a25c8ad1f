"""leadflow command line: run the demo pipeline, manage the embedded warehouse, inspect results.

leadflow demo --leads 2000      # generate demo sources, run the DAG through Airflow, print a summary
leadflow warehouse start|stop|url|env   # env: PG* exports, so dbt and psql run on their own
leadflow summary                # what the last run qualified, and where the outputs are
leadflow sync --dry-run         # the record-level diff the sync would send
leadflow pull [SOURCE...]       # pull sources into raw, without Airflow (LEADFLOW_SOURCES_FILE: your export)
leadflow run                    # pull -> dbt build -> quality gate -> sync, without Airflow
leadflow profile                # after a run: what can and cannot qualify with today's settings, and why
leadflow report                 # render the lead-qualification report (HTML) into $LEADFLOW_HOME/report/
"""

from __future__ import annotations

import errno
import json
import logging
import re
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click

from leadflow.settings import get_settings
from leadflow.warehouse.db import embedded, redact, warehouse_url

log = logging.getLogger("leadflow")

# Lines of `airflow dags test` output worth showing while it runs (the whole log goes to a file).
_PROGRESS = re.compile(
    r"\[DAG TEST\] (starting|end) task|leadflow\.|quality gate|sync |dbt \| .*(OK created|PASS|ERROR|FAIL|WARN|Completed|Done\.)|Marking run|Traceback|Error"
)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )


def _warehouse_origin() -> str:
    """Which setting chose the warehouse, for a message about it."""
    from leadflow.settings import env_pg_url

    settings = get_settings()
    if settings.warehouse_url:
        return "LEADFLOW_WAREHOUSE_URL"
    if env_pg_url():
        return "the PG* variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD)"
    return f"the embedded server (LEADFLOW_EMBEDDED_PORT={settings.embedded_port}, data in {settings.home_dir})"


def explain_user_error(err: BaseException) -> str | None:
    """One or two lines for an error a user's settings, ports, connections or data cause; None for a bug."""
    import errno

    import psycopg

    from leadflow.settings import explain_settings_error
    from leadflow.sync.connections import ConnectionMissing
    from leadflow.sync.destinations import DestinationConfigError

    if not isinstance(err, Exception):
        return None
    explained = explain_settings_error(err)
    if explained:
        return explained
    if isinstance(err, psycopg.OperationalError):
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        try:
            origin = _warehouse_origin()
        except Exception:  # noqa: BLE001 - the settings themselves may be what is wrong
            origin = "LEADFLOW_WAREHOUSE_URL, PG* or the embedded server"
        return f"cannot reach the warehouse: {first}\n  it comes from {origin}"
    if isinstance(err, OSError) and err.errno == errno.EADDRINUSE:
        return f"a port is already in use: {err}"
    if isinstance(err, ConnectionMissing | DestinationConfigError):
        return f"{err} (destinations come from LEADFLOW_SYNC_DESTINATIONS)"
    if isinstance(err, _user_errors()):
        return str(err)
    return None


class LeadflowGroup(click.Group):
    """The command group: a user's error is one or two lines naming the setting; a traceback only with -v."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as err:
            if ctx.params.get("verbose"):
                raise
            explained = explain_user_error(err)
            if explained is None:
                explained = (
                    f"unexpected {type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"
                    "\n  run again as `leadflow -v ...` for the traceback"
                )
            raise click.ClickException(explained) from None


@click.group(cls=LeadflowGroup, help=__doc__)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging, and a traceback with every error.")
def main(verbose: bool) -> None:
    _setup_logging(verbose)


@main.group()
def warehouse() -> None:
    """The embedded PostgreSQL (used when LEADFLOW_WAREHOUSE_URL and PG* are unset)."""


@warehouse.command("start")
def warehouse_start() -> None:
    """Start (initialising on first use) the embedded server and print its URL."""
    click.echo(embedded().start())


@warehouse.command("stop")
def warehouse_stop() -> None:
    """Stop the embedded server cleanly."""
    embedded().stop()
    click.echo("embedded PostgreSQL stopped")


@warehouse.command("url")
def warehouse_url_cmd() -> None:
    """Print the warehouse URL the pipeline will use (password hidden)."""
    click.echo(redact(warehouse_url(start_embedded=False)))


@warehouse.command("env")
@click.option("--with-password", is_flag=True, help="Also export PGPASSWORD (it is left out by default).")
def warehouse_env_cmd(with_password: bool) -> None:
    """Print the standard PG* exports for the warehouse (starting the embedded server if it is the one in use),
    so dbt, psql or any libpq tool runs on its own: eval "$(.venv/bin/leadflow warehouse env)"."""
    import shlex
    from urllib.parse import urlsplit

    url = warehouse_url(get_settings())
    parts = urlsplit(url)
    exports = {
        "PGHOST": parts.hostname or "127.0.0.1",
        "PGPORT": str(parts.port or 5432),
        "PGUSER": parts.username or "postgres",
        "PGDATABASE": (parts.path or "/postgres").lstrip("/") or "postgres",
    }
    if parts.password and with_password:
        exports["PGPASSWORD"] = parts.password
    for name, value in exports.items():
        click.echo(f"export {name}={shlex.quote(value)}")
    if parts.password and not with_password:
        click.echo("# the URL holds a password: PGPASSWORD is not printed (--with-password prints it)")
    click.echo(f"# {redact(url)}; dbt: cd dbt_project && dbt build (profiles.yml reads these)")


@main.command("with-warehouse", context_settings={"ignore_unknown_options": True})
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def with_warehouse(command: tuple[str, ...]) -> None:
    """Run COMMAND with the warehouse started and dbt's LEADFLOW_PG_* variables set (e.g. sqlfluff, dbt)."""
    import os

    from leadflow.warehouse.db import dbt_env

    server = embedded()
    owns_server = warehouse_url(start_embedded=False) == server.url and not server.running()
    try:
        env = {**os.environ, **dbt_env(warehouse_url())}
        code = subprocess.run(list(command), env=env).returncode
    finally:
        if owns_server:
            server.stop()  # started for this command only
    sys.exit(code)


def _manifest(landing: Path) -> dict | None:
    path = landing / "_truth" / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else None


def ensure_demo_data(leads: int, seed: int, fresh: bool) -> datetime:
    """Generate the demo landing zone unless the same one is there; returns its as-of time."""
    from leadflow.demo.generator import generate

    landing = get_settings().landing
    manifest = _manifest(landing)
    if manifest and not fresh and manifest.get("leads") == leads and manifest.get("seed") == seed:
        click.echo(f"demo sources: reusing {landing} ({leads} leads, seed {seed}, as of {manifest['as_of']})")
        return datetime.fromisoformat(manifest["as_of"])
    if landing.exists():
        import shutil

        shutil.rmtree(landing)
    as_of = datetime.now(UTC).replace(second=0, microsecond=0)
    click.echo(f"demo sources: generating {leads} leads (seed {seed}) into {landing} ...")
    started = time.monotonic()
    counts = generate(landing, leads=leads, seed=seed, as_of=as_of)  # writes _truth/manifest.json
    click.echo(f"demo sources: {sum(counts.values()):,} records in {time.monotonic() - started:.1f}s")
    return as_of


PIPELINE_DAGS = ("leadflow_pull", "leadflow_pipeline")


def run_dag(url: str, as_of: datetime, log_file: Path) -> None:
    """Run one pipeline cycle through Airflow (`airflow dags test`): the pull DAG, then the DAG its
    Assets schedule. Progress is streamed; raises if either run failed."""
    from leadflow.runtime import airflow_env, dags_test, migrate_metadata

    settings = get_settings()
    env = airflow_env(settings, url)
    click.echo("airflow: preparing metadata database ...")
    migrate_metadata(env)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_text("")

    def progress(line: str) -> None:
        if _PROGRESS.search(line) and "No tasks to run" not in line:
            click.echo("  " + _compact(line))

    for dag_id in PIPELINE_DAGS:
        # `dags test` runs no scheduler, so the Asset-scheduled DAG is started here, for the same as-of.
        click.echo(f"airflow: running DAG {dag_id} for {as_of.isoformat()} (full log: {log_file})")
        code, state = dags_test(dag_id, as_of, env, log_file, on_line=progress)
        if code != 0 or state != "success":
            raise click.ClickException(
                f"{dag_id}: the DAG run ended {state or 'with exit ' + str(code)}; see {log_file}"
            )


def _compact(line: str) -> str:
    line = re.sub(r"^\S+Z \[\w+\s*\] ", "", line.strip())
    return re.sub(r"\s+\[[\w.]+\]\s+loc=\S+.*$", "", line)[:200]


@main.command()
@click.option("--leads", default=2000, show_default=True, help="Demo leads to generate (events scale with it).")
@click.option("--seed", default=7, show_default=True, help="Generator seed: same seed, same data.")
@click.option("--fresh", is_flag=True, help="Regenerate the demo sources even if they exist.")
@click.option("--keep-warehouse", is_flag=True, help="Leave the embedded PostgreSQL running afterwards.")
def demo(leads: int, seed: int, fresh: bool, keep_warehouse: bool) -> None:
    """Run the whole pipeline on demo data: sources → Airflow DAG → summary."""
    from leadflow.demo.api_server import CrmApiServer

    settings = get_settings()
    started = time.monotonic()
    server = embedded(settings)
    owns_server = warehouse_url(settings, start_embedded=False) == server.url and not server.running()
    url = warehouse_url(settings)
    click.echo(f"warehouse: {redact(url)}")
    as_of = ensure_demo_data(leads, seed, fresh)
    port = int(settings.api_url.rsplit(":", 1)[1].split("/")[0])
    with ExitStack() as stack:
        try:
            api = stack.enter_context(CrmApiServer(root=settings.landing, port=port, token=settings.api_token))
        except OSError as err:
            if err.errno != errno.EADDRINUSE:
                raise
            raise click.ClickException(
                f"port {port} of the demo CRM / conversations API is already in use (LEADFLOW_API_URL="
                f"{settings.api_url})\n  stop what holds it, or set LEADFLOW_API_URL to a free port, e.g. "
                f"http://127.0.0.1:{port + 1}"
            ) from None
        click.echo(f"demo CRM / conversations API: {api.url}")
        if owns_server and not keep_warehouse:
            stack.callback(server.stop)  # started here, so stopped here too (also when the run fails)
        run_dag(url, as_of, settings.home_dir / "logs" / "demo_dag_run.log")
        print_summary(url)
    if owns_server and not keep_warehouse:
        click.echo(
            "\nembedded PostgreSQL stopped; `.venv/bin/leadflow warehouse start` (or --keep-warehouse) to query it"
        )
    click.echo(f"done in {time.monotonic() - started:.0f}s")


@main.command()
def summary() -> None:
    """Print what the last run qualified and where its outputs are."""
    print_summary(warehouse_url())


@main.command()
@click.option("--dry-run", is_flag=True, help="Print and store the record-level diff; send nothing.")
@click.option("--run-id", default=None, help="Pipeline run whose quality gate must have passed (default: latest).")
def sync(dry_run: bool, run_id: str | None) -> None:
    """Deliver new and changed qualified leads (or show what would be delivered)."""
    from leadflow.sync.engine import SyncFailed, SyncRefused, build_destination, run_sync, sync_destination
    from leadflow.warehouse.db import connect, ensure_ops_schema

    settings = get_settings()
    with connect(autocommit=True) as conn:
        ensure_ops_schema(conn)
        latest = conn.execute("select run_id from ops.quality_runs order by validated_at desc limit 1").fetchone()
        run_id = run_id or (latest[0] if latest else None)
        if not dry_run:
            conn.close()
            try:
                reports = run_sync(run_id or "", settings=settings)
            except (SyncRefused, SyncFailed) as err:
                raise click.ClickException(str(err)) from err
            for report in reports:
                click.echo(
                    f"{report.destination}: planned {report.planned}, sent {report.sent}, updated {report.updated}, "
                    f"unchanged {report.unchanged}, rejected {report.rejected}, retried {report.retried}"
                )
            return
        for name in settings.sync_destinations:
            report, diff = sync_destination(conn, build_destination(name, settings), run_id or "", dry_run=True)
            click.echo(f"{name}: would send {report.planned}, unchanged {report.unchanged} (dry run: nothing sent)")
            for row in diff[:50]:
                click.echo(
                    f"  {row['action']:<10} {row['lead_id']:<40} {row.get('delivered_hash') or '-'} -> "
                    f"{row.get('content_hash')}"
                )
            if len(diff) > 50:
                click.echo(f"  ... {len(diff) - 50} more (all stored in ops.sync_log)")


TYPE_COLUMNS = (
    ("conversion-qualified (hot)", "is_conversion_qualified"),
    ("SQL", "is_sql"),
    ("PQL", "is_pql"),
    ("conversation-qualified", "is_conversation_qualified"),
    ("MQL", "is_mql"),
)


def print_summary(url: str) -> None:
    """What the last run qualified: as-of, gate, leads per type, conversion, top leads, where outputs are.
    A warehouse without marts is one line saying what to run (a ClickException), never a traceback."""
    from leadflow.report import queries
    from leadflow.report.render import report_path
    from leadflow.warehouse.db import connect

    settings = get_settings()
    with connect(url) as conn:
        try:
            queries.check_marts(conn)
        except queries.ReportUnavailable as err:
            raise click.ClickException(f"{redact(url)}: {err}") from None
        head = queries.overview(conn)
        gate = queries.gate_status(conn)
        performance = [r for r in queries.performance(conn) if r["rule"] == "any"]
        sources = queries.source_totals(conn)
        counts = conn.execute(
            "select " + ", ".join(f"count(*) filter (where {col})" for _, col in TYPE_COLUMNS) + ", count(*) "
            "from marts.qualified_leads"
        ).fetchone()
        top = queries.top_qualified(conn, 10)
        audit = conn.execute(
            "select coalesce(sum(read), 0), coalesce(sum(loaded), 0), coalesce(sum(quarantined), 0) from ops.load_audit"
        ).fetchone()
        synced = conn.execute(
            "select destination, count(*) from ops.sync_ledger where status = 'delivered' group by 1 order by 1"
        ).fetchall()
        no_email = conn.execute("select count(*) from marts.qualified_leads where email is null").fetchone()[0]
    click.echo("\n=== leadflow summary ===")
    click.echo(f"as of: {queries.as_text(head['as_of']) or 'unknown'}")
    if gate is None:
        click.echo("quality gate: not run yet (nothing has been validated or sent)")
    elif gate["success"]:
        click.echo(f"quality gate: passed, {gate['evaluated']} checks (run {gate['run_id']})")
    else:
        click.echo(f"quality gate: FAILED, {gate['failed']} of {gate['evaluated']} checks (run {gate['run_id']}); "
                   "nothing is sent")  # fmt: skip
        for suite in gate["suites"]:
            for detail in (suite["details"] or [])[:3]:
                click.echo(f"  {detail}")
    click.echo(f"leads resolved: {head['leads']:,}    qualified (any type): {counts[-1]:,}")
    click.echo(f"ingestion: read {audit[0]:,} = loaded {audit[1]:,} + quarantined {audit[2]:,}")
    click.echo("\nleads per qualification type (a lead can hold several):")
    for (label, _), n in zip(TYPE_COLUMNS, counts, strict=False):
        click.echo(f"  {label:<28} {n:>7,}")
    click.echo("\ndo qualified leads convert? (won within the type's window, over all history)")
    click.echo(f"  {'type':<28} {'qualified':>9} {'converts':>9} {'if not':>9} {'lift':>6} {'recall':>7}")
    for r in performance:
        rate = _pct(r["conversion_rate_qualified"])
        click.echo(
            f"  {queries.TYPE_LABELS[r['qualification_type']]:<28} {r['qualified_count']:>9,} {rate:>9} "
            f"{_pct(r['conversion_rate_not_qualified']):>9} "
            f"{_times(r['lift']):>6} "
            f"{_pct(r['recall']):>7}"
        )
    leads = sum(r["new_leads"] for r in sources)
    won = sum(r["won"] for r in sources)
    if leads:
        click.echo(f"  lead-to-customer, every lead: {won:,} of {leads:,} won ({won / leads:.1%})")
    click.echo("\ntop 10 qualified leads:")
    for i, r in enumerate(top, 1):
        click.echo(
            f" {i:>2}. {r['email'] or r['lead_id']}  [{r['primary_type']}, score {r['total_score']}, route {r['route']}]"
        )
        click.echo(f"     why: {r['reasons_text']}")
    click.echo("\noutputs:")
    click.echo(f"  warehouse        {redact(url)}  (schemas raw, staging, intermediate, marts, ops)")
    click.echo(
        "  marts            marts.qualified_leads, marts.outreach_queue, marts.lead_scores, marts.funnel_daily ..."
    )
    click.echo(f"  delivered        {', '.join(f'{d}: {n:,}' for d, n in synced) or 'nothing yet'}")
    if no_email:
        click.echo(
            f"  not deliverable  {no_email:,} qualified lead(s) without an e-mail: outreach (and the suppression "
            "check) needs one; they stay in marts.qualified_leads"
        )
    click.echo(f"  file destination {settings.outbox / 'file'}")
    report = report_path(settings)
    click.echo(f"  report           {report if report.exists() else 'not rendered yet (leadflow report)'}")
    click.echo(f"  data docs        {settings.home_dir / 'data_docs' / 'index.html'}")
    click.echo(f"  quarantine       ops.quarantine ({audit[2]:,} records, with source, location and reason)")


def _pct(value) -> str:
    return "-" if value is None else f"{float(value):.1%}"


def _times(value) -> str:
    return "-" if value is None else f"{float(value):.1f}x"


# -- your own data without Airflow: `leadflow pull [SOURCE...]` and `leadflow run` ---------------------
class _DbtProgress(logging.Filter):
    """dbt's own lines, shown only where they say how it went (all of them with -v)."""

    SHOWN = re.compile(r"dbt \| .*(ERROR|FAIL|WARN|Completed|Done\.|Finished running)")

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not text.startswith("dbt | ") or bool(self.SHOWN.search(text))


def _user_errors() -> tuple[type[BaseException], ...]:
    """What a user's configuration or data can cause: shown as a message, never as a traceback."""
    import yaml

    from leadflow.pull.readers import SourceError
    from leadflow.quality.gate import QualityGateFailed
    from leadflow.sync.engine import SyncFailed, SyncRefused
    from leadflow.transform.dbt import DbtFailed

    return (SourceError, DbtFailed, QualityGateFailed, SyncRefused, SyncFailed, yaml.YAMLError, FileNotFoundError)


def _as_of_option(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time (e.g. 2026-11-20T12:00:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _sources_to_pull(requested: tuple[str, ...]) -> list[str]:
    """The requested sources (default: every configured one), in contract order; unknown or unconfigured ones
    are a usage error naming the sources file."""
    from leadflow.pull.contract import SOURCES
    from leadflow.pull.run import load_source_config

    settings = get_settings()
    if not settings.sources_path.exists():
        raise click.ClickException(
            f"sources file {settings.sources_path} does not exist (LEADFLOW_SOURCES_FILE names another one)"
        )
    configured = load_source_config(settings)
    unknown = [s for s in requested if s not in SOURCES]
    if unknown:
        raise click.UsageError(f"unknown source(s) {', '.join(unknown)}; the contract's sources: {', '.join(SOURCES)}")
    missing = [s for s in requested if s not in configured]
    if missing:
        raise click.UsageError(
            f"source(s) {', '.join(missing)} not configured in {settings.sources_path} "
            f"(it configures: {', '.join(configured) or 'nothing'})"
        )
    chosen = [s for s in SOURCES if s in (requested or configured)]
    if not chosen:
        raise click.ClickException(f"{settings.sources_path} configures no source: nothing to pull")
    return chosen


def _pull_stage(sources: list[str], run_id: str, as_of: datetime) -> dict[str, dict]:
    from leadflow.pipeline import pull_at

    totals: dict[str, dict] = {}
    for source in sources:
        click.echo(f"pull {source} ...")
        summary = pull_at(source, run_id, as_of)
        outcomes = _load_outcomes(run_id, source)
        for key, counts in summary.items():
            fate = outcomes.get(key)
            what = (
                f" (inserted {fate[0]:,}, updated {fate[1]:,}, unchanged {fate[2]:,}, older than stored {fate[3]:,})"
                if fate and counts["loaded"]
                else ""
            )
            click.echo(
                f"  {key}: read {counts['read']:,}, loaded {counts['loaded']:,}{what}, "
                f"quarantined {counts['quarantined']:,} in {counts['seconds']}s"
            )
        totals.update(summary)
    read = sum(c["read"] for c in totals.values())
    loaded = sum(c["loaded"] for c in totals.values())
    click.echo(f"pull: {len(sources)} source(s), read {read:,} = loaded {loaded:,} + quarantined {read - loaded:,}")
    return totals


def _load_outcomes(run_id: str, source: str) -> dict[str, tuple]:
    """What became of this run's loaded records per entity (ops.load_audit)."""
    from leadflow.warehouse.db import connect

    with connect(warehouse_url(get_settings())) as conn:
        rows = conn.execute(
            "select source || '.' || entity, inserted, updated, unchanged, older_than_stored from ops.load_audit "
            "where run_id = %s and source = %s",
            (run_id, source),
        ).fetchall()
    return {key: tuple(rest) for key, *rest in rows}


@contextmanager
def _pipeline_command(keep_warehouse: bool, verbose_dbt: bool):
    """The warehouse (the embedded one started if it is the one in use, and stopped again unless kept), dbt's
    output trimmed to its outcome, and user errors as messages."""
    settings = get_settings()
    server = embedded(settings)
    owns_server = warehouse_url(settings, start_embedded=False) == server.url and not server.running()
    dbt_log = logging.getLogger("leadflow.transform.dbt")
    progress = _DbtProgress()
    if not verbose_dbt:
        dbt_log.addFilter(progress)
    try:
        url = warehouse_url(settings)
        click.echo(f"warehouse: {redact(url)}; sources: {settings.sources_path}")
        yield url
    except _user_errors() as err:
        raise click.ClickException(str(err)) from err
    finally:
        dbt_log.removeFilter(progress)
        if owns_server and not keep_warehouse:
            server.stop()


_KEEP = click.option("--keep-warehouse", is_flag=True, help="Leave the embedded PostgreSQL running afterwards.")
_AS_OF = click.option("--as-of", "as_of", default=None, help="The run's as-of time (ISO 8601; default: now).")
_VARS = click.option(
    "--vars",
    "dbt_vars",
    default=None,
    metavar="YAML",
    help="Settings for this run only, over dbt_project.yml's vars (dbt's --vars), e.g. "
    "'{fit_lead_source_points: {referral: 20}, mql_min_engagement_score: 0}'.",
)


def _vars_option(value: str | None) -> dict:
    import yaml

    if not value:
        return {}
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as err:
        raise click.BadParameter(f"not YAML: {err}", param_hint="--vars") from None
    if not isinstance(parsed, dict):
        raise click.BadParameter(f"{value!r} is not a mapping of settings (e.g. '{{mql_min_fit_score: 30}}')",
                                 param_hint="--vars")  # fmt: skip
    project = _project_vars()
    unknown = sorted(k for k in parsed if k not in project)
    if unknown:
        raise click.BadParameter(
            f"unknown setting(s) {', '.join(unknown)}: not a var of dbt_project/dbt_project.yml", param_hint="--vars"
        )
    return parsed


def _project_vars() -> dict:
    from leadflow.transform.dbt import project_vars

    return project_vars(get_settings())


_RUN_ID = click.option("--run-id", default=None, help="Run id for ops.* bookkeeping (default: cli-<as-of>).")


@main.command("pull")
@click.argument("sources", nargs=-1)
@_AS_OF
@_RUN_ID
@_KEEP
def pull_cmd(sources: tuple[str, ...], as_of: str | None, run_id: str | None, keep_warehouse: bool) -> None:
    """Pull SOURCES (default: every source the sources file configures) into raw, without Airflow."""
    moment = _as_of_option(as_of)
    run_id = run_id or f"cli-{moment:%Y%m%dT%H%M%SZ}"
    with _pipeline_command(keep_warehouse, logging.getLogger().level <= logging.DEBUG):
        _pull_stage(_sources_to_pull(sources), run_id, moment)


@main.command("run")
@_AS_OF
@_RUN_ID
@_VARS
@_KEEP
def run_cmd(as_of: str | None, run_id: str | None, dbt_vars: str | None, keep_warehouse: bool) -> None:
    """Run the pipeline without Airflow: pull every configured source -> dbt build -> quality gate -> sync,
    through the same functions the DAGs' tasks call. Ends with the rules that cannot fire on the data and,
    when nothing qualifies, how to get leads qualified."""
    from leadflow.pipeline import dbt_build_at, outreach_sync_at, quality_gate_at

    extra_vars = _vars_option(dbt_vars)
    moment = _as_of_option(as_of)
    run_id = run_id or f"cli-{moment:%Y%m%dT%H%M%SZ}"
    started = time.monotonic()
    with _pipeline_command(keep_warehouse, logging.getLogger().level <= logging.DEBUG) as url:
        click.echo(f"run {run_id} as of {moment.isoformat()}")
        click.echo("[1/4] pull")
        _pull_stage(_sources_to_pull(()), run_id, moment)
        click.echo("[2/4] dbt build ...")
        if extra_vars:
            click.echo(f"settings for this run: {json.dumps(extra_vars)}")
        click.echo(f"dbt build: done in {dbt_build_at(moment, extra_vars):.0f}s")
        try:
            click.echo("[3/4] quality gate ...")
            quality_gate_at(run_id, moment, on_result=_print_gate)
            click.echo("[4/4] sync ...")
            for report in outreach_sync_at(run_id):
                click.echo(
                    f"  {report.destination}: planned {report.planned}, sent {report.sent}, updated {report.updated}, "
                    f"unchanged {report.unchanged}, rejected {report.rejected}"
                )
            print_summary(url)
            _print_blocked_rules(url, moment, extra_vars)
        finally:  # after a failed gate too: the report shows what failed
            _render_report(url)
    click.echo(f"done in {time.monotonic() - started:.0f}s")


def _render_report(url: str) -> None:
    from leadflow.report import ReportUnavailable, render_report

    try:
        click.echo(f"report: {render_report(url)}")
    except ReportUnavailable as err:
        click.echo(f"report: not rendered: {err}")


@main.command("report")
def report_cmd() -> None:
    """Render the lead-qualification report (one self-contained HTML file, readable by you only) from the
    warehouse into $LEADFLOW_HOME/report/ and print its path. Each pipeline run renders it too."""
    from leadflow.report import ReportUnavailable, render_report

    try:
        click.echo(render_report(warehouse_url(get_settings())))
    except ReportUnavailable as err:
        raise click.ClickException(str(err)) from None


def _print_blocked_rules(url: str, as_of: datetime, extra_vars: dict | None = None) -> None:
    """The qualification rules that cannot fire on this data with today's settings, and why, and what to do when
    nothing qualifies (leadflow profile)."""
    from leadflow.profile import build_profile

    report = build_profile(url, as_of, extra_vars=extra_vars)
    blocked = [r for r in report["rules"] if not r["can_fire"]]
    if blocked:
        click.echo("\nrules that cannot fire on this data with today's settings (details: leadflow profile):")
        for rule in blocked:
            click.echo(f"  {rule['qualification_type']:<24} {rule['why']}")
    if report["how_to_qualify"]:
        click.echo("\nnothing qualifies with today's settings; to get leads qualified:")
        for i, step in enumerate(report["how_to_qualify"], 1):
            click.echo(f"  {i}. {step}")


def _print_gate(result) -> None:
    verdict = "passed" if result.success else f"FAILED ({len(result.failures)} check(s)); nothing is sent"
    click.echo(f"quality gate: {result.evaluated} checks, {verdict}; Data Docs: {result.docs_index}")
    for warning in result.warnings:
        click.echo(f"  warning: {warning}")


@main.command("profile")
@_AS_OF
@_VARS
def profile_cmd(as_of: str | None, dbt_vars: str | None) -> None:
    """After a load and a build: per source and signal family what arrived, the score distributions, which
    rules can fire with today's settings and which cannot (and why), thresholds that would qualify the top
    x% of leads, each lead source's and quiz role's won share with the fit points it could get, and, when
    nothing qualifies, how to get leads qualified (printed, and kept in ops.profile_runs). Give --vars as the
    build had them."""
    from leadflow.profile import build_profile, record_profile, render

    extra_vars = _vars_option(dbt_vars)
    moment = _as_of_option(as_of)
    url = warehouse_url(get_settings())
    try:
        report = build_profile(url, moment, extra_vars=extra_vars)
    except RuntimeError as err:
        raise click.ClickException(str(err)) from err
    click.echo(render(report))
    click.echo(f"kept in ops.profile_runs (profile_id {record_profile(url, report)})")


if __name__ == "__main__":
    sys.exit(main())


def _register_commands() -> None:
    from leadflow.learn.cli import model

    main.add_command(model)


_register_commands()
