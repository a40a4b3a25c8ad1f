"""The quality gate: run the Great Expectations suites in ``expectations/`` against the warehouse.

Who owns which check (keep it so; tests/quality/test_ownership.py holds the split): **dbt** owns every
constraint on a model's columns and rows (contract, keys, not null, accepted values, ranges, patterns,
``expression_is_true``), inside ``dbt build``; **GX** owns what dbt does not: volume against the last
good run, freshness and checks relative to the run's as-of, the raw layer, and ratios judged against
history. A suite never restates a dbt test on the same model and column.

``run_gate`` runs every suite as SQL in PostgreSQL, records each outcome (``leadflow.quality.record``) and
builds Data Docs; ``raise_if_failed`` stops the sync. Suite keys, ratio rules, speed: docs/data-quality.md.
"""

from __future__ import annotations

import json
import logging
import string
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from leadflow.connections import redact
from leadflow.quality.runs import record
from leadflow.settings import Settings, get_settings
from leadflow.warehouse.db import connect
from leadflow.warehouse.ops import ensure_ops

log = logging.getLogger(__name__)

WORKERS = 3
"""Suites validated at once. The queries run in PostgreSQL while another worker's GX bookkeeping runs here."""

DESCRIBE_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 5}


class QualityGateFailed(RuntimeError):
    """Raised when any suite fails: the sync must not run. The message lists every failed check."""


@dataclass
class Failure:
    suite: str
    table: str
    expectation: str
    column: str | None
    detail: str
    sample_keys: list = field(default_factory=list)

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        keys = f"; sample keys: {self.sample_keys}" if self.sample_keys else ""
        return f"[{self.suite}] {self.expectation} on {where}: {self.detail}{keys}"


@dataclass
class GateResult:
    success: bool
    failures: list[Failure]
    evaluated: int
    docs_index: Path | None
    seconds: float
    row_counts: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def configured_sources(settings: Settings) -> set[str] | None:
    """The sources the sources file configures; None when it cannot be read (then every check applies)."""
    from leadflow.pull.run import load_source_config

    try:
        return set(load_source_config(settings))
    except Exception as err:  # noqa: BLE001 - the gate judges the marts; the pull reports a broken sources file
        log.warning(
            "quality gate: cannot read %s (%s): every source-dependent check applies", settings.sources_path, err
        )
        return None


def _source_scoped(specs: list[dict], configured: set[str] | None, settings: Settings) -> tuple[list[dict], list[str]]:
    """Suites whose ``source`` is not configured, without their freshness and volume checks; and what was skipped."""
    out, notes = [], []
    for spec in specs:
        source = spec.get("source")
        if configured is None or not source or source in configured:
            out.append(spec)
            continue
        skipped = [k for k in ("freshness", "row_count_tolerance") if k in spec]
        out.append({k: v for k, v in spec.items() if k not in skipped})
        if skipped:
            notes.append(
                f"[{spec['name']}] {' and '.join(skipped)} not checked: source {source!r} is not configured "
                f"in {settings.sources_path.name}"
            )
    return out, notes


def _previous_ratios(conn: psycopg.Connection, suite: str, run_id: str) -> tuple[str, dict] | None:
    """(run_id, ratios) of the suite's last successful run before this one, or None on a first run."""
    row = conn.execute(
        "select run_id, coalesce(row_counts -> 'ratios', '{}'::jsonb) from ops.quality_runs "
        "where suite = %s and success and run_id <> %s order by validated_at desc limit 1",
        (suite, run_id),
    ).fetchone()
    return (row[0], row[1]) if row else None


def _pct(value: float | None) -> str:
    return "undefined (no rows to divide by)" if value is None else f"{value:.1%}"


def judge_ratio(check: dict, value: float | None, previous: tuple[str, dict] | None, warn_only: bool) -> tuple:
    """("pass" | "warn" | "fail", explanation) of one ratio check: a failure needs a value outside the band
    that changed suddenly against the last good run; outside the band otherwise, a warning."""
    low, high = check["between"]
    name, factor = check["name"], float(check.get("max_change", 3.0))
    if value is not None and low <= value <= high:
        return "pass", ""
    what = f"{check.get('description', name)}: {_pct(value)}, expected {low:.1%}..{high:.1%}"
    if previous is None or name not in previous[1]:
        reason = "a first run (no earlier good run to compare with)"
    else:
        before = previous[1][name]
        was = f"{_pct(before)} at the last good run {previous[0]}"
        if before is None or value is None:
            sudden = before is not value
        else:
            small, big = sorted((before, value))
            sudden = big - small >= 0.01 and big > small * factor
        if sudden and not warn_only:
            return "fail", f"{what}; a sudden change from {was} (more than {factor:g}x){_why(check)}"
        reason = f"a sudden change from {was}" if sudden else f"no sudden change from {was}"
    if warn_only:
        reason += "; LEADFLOW_GATE_RATIOS_WARN_ONLY is set"
    return "warn", (
        f"{what}; {reason}, so a warning, not a failure: check the qualification settings against your data"
        f"{_why(check)}"
    )


def _why(check: dict) -> str:
    return f" ({check['why']})" if check.get("why") else ""


def _ratio_checks(conn: psycopg.Connection, spec: dict, run_id: str, warn_only: bool) -> tuple[dict, list, list]:
    """The suite's ratio checks: (values, failures, warnings)."""
    values: dict = {}
    failures: list[Failure] = []
    warnings_: list[str] = []
    checks = spec.get("ratio_checks") or []
    if not checks:
        return values, failures, warnings_
    previous = _previous_ratios(conn, spec["name"], run_id)
    for check in checks:
        numerator = check["numerator"].replace("{batch}", spec["table"])
        denominator = check["denominator"].replace("{batch}", spec["table"])
        value = conn.execute(f"select ({numerator})::float8 / nullif(({denominator}), 0)").fetchone()[0]  # noqa: S608
        values[check["name"]] = value
        verdict, explanation = judge_ratio(check, value, previous, warn_only)
        if verdict == "fail":
            failures.append(Failure(spec["name"], spec["table"], f"ratio:{check['name']}", None, explanation))
        elif verdict == "warn":
            warnings_.append(f"[{spec['name']}] {explanation}")
    return values, failures, warnings_


def load_suites(directory: Path) -> list[dict]:
    suites = []
    for path in sorted(directory.glob("*.json")):
        spec = json.loads(path.read_text())
        for key in ("name", "table", "expectations"):
            if key not in spec:
                raise ValueError(f"{path}: suite file lacks {key!r}")
        spec["_path"] = str(path)
        suites.append(spec)
    return suites


class _GxImport(threading.Thread):
    """Import Great Expectations (seconds of CPU) while the caller talks to the warehouse."""

    def __init__(self) -> None:
        super().__init__(name="gx-import", daemon=True)
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            _quiet_gx()
            import great_expectations.checkpoint  # noqa: F401
            import great_expectations.core.expectation_suite  # noqa: F401
        except BaseException as err:  # re-raised in the caller's thread
            self.error = err

    def gx(self):
        self.join()
        if self.error is not None:
            raise self.error
        return _quiet_gx()


def _quiet_gx():
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="great_expectations")
    import great_expectations as gx

    return gx


def _existing_tables(conn: psycopg.Connection, specs: list[dict]) -> set[str]:
    rows = conn.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema || '.' || table_name = any(%s)",
        ([s["table"] for s in specs],),
    ).fetchall()
    return {r[0] for r in rows}


def _previous_counts(conn: psycopg.Connection, suites: list[str]) -> dict[str, int]:
    """Each suite's row count at its last successful run."""
    rows = conn.execute(
        "select distinct on (suite) suite, (row_counts ->> 'rows')::bigint from ops.quality_runs "
        "where suite = any(%s) and success order by suite, validated_at desc",
        (suites,),
    ).fetchall()
    return {suite: n for suite, n in rows if n is not None}


def _expectations(spec: dict, as_of: datetime, previous: int | None) -> list[dict]:
    """The suite's expectations with ${as_of} filled in, plus the checks its settings ask for.

    ``freshness`` ({"column", "max_age_hours"}) becomes a max-value check against the run's as-of time
    (one aggregate query); ``row_count_tolerance`` compares the row count with the last successful run.
    """
    expectations = []
    for exp in spec["expectations"]:
        kwargs = dict(exp.get("kwargs", {}))
        if "unexpected_rows_query" in kwargs:
            kwargs["unexpected_rows_query"] = string.Template(kwargs["unexpected_rows_query"]).substitute(
                as_of=as_of.isoformat()
            )
        expectations.append({**exp, "kwargs": kwargs})
    freshness = spec.get("freshness")
    if freshness:
        hours = freshness["max_age_hours"]
        expectations.append(
            {
                "type": "expect_column_max_to_be_between",
                "kwargs": {
                    "column": freshness["column"],
                    "min_value": (as_of - timedelta(hours=hours)).isoformat(),
                },
                "meta": {"why": f"freshness: the newest {freshness['column']} is at most {hours} hours before as-of"},
            }
        )
    tolerance = spec.get("row_count_tolerance")
    if tolerance is not None and previous:
        low = int(previous / (1 + tolerance))
        high = int(previous * (1 + tolerance)) + 1
        expectations.append(
            {
                "type": "expect_table_row_count_to_be_between",
                "kwargs": {"min_value": low, "max_value": high},
                "meta": {"why": f"within {tolerance:.0%} of the last successful run ({previous} rows)"},
            }
        )
    return expectations


def _plan(specs: list[dict], counts: dict[str, int], workers: int) -> list[list[dict]]:
    """Spread suites over workers so each gets about the same rows x checks (longest first)."""
    lanes: list[list[dict]] = [[] for _ in range(workers)]
    load = [0] * workers
    for spec in sorted(specs, key=lambda s: -(counts[s["name"]] + 1) * len(s["expectations"])):
        i = load.index(min(load))
        lanes[i].append(spec)
        load[i] += (counts[spec["name"]] + 1) * len(spec["expectations"])
    return [lane for lane in lanes if lane]


def _sample_keys(conn: psycopg.Connection, query: str, keys: list[str]) -> list:
    cols = ", ".join(f'"{k}"' for k in keys) or "*"
    try:
        return [list(r) if len(r) > 1 else r[0] for r in conn.execute(f"select {cols} from ({query}) q limit 5")]
    except psycopg.Error:
        conn.rollback()
        return []


def run_gate(
    run_id: str,
    as_of: datetime,
    settings: Settings | None = None,
    url: str | None = None,
    suites: list[str] | None = None,
    workers: int = WORKERS,
) -> GateResult:
    """Validate every suite; record the outcome in ops.quality_runs; build Data Docs (once, after every suite).

    GX is imported in a background thread (``_GxImport``) while the warehouse is asked what GX cannot know
    (which tables exist, their row counts, the last good counts), so the two overlap."""
    settings = settings or get_settings()
    started = time.monotonic()
    timings: dict[str, float] = {}
    gx_import = _GxImport()

    from leadflow.warehouse.db import warehouse_url

    url = url or warehouse_url(settings)
    docs_dir = settings.home_dir / "data_docs"
    specs = [s for s in load_suites(settings.expectations_dir) if not suites or s["name"] in suites]
    specs, notes = _source_scoped(specs, configured_sources(settings), settings)
    for note in notes:
        log.info("quality gate: %s", note)
    warn_only = settings.gate_ratios_warn_only
    gate_warnings: list[str] = []
    failures: list[Failure] = []
    evaluated = 0
    counts: dict[str, int] = {}
    with connect(url, autocommit=True) as conn:
        ensure_ops(conn)
        existing = _existing_tables(conn, specs)
        for spec in [s for s in specs if s["table"] not in existing]:
            failures.append(Failure(spec["name"], spec["table"], "table_exists", None, "table does not exist"))
        specs = [s for s in specs if s["table"] in existing]
        previous = _previous_counts(conn, [s["name"] for s in specs])
        for spec in specs:
            schema, table = spec["table"].split(".")
            counts[spec["name"]] = conn.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
        timings["warehouse_prep"] = time.monotonic() - started

        gx = gx_import.gx()
        timings["gx_import"] = time.monotonic() - started
        mark = time.monotonic()
        context, runs = _build_context(gx, url, docs_dir, specs, counts, previous, as_of, workers)
        timings["context"] = time.monotonic() - mark

        mark = time.monotonic()
        run_identifier = _run_identifier(run_id)
        results = _validate_all(runs, run_identifier, timings)
        timings["validate"] = time.monotonic() - mark

        mark = time.monotonic()
        for spec in specs:
            result = results[spec["name"]]
            suite_failures = [_describe(spec, exp, conn) for exp in result.results if not exp.success]
            ratios, ratio_failures, ratio_warnings = _ratio_checks(conn, spec, run_id, warn_only)
            suite_failures += ratio_failures
            evaluated += len(result.results) + len(ratios)
            failures.extend(suite_failures)
            gate_warnings.extend(ratio_warnings)
            record(
                conn, run_id, spec["name"], len(result.results) + len(ratios), suite_failures,
                {"rows": counts[spec["name"]], **({"ratios": ratios} if ratios else {})}, ratio_warnings,
            )  # fmt: skip
        timings["describe_and_record"] = time.monotonic() - mark

    mark = time.monotonic()
    context.build_data_docs(site_names=["leadflow"]) if specs else None
    if specs:
        from leadflow.quality.docs_offline import make_offline

        make_offline(docs_dir, settings.home_dir / "cache")  # viewable offline: no CDN
    index = docs_dir / "index.html"
    if settings.data_docs_url and index.exists():
        from leadflow.storage import publish_folder

        try:
            publish_folder(docs_dir, settings.data_docs_url)
        except RuntimeError as exc:
            raise RuntimeError(
                f"quality gate: Data Docs could not be published (LEADFLOW_DATA_DOCS_URL): {exc}"
            ) from exc
    timings["data_docs"] = time.monotonic() - mark
    seconds = time.monotonic() - started
    log.info(
        "quality gate: %s suites, %s checks, %s failed in %.1fs against %s; Data Docs: %s; %s",
        len(specs),
        evaluated,
        len(failures),
        seconds,
        redact(url),
        index,
        ", ".join(f"{k} {v:.2f}s" for k, v in timings.items()),
    )
    for warning in gate_warnings:
        log.warning("quality gate warning: %s", warning)
    return GateResult(
        not failures, failures, evaluated, index if index.exists() else None, seconds, counts, timings, gate_warnings
    )


def _run_identifier(run_id: str):
    from great_expectations.core.run_identifier import RunIdentifier

    return RunIdentifier(run_name=run_id, run_time=datetime.now(UTC))


def _build_context(gx, url: str, docs_dir: Path, specs, counts, previous, as_of, workers: int):
    """An ephemeral context with one data source per worker and a validation definition per suite.

    Each worker has its own SQL data source (its own engine and connection): the work is in PostgreSQL,
    and GX's execution engine keeps per-batch state, so workers never share one."""
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.delete_data_docs_site("local_site")
    context.add_data_docs_site(
        "leadflow",
        {
            "class_name": "SiteBuilder",
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        },
    )
    runs: list[list[tuple[dict, object]]] = []
    for n, lane in enumerate(_plan(specs, counts, max(1, workers))):
        datasource = context.data_sources.add_postgres(
            f"warehouse_{n}", connection_string=url, kwargs={"pool_size": 1, "max_overflow": 2}
        )
        runs.append([])
        for spec in lane:
            schema, table = spec["table"].split(".")
            asset = datasource.add_table_asset(name=spec["name"], table_name=table, schema_name=schema)
            batch = asset.add_batch_definition_whole_table("whole_table")
            expectations = _expectations(spec, as_of, previous.get(spec["name"]))
            suite = context.suites.add(ExpectationSuite(name=spec["name"], expectations=expectations))
            validation = context.validation_definitions.add(
                gx.ValidationDefinition(name=f"validate_{spec['name']}", data=batch, suite=suite)
            )
            runs[-1].append((spec, validation))
    return context, runs


def _validate_all(runs, run_identifier, timings: dict[str, float]) -> dict:
    """Each worker validates its suites in turn; a failing suite is validated again to describe it.

    The first pass is ``BOOLEAN_ONLY``: GX runs the aggregate queries alone and skips the ones that fetch
    example values. Only a failing suite runs again with ``SUMMARY``. Validation must cost a small share
    of the pipeline (bench/run.py)."""

    def lane(items):
        out = {}
        for spec, validation in items:
            mark = time.monotonic()
            result = validation.run(result_format="BOOLEAN_ONLY", run_id=run_identifier)
            if not result.success:
                result = validation.run(result_format=DESCRIBE_FORMAT, run_id=run_identifier)
            out[spec["name"]] = result
            timings[f"suite:{spec['name']}"] = time.monotonic() - mark
        return out

    if not runs:
        return {}
    with ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="gx-suite") as pool:
        results: dict = {}
        for part in pool.map(lane, runs):
            results.update(part)
    return results


def _describe(spec: dict, exp, conn: psycopg.Connection) -> Failure:
    config = exp.expectation_config
    kwargs = config.kwargs
    result = exp.result or {}
    keys = spec.get("key_columns", [])
    if "unexpected_rows_query" in kwargs:
        query = kwargs["unexpected_rows_query"].replace("{batch}", spec["table"])
        detail = f"{result.get('observed_value')} unexpected rows ({config.description or 'custom SQL check'})"
        sample = _sample_keys(conn, query, keys)
    elif "unexpected_count" in result:
        detail = f"{result['unexpected_count']} unexpected values, e.g. {result.get('partial_unexpected_list', [])[:5]}"
        sample = _offending_keys(conn, spec, kwargs.get("column"), result.get("partial_unexpected_list") or [], keys)
    else:
        why = (config.meta or {}).get("why", "")
        detail = f"observed {result.get('observed_value')!r}, expected {_expected(kwargs)}" + (
            f" ({why})" if why else ""
        )
        sample = []
    return Failure(spec["name"], spec["table"], config.type, kwargs.get("column"), detail, sample)


def _offending_keys(conn: psycopg.Connection, spec: dict, column: str | None, values: list, keys: list[str]) -> list:
    """Keys of rows holding the unexpected values GX reported (looked up in SQL, at most 5)."""
    if not column or not keys:
        return []
    schema, table = spec["table"].split(".")
    present = [v for v in values if v is not None]
    where = f'"{column}" is null' if not present else f'"{column}"::text = any(%s)'
    query = f'select * from "{schema}"."{table}" where {where}'
    params = ([str(v) for v in present],) if present else ()
    cols = ", ".join(f'"{k}"' for k in keys)
    try:
        rows = conn.execute(f"select {cols} from ({query}) q limit 5", params).fetchall()
    except psycopg.Error:
        return []
    return [list(r) if len(r) > 1 else r[0] for r in rows]


def _expected(kwargs: dict) -> str:
    shown = {k: v for k, v in kwargs.items() if k not in ("batch_id", "column")}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def raise_if_failed(result: GateResult) -> None:
    if result.success:
        return
    lines = "\n".join(f"  - {f}" for f in result.failures)
    raise QualityGateFailed(f"quality gate failed: {len(result.failures)} check(s); the sync will not run.\n{lines}")
