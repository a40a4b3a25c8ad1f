"""Pull one source system end to end: read per its configuration, validate, merge into raw, account.

The configuration (``sources.yml``, or the file ``LEADFLOW_SOURCES_FILE`` names) says how each source
arrives — files (CSV, JSONL, Parquet; a local folder or an fsspec URL such as ``s3://``), a SQL
database, or a REST API — and optionally how an export's fields map onto the raw contract.

Reading and validating run in a producer thread; COPY and merge run in the caller's thread on the
warehouse connection. A bounded queue between them keeps memory flat and lets both CPU cores work.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
import yaml

from leadflow.connections import redact
from leadflow.http import RateLimit
from leadflow.pull.batch import Batcher, Chunk, Summary, drift_column
from leadflow.pull.contract import BY_KEY, SOURCES, Entity, ensure_raw_tables, entities_of
from leadflow.pull.loader import ON_CONFLICT, LoadResult, RawLoad, Unit, deferred_key
from leadflow.pull.readers import (
    FileRef,
    Pacer,
    SourceError,
    TruncatedFile,
    list_files,
    read_csv,
    read_jsonl,
    read_parquet,
    read_rest,
    read_sql,
)
from leadflow.pull.validate import IGNORED, UNDECLARED_UTC, Source, parse_template
from leadflow.settings import Settings, current_settings, get_settings
from leadflow.warehouse.db import connect, warehouse_url
from leadflow.warehouse.ops import ensure_ops

log = logging.getLogger(__name__)

FORMATS = {"csv": read_csv, "jsonl": read_jsonl, "ndjson": read_jsonl, "json": read_jsonl, "parquet": read_parquet}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand(text: str, env: dict) -> str:
    def sub(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            return default
        raise SourceError(f"sources configuration uses ${{{name}}}, which is not set (write ${{{name}:-default}})")

    # Comment lines are left alone (they may well mention ${VARS}).
    return "".join(
        line if line.lstrip().startswith("#") else _VAR.sub(sub, line) for line in text.splitlines(keepends=True)
    )


def load_source_config(settings: Settings | None = None) -> dict:
    """The sources configuration with ${VAR} / ${VAR:-default} expanded; relative locations resolved."""
    settings = settings or get_settings()
    env = {
        **os.environ,
        "LEADFLOW_LANDING_DIR": str(settings.landing),
        "LEADFLOW_API_URL": settings.api_url,
        "LEADFLOW_PROJECT_DIR": str(settings.project_dir),
    }
    path = settings.sources_path
    text = path.read_text()
    config = yaml.safe_load(_expand(text, env)) or {}
    unknown = sorted(set(config) - set(SOURCES))
    if unknown:
        raise SourceError(f"{path}: unknown source(s) {unknown}; known: {list(SOURCES)}")
    written = _as_written(text)
    for source, cfg in config.items():
        cfg["_file"] = path.name
        cfg["_location_written"] = str((written.get(source) or {}).get("location") or "")
        location = cfg.get("location")
        if location and "://" not in location and not Path(location).is_absolute():
            cfg["location"] = str((path.parent / location).resolve())
    return config


def _as_written(text: str) -> dict:
    """The sources file before ${VAR} expansion (to show a user the setting as they wrote it); {} if unreadable."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return {k: v for k, v in raw.items() if isinstance(v, dict)} if isinstance(raw, dict) else {}


def _setting(source_cfg: dict, name: str) -> str:
    """``location: <value>`` as written in the sources file (``${OLIST_DIR:-...}``), with what it expanded to."""
    value = source_cfg.get(name)
    written = source_cfg.get("_location_written") if name == "location" else None
    shown = f"{name}: {written}" if written and written != value else f"{name}: {value}"
    if written and written != value:
        shown += f" (= {value})"
    return f"{shown} in {source_cfg.get('_file', 'the sources file')}"


def _cursor(conn: psycopg.Connection, entity: Entity) -> datetime | None:
    row = conn.execute(
        "select cursor_value from ops.source_cursors where source = %s and entity = %s", (entity.source, entity.name)
    ).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None


# -- mapping: how an export's fields become contract columns ------------------------------------------
def build_mapping(conn: psycopg.Connection, entity: Entity, spec: dict) -> dict[str, Source]:
    """``map:`` of an entity: ``column: field``, ``column: {value: x}``, ``column: {lookup: e.col, key: f,
    default: g}``, ``column: {template: "shopper-{_line}"}`` (fields in braces; ``_line``: the record's line in
    its file, ``_file``: the file's name), ``column: {field: f, values: {text: replacement, ...}}``; and
    ``ignore: [field, ...]``: fields loaded neither as a column nor as an extra column (``extra_columns: false``:
    none is)."""
    mapping: dict[str, Source] = {}
    for column, how in (spec.get("map") or {}).items():
        if column not in entity.columns:
            raise SourceError(f"{entity.key}: map names {column!r}, which is not a contract column of {entity.table}")
        if isinstance(how, str):
            mapping[column] = Source(field=drift_column(how))
        elif isinstance(how, dict) and "value" in how:
            mapping[column] = Source(value=None if how["value"] is None else str(how["value"]))
        elif isinstance(how, dict) and "lookup" in how:
            mapping[column] = Source(
                lookup=_lookup(conn, str(how["lookup"])),
                key=drift_column(how["key"]),
                default=drift_column(how["default"]) if how.get("default") else None,
            )
        elif isinstance(how, dict) and "template" in how:
            try:
                mapping[column] = Source(template=parse_template(str(how["template"]), drift_column))
            except ValueError as err:
                raise SourceError(f"{entity.key}: map of {column!r}: {err}") from None
        elif isinstance(how, dict) and "field" in how:
            mapping[column] = Source(field=drift_column(how["field"]), values=_value_map(entity, column, how))
        else:
            raise SourceError(
                f"{entity.key}: map of {column!r} must be a field name, {{value: ...}}, {{lookup: ...}}, "
                "{template: ...} or {field: ..., values: {...}}"
            )
    for name in spec.get("ignore") or []:
        mapping[IGNORED + str(name)] = Source(field=drift_column(name))
    if spec.get("extra_columns", True) is False:
        mapping[IGNORED + "*"] = Source()
    return mapping


def _value_map(entity: Entity, column: str, how: dict) -> dict | None:
    values = how.get("values")
    if values is None:
        return None
    if not isinstance(values, dict):
        raise SourceError(f"{entity.key}: map of {column!r}: values must be a mapping of text -> replacement")
    out = {}
    for key, value in values.items():
        if isinstance(key, bool) or key is None:
            raise SourceError(
                f"{entity.key}: map of {column!r}: value {key!r} is read by YAML as {type(key).__name__}; "
                'quote it ("TRUE": ...)'
            )
        out[str(key)] = None if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return out


def _lookup(conn: psycopg.Connection, ref: str) -> dict:
    """``source.entity.column``: that raw table's primary key -> column, read into memory (keep lookups small)."""
    try:
        source, name, column = ref.split(".")
        target = BY_KEY[f"{source}.{name}"]
        assert len(target.primary_key) == 1 and column in target.columns
    except (ValueError, KeyError, AssertionError):
        raise SourceError(f"lookup {ref!r}: expected <source>.<entity>.<column> of a single-key raw table") from None
    conn.execute(target.ddl())
    rows = conn.execute(f'select "{target.primary_key[0]}", "{column}" from {target.qualified_table}')  # noqa: S608
    return {k: v for k, v in rows if k is not None}


# -- the pipeline: a reader thread feeding the loading thread -----------------------------------------
_DONE = object()


@dataclass
class _Begin:
    unit: Unit


@dataclass
class _End:
    summary: Summary


@dataclass
class _Failed:
    error: SourceError


@dataclass
class _Fatal:
    error: BaseException


class _Stopped(Exception):
    pass


def _produce(put: Callable, entity: Entity, jobs, as_of: datetime, tolerance: timedelta, mapping, tz=None) -> None:
    """Read and validate every unit in turn, handing chunks and unit boundaries to ``put``."""
    try:
        for unit, read in jobs:
            put(_Begin(unit))
            sink = Batcher(entity, as_of, put, tolerance, mapping, tz)
            try:
                read(sink)
            except SourceError as err:
                put(_Failed(err))
                continue
            put(_End(sink.finish()))
        put(_DONE)
    except _Stopped:
        pass
    except BaseException as err:  # a bug or an unexpected fault: stop the whole pull
        try:
            put(_Fatal(err))
        except _Stopped:
            pass


def _bounded_put(items, stop) -> Callable:
    def put(item) -> None:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise _Stopped

    return put


def _run_units(
    conn: psycopg.Connection,
    entity: Entity,
    jobs: list[tuple[Unit, Callable[[Batcher], None]]],
    run_id: str,
    as_of: datetime,
    tolerance: timedelta,
    mapping: dict[str, Source],
    keyed: bool = True,
    failed: list[str] | None = None,
    tz: tzinfo | None = None,
) -> tuple[list[LoadResult], list[str]]:
    """Load every unit; a unit that fails with SourceError is rolled back and reported, the others load.

    Reading and validating run in a thread (measured: reader processes cost more in start-up and in
    moving chunks between processes than they gain on two cores).
    """
    items: queue.Queue = queue.Queue(maxsize=4)
    stop = threading.Event()
    producer = threading.Thread(
        target=_produce,
        args=(_bounded_put(items, stop), entity, jobs, as_of, tolerance, mapping, tz),
        name=f"pull-{entity.key}",
        daemon=True,
    )
    producer.start()
    results: list[LoadResult] = []
    errors: list[str] = [] if failed is None else failed  # shared: kept when another unit crashes the pull
    load: RawLoad | None = None
    try:
        while True:
            item = items.get()
            if item is _DONE:
                break
            if isinstance(item, _Begin):
                load = RawLoad(conn, entity, run_id, as_of, item.unit, keyed)
            elif isinstance(item, Chunk):
                load.add_chunk(item)
            elif isinstance(item, _End):
                result = load.commit(item.summary)
                log.info(
                    "%s %s: read %s, loaded %s, quarantined %s",
                    entity.key,
                    load.unit.label,
                    result.read,
                    result.loaded,
                    result.quarantined,
                )
                load = None
                results.append(result)
            elif isinstance(item, _Failed):
                load.rollback(item.error)
                load = None
                log.error("%s", item.error)
                errors.append(str(item.error))
            elif isinstance(item, _Fatal):
                raise item.error
    except BaseException as err:
        stop.set()
        if load is not None:
            load.rollback(err)
        raise
    finally:
        stop.set()
        producer.join(timeout=30)
    return results, errors


def _run_parallel(
    conn: psycopg.Connection,
    url: str,
    entity: Entity,
    jobs: list[tuple[Unit, Callable[[Batcher], None]]],
    workers: int,
    *args,
) -> tuple[list[LoadResult], list[str]]:
    """Spread the units over ``workers`` pipelines, each with its own warehouse connection.

    Units of one entity merge into the same table concurrently; the merge inserts in primary-key order,
    so two of them never deadlock on shared keys, and a key's newest version wins whatever the order.
    """
    workers = max(1, min(workers, len(jobs)))
    if workers == 1:
        return _run_units(conn, entity, jobs, *args)
    # args end with the shared list of failed units and the time zone (``failed``, ``tz`` of _run_units)
    shares = [jobs[i::workers] for i in range(workers)]
    outcomes: list = [None] * workers

    def work(i: int) -> None:
        try:
            with connect(url, autocommit=True) as own:
                own.execute("set temp_buffers = '64MB'")
                outcomes[i] = _run_units(own, entity, shares[i], *args)
        except BaseException as err:
            outcomes[i] = err

    threads = [threading.Thread(target=work, args=(i,), name=f"pull-{entity.key}-{i}") for i in range(1, workers)]
    for thread in threads:
        thread.start()
    try:
        outcomes[0] = _run_units(conn, entity, shares[0], *args)
    except BaseException as err:
        outcomes[0] = err
    for thread in threads:
        thread.join()
    results = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
        results.extend(outcome[0])
    return results, args[-2]


@dataclass(frozen=True)
class FileJob:
    """Read one landing file into a batcher."""

    ref: FileRef
    fmt: str
    source: str
    options: tuple = ()

    def __call__(self, sink: Batcher) -> None:
        try:
            stream = self.ref.open()
        except OSError as err:
            raise SourceError(f"{self.source}: cannot open {self.ref.url}: {err}") from err
        with stream:
            try:
                FORMATS[self.fmt](stream, self.ref.name, sink, self.source, **dict(self.options))
            except TruncatedFile as err:
                grace = get_settings().pull_truncated_grace_minutes * 60
                age = None if self.ref.modified is None else time.time() - self.ref.modified
                if age is not None and age < grace:  # may still be being written: the retry loads it whole
                    raise TruncatedFile(
                        f"{err} — changed {age / 60:.0f} min ago; once unchanged for {grace / 60:g} min it loads "
                        "with that line quarantined"
                    ) from err
                log.warning("%s; unchanged for the grace period: loaded, the partial line quarantined", err)


def _pacer(source_cfg: dict) -> Pacer:
    """One pacer per API source configuration, shared by its entities (so a learned rate carries over)."""
    pacer = source_cfg.get("_pacer")
    if pacer is None:
        try:
            limit = RateLimit.parse(source_cfg.get("rate_limit"))
        except ValueError as err:
            raise SourceError(f"rate_limit: {err}") from None
        pacer = source_cfg["_pacer"] = Pacer(limit)
    return pacer


def on_conflict(entity: Entity, spec: dict, source_cfg: dict) -> str:
    """``on_conflict`` of the entity or its source: which version of a record already in raw a load keeps."""
    rule = str(spec.get("on_conflict") or source_cfg.get("on_conflict") or "newer_cursor_wins")
    if rule not in ON_CONFLICT:
        raise SourceError(
            f"{entity.key}: on_conflict: {rule} in {source_cfg.get('_file', 'the sources file')} is not one of "
            f"{', '.join(ON_CONFLICT)}"
        )
    return rule


def plan_entity(
    conn: psycopg.Connection, entity: Entity, spec: dict, source_cfg: dict, run_id: str, settings: Settings
) -> list[tuple[Unit, Callable[[Batcher], None]]]:
    kind = source_cfg.get("kind")
    source = entity.source
    flags = {str(k): str(v) for k, v in (spec.get("flags") or {}).items()}
    rule = on_conflict(entity, spec, source_cfg)
    if kind == "files":
        location = source_cfg.get("location") or str(settings.landing)
        options = source_cfg.get("storage_options") or {}
        if "://" not in location and not Path(location).is_dir():
            where = _setting(source_cfg, "location") if source_cfg.get("location") else f"the landing zone {location}"
            raise SourceError(f"{entity.key}: the folder does not exist: {where}")
        try:
            files = list_files(location, spec["pattern"], options)
        except (OSError, ValueError) as err:
            raise SourceError(f"{source}: cannot list {location}/{spec['pattern']}: {err}") from err
        if not files:
            log.warning("%s: no files match %s in %s", entity.key, spec["pattern"], location)
        loaded = {
            (r[0], r[1])
            for r in conn.execute("select path, fingerprint from ops.loaded_files where source = %s", (entity.key,))
        }
        jobs = []
        for ref in files:
            if (ref.url, ref.fingerprint) in loaded:
                continue
            fmt = (spec.get("format") or source_cfg.get("format") or ref.name.rsplit(".", 1)[-1]).lower()
            if fmt not in FORMATS:
                raise SourceError(f"{source}: {ref.name}: unknown format {fmt!r} (csv, jsonl, parquet)")
            extra = {"delimiter": source_cfg.get("delimiter", ",")} if fmt == "csv" else {}
            unit = Unit(label=ref.name, file_url=ref.url, fingerprint=ref.fingerprint, flags=flags, on_conflict=rule)
            jobs.append((unit, FileJob(ref, fmt, source, tuple(extra.items()))))
        return jobs

    # Updated-since sources: the window this run reads is recorded, so a re-run of the run reads it again.
    row = conn.execute(
        "select since from ops.pull_windows where run_id = %s and source = %s and entity = %s",
        (run_id, entity.source, entity.name),
    ).fetchone()
    if row is not None:
        since, replace = row[0], True
    else:
        cursor = _cursor(conn, entity)
        lookback = float(source_cfg.get("lookback_hours", settings.lookback_hours))
        since, replace = (cursor - timedelta(hours=lookback) if cursor else None), False
    unit = Unit(label=entity.name, window=True, since=since, replace=replace, flags=flags, on_conflict=rule)
    if kind == "sql":
        url, table = source_cfg["url"], spec["table"]

        def job(sink: Batcher) -> None:
            read_sql(url, table, entity.cursor, since, sink, source)

    elif kind == "rest_api":
        base_url = source_cfg.get("base_url") or settings.api_url
        path = spec["path"]
        pacer = _pacer(source_cfg)

        def job(sink: Batcher) -> None:
            read_rest(
                base_url,
                path,
                since,
                sink,
                source,
                page_size=int(source_cfg.get("page_size", 100)),
                token=source_cfg.get("token") or settings.api_token,
                timeout=float(source_cfg.get("timeout_seconds", 30)),
                attempts=int(source_cfg.get("retries", 7)) + 1,
                backoff=float(source_cfg.get("backoff_seconds", 0.25)),
                max_backoff=float(source_cfg.get("max_backoff_seconds", 10)),
                pacer=pacer,
            )

    else:
        raise SourceError(f"source {source}: unknown kind {kind!r} (files, sql, rest_api)")
    return [(unit, job)]


def pull_source(source: str, run_id: str, as_of: datetime, settings: Settings | None = None) -> dict:
    """Pull every entity of ``source``; returns read / loaded / quarantined totals per entity.

    A unit that cannot load (a truncated file, a missing required column, an API that keeps failing)
    is rolled back and the others still load; the pull then raises ``SourceError`` naming every failure,
    so the task fails and its retry loads what is left. When something else crashes the pull, the error
    raised names the crash and every unit that had failed beside it.
    """
    settings = settings or get_settings()
    config = load_source_config(settings)
    if source not in config:
        log.warning("source %r is not configured in %s: nothing to pull", source, settings.sources_path)
        with connect(warehouse_url(settings), autocommit=True) as conn:
            ensure_raw_tables(conn)  # its raw tables exist, empty: dbt reads them all
        return {}
    source_cfg = config[source]
    tolerance = timedelta(minutes=settings.future_tolerance_minutes)
    summary: dict[str, dict] = {}
    errors: list[str] = []
    # The reader thread is pure Python; without a short switch interval the loading thread waits up to
    # 5 ms for the GIL after every round trip to PostgreSQL, which halves throughput.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, 0.0005))
    try:
        _pull(source, source_cfg, run_id, as_of, settings, tolerance, summary, errors)
    except Exception as crash:
        errors[:] = [e for e in errors if not isinstance(e, _ReadNothing)]  # (a crash outweighs an empty entity)
        if not errors:
            raise
        # keep what else failed: the crash alone would hide the truncated file or missing column beside it
        log.error("%s: loaded before the crash: %s", source, summary)
        raise SourceError(
            f"{source}: crashed ({crash.__class__.__name__}: {crash}); besides, {len(errors)} unit(s) failed "
            "and were rolled back: " + "; ".join(errors)
        ) from crash
    finally:
        sys.setswitchinterval(interval)
    empty = [e for e in errors if isinstance(e, _ReadNothing)]
    errors = [e for e in errors if not isinstance(e, _ReadNothing)]
    if errors:
        raise SourceError(f"{source}: {len(errors)} unit(s) failed and were rolled back: " + "; ".join(errors))
    if empty and len(empty) == len(summary):  # the source read nothing at all, and never has: a wrong setting
        raise SourceError(f"{source}: configured, but read nothing on its first pull: " + "; ".join(empty))
    for message in empty:  # another entity of the source read records: an entity may well be empty
        log.warning("%s", message)
    return summary


def _pull(source, source_cfg, run_id, as_of, settings, tolerance, summary, errors) -> None:
    # Resolved once, here: worker threads must not ask Airflow for the connection themselves.
    url = warehouse_url(settings)
    with connect(url, autocommit=True) as conn:
        conn.execute("set temp_buffers = '64MB'")  # the stage tables stay in memory
        ensure_ops(conn)
        ensure_raw_tables(conn)  # every raw table exists, configured or not (dbt reads them all)
        entities = [e for e in entities_of(source) if _configured(e, source_cfg, settings)]
        args = (url, source_cfg, run_id, as_of, settings, tolerance, summary, errors)
        if (
            len(entities) > 1
            and source_cfg.get("kind") in ("rest_api", "sql")
            and source_cfg.get("entities_at_once", True)
        ):
            _at_once(entities, *args)
        else:
            for entity in entities:
                _pull_entity(conn, entity, *args)


def _configured(entity: Entity, source_cfg: dict, settings: Settings) -> bool:
    if (source_cfg.get("entities") or {}).get(entity.name) is None:
        log.warning("%s: not configured in %s; skipped", entity.key, settings.sources_path.name)
        return False
    return True


def _at_once(entities: list[Entity], url: str, *args) -> None:
    """The entities of an API or SQL source at the same time, one connection each: each pages through its
    own cursor, so one entity's round trips overlap another's work (against a real API, whose pages take
    100 ms or more, that is most of the time; the files of one entity already load in parallel, see
    ``_run_parallel``). ``entities_at_once: false`` in the source's configuration reads them in turn."""
    failures: list[BaseException] = []

    def one(entity: Entity) -> None:
        try:
            with connect(url, autocommit=True) as own:
                own.execute("set temp_buffers = '64MB'")
                _pull_entity(own, entity, url, *args)
        except BaseException as err:  # re-raised below, after the other entities finished
            failures.append(err)

    threads = [threading.Thread(target=one, args=(e,), name=f"pull-{e.key}") for e in entities]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def _pull_entity(conn, entity, url, source_cfg, run_id, as_of, settings, tolerance, summary, errors) -> None:
    spec = source_cfg["entities"][entity.name]
    started = time.monotonic()
    try:
        tz = source_timezone(entity, spec, source_cfg)
        mapping = build_mapping(conn, entity, spec)
        jobs = plan_entity(conn, entity, spec, source_cfg, run_id, settings)
    except SourceError as err:
        errors.append(str(err))
        log.error("%s", err)
        return
    first = not conn.execute(
        "select exists (select 1 from ops.load_audit where source = %s and entity = %s and read > 0)",
        (entity.source, entity.name),
    ).fetchone()[0]
    switches = current_settings()
    workers = int(source_cfg.get("workers", switches.pull_workers))
    defer = bool(jobs) and switches.pull_defer_keys
    failed: list[str] = []
    try:
        with deferred_key(conn, entity, run_id, defer, on_conflict(entity, spec, source_cfg)) as keyed:
            results, _ = _run_parallel(
                conn, url, entity, jobs, workers, run_id, as_of, tolerance, mapping, keyed, failed, tz
            )
    finally:  # the units that failed before another one crashed the pull are still reported
        errors.extend(failed)
    totals = {
        "read": sum(r.read for r in results),
        "loaded": sum(r.loaded for r in results),
        "quarantined": sum(r.quarantined for r in results),
        "seconds": round(time.monotonic() - started, 2),
    }
    if failed:
        totals["failed"] = len(failed)
    elif first and not totals["read"]:
        errors.append(_ReadNothing(_read_nothing(entity, spec, source_cfg, settings, bool(jobs))))
    summary[entity.key] = totals
    log.info(
        "%s: read %s, loaded %s, quarantined %s in %ss",
        entity.key,
        totals["read"],
        totals["loaded"],
        totals["quarantined"],
        totals["seconds"],
    )


def source_timezone(entity: Entity, spec: dict, source_cfg: dict) -> tzinfo:
    """The time zone of the source's timestamps without an offset: ``timezone`` of the entity or source.

    Undeclared, such values are taken as UTC and each is flagged ``naive_timestamp:<column>`` (a guess);
    declared, they are read in that zone without a flag.
    """
    name = spec.get("timezone") or source_cfg.get("timezone")
    if not name:
        return UNDECLARED_UTC
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise SourceError(f"{entity.key}: unknown time zone {name!r} (setting timezone: an IANA name)") from err


class _ReadNothing(str):
    """An entity that read no record on its first pull (an error when the whole source did: see pull_source)."""


def _read_nothing(entity: Entity, spec: dict, source_cfg: dict, settings: Settings, had_units: bool) -> str:
    """Why a configured entity that has never loaded a record is an error, naming the setting and the path."""
    kind = source_cfg.get("kind")
    if kind == "files":
        location = (
            _setting(source_cfg, "location") if source_cfg.get("location") else f"the landing zone {settings.landing}"
        )
        what = "the files matching" if had_units else "no file matches"
        return f"{entity.key}: {what} pattern: {spec.get('pattern')} (entities.{entity.name}) under {location}" + (
            " hold no records" if had_units else ""
        )
    where = f"table: {spec.get('table')}" if kind == "sql" else f"path: {spec.get('path')}"
    return (
        f"{entity.key}: {where} (entities.{entity.name}) of "
        f"{redact(source_cfg.get('url') or source_cfg.get('base_url') or settings.api_url)} "
        f"in {source_cfg.get('_file', 'the sources file')} returned no records"
    )


def landing_path(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).landing
