"""The quality gate: run the Great Expectations suites in ``expectations/`` against the warehouse.

Suites are reviewable JSON files (``expectations/<name>.json``): a table, its key columns and a list of
GX Core 1.x expectations. Every check is pushed down to PostgreSQL as SQL by GX's SQL data source;
nothing pulls a table into memory. Two checks depend on history and are computed per run:
the row count stays within a tolerance of the last successful run, and SQL checks may use ``${as_of}``.
"""

from __future__ import annotations

import json
import logging
import string
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg

from leadflow.settings import Settings, get_settings
from leadflow.warehouse.db import connect, ensure_ops_schema, redact

log = logging.getLogger(__name__)


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


def _quiet_gx():
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="great_expectations")
    import great_expectations as gx

    return gx


def _previous_counts(conn: psycopg.Connection, suite: str) -> int | None:
    row = conn.execute(
        "select (row_counts ->> 'rows')::bigint from ops.quality_runs where suite = %s and success "
        "order by validated_at desc limit 1",
        (suite,),
    ).fetchone()
    return row[0] if row else None


def _expectations(spec: dict, conn: psycopg.Connection, as_of: datetime) -> tuple[list[dict], int]:
    """The suite's expectations with ${as_of} filled in, plus the row-count-vs-previous-run check."""
    schema, table = spec["table"].split(".")
    rows = conn.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
    expectations = []
    for exp in spec["expectations"]:
        kwargs = dict(exp.get("kwargs", {}))
        if "unexpected_rows_query" in kwargs:
            kwargs["unexpected_rows_query"] = string.Template(kwargs["unexpected_rows_query"]).substitute(
                as_of=as_of.isoformat()
            )
        expectations.append({**exp, "kwargs": kwargs})
    tolerance = spec.get("row_count_tolerance")
    previous = _previous_counts(conn, spec["name"])
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
    return expectations, rows


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
) -> GateResult:
    """Validate every suite; record the outcome in ops.quality_runs; build Data Docs."""
    settings = settings or get_settings()
    started = time.monotonic()
    gx = _quiet_gx()
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from leadflow.warehouse.db import warehouse_url

    url = url or warehouse_url(settings)
    docs_dir = settings.home_dir / "data_docs"
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
    datasource = context.data_sources.add_postgres("warehouse", connection_string=url)
    specs = [s for s in load_suites(settings.expectations_dir) if not suites or s["name"] in suites]
    failures: list[Failure] = []
    evaluated = 0
    counts: dict[str, int] = {}
    with connect(url, autocommit=True) as conn:
        ensure_ops_schema(conn)
        validations = []
        for spec in specs:
            schema, table = spec["table"].split(".")
            exists = conn.execute(
                "select 1 from information_schema.tables where table_schema = %s and table_name = %s", (schema, table)
            ).fetchone()
            if not exists:
                failures.append(Failure(spec["name"], spec["table"], "table_exists", None, "table does not exist"))
                continue
            expectations, counts[spec["name"]] = _expectations(spec, conn, as_of)
            asset = datasource.add_table_asset(name=spec["name"], table_name=table, schema_name=schema)
            batch = asset.add_batch_definition_whole_table("whole_table")
            suite = context.suites.add(ExpectationSuite(name=spec["name"], expectations=expectations))
            validation = context.validation_definitions.add(
                gx.ValidationDefinition(name=f"validate_{spec['name']}", data=batch, suite=suite)
            )
            validations.append((spec, validation))
        if validations:
            checkpoint = context.checkpoints.add(
                gx.Checkpoint(
                    name="leadflow_gate",
                    validation_definitions=[v for _, v in validations],
                    actions=[UpdateDataDocsAction(name="update_data_docs", site_names=["leadflow"])],
                    result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
                )
            )
            outcome = checkpoint.run(run_id=None)
            by_name = {vr.suite_name: vr for vr in outcome.run_results.values()}
            for spec, _ in validations:
                result = by_name[spec["name"]]
                suite_failures = []
                for exp in result.results:
                    evaluated += 1
                    if exp.success:
                        continue
                    suite_failures.append(_describe(spec, exp, conn))
                failures.extend(suite_failures)
                conn.execute(
                    "insert into ops.quality_runs (run_id, suite, success, evaluated, failed, details, row_counts) "
                    "values (%s, %s, %s, %s, %s, %s, %s) on conflict (run_id, suite) do update set "
                    "success = excluded.success, evaluated = excluded.evaluated, failed = excluded.failed, "
                    "details = excluded.details, row_counts = excluded.row_counts, validated_at = now()",
                    (
                        run_id,
                        spec["name"],
                        not suite_failures,
                        len(result.results),
                        len(suite_failures),
                        json.dumps([str(f) for f in suite_failures]),
                        json.dumps({"rows": counts[spec["name"]]}),
                    ),
                )
    index = docs_dir / "index.html"
    seconds = time.monotonic() - started
    log.info(
        "quality gate: %s suites, %s checks, %s failed in %.1fs against %s; Data Docs: %s",
        len(specs),
        evaluated,
        len(failures),
        seconds,
        redact(url),
        index,
    )
    return GateResult(not failures, failures, evaluated, index if index.exists() else None, seconds, counts)


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
