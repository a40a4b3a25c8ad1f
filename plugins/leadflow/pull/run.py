"""Pull one source system end to end: read per its configuration, validate, merge into raw, account."""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import yaml

from leadflow.pull.contract import SOURCES, Entity, entities_of
from leadflow.pull.loader import LoadResult, RawLoad
from leadflow.pull.readers import (
    Record,
    SourceError,
    Unparsed,
    file_fingerprint,
    read_csv,
    read_jsonl,
    read_rest,
    read_sql,
)
from leadflow.settings import Settings, get_settings
from leadflow.warehouse.db import connect, ensure_ops_schema

log = logging.getLogger(__name__)
PROGRESS_EVERY = 200_000


def load_source_config(settings: Settings | None = None) -> dict:
    """sources.yml with ${VARS} expanded (landing dir and API URL default from settings)."""
    settings = settings or get_settings()
    env = {
        **os.environ,
        "LEADFLOW_LANDING_DIR": str(settings.landing),
        "LEADFLOW_API_URL": settings.api_url,
    }
    text = settings.sources_path.read_text()
    for name, value in env.items():
        text = text.replace("${" + name + "}", value)
    config = yaml.safe_load(text) or {}
    unknown = sorted(set(config) - set(SOURCES))
    if unknown:
        raise SourceError(f"{settings.sources_path}: unknown source(s) {unknown}; known: {list(SOURCES)}")
    return config


def _cursor(conn: psycopg.Connection, entity: Entity) -> datetime | None:
    row = conn.execute(
        "select cursor_value from ops.source_cursors where source = %s and entity = %s", (entity.source, entity.name)
    ).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None


def _consume(load: RawLoad, items, label: str) -> None:
    started = time.monotonic()
    for item in items:
        if isinstance(item, Record):
            load.add(item.payload, item.location)
        else:
            assert isinstance(item, Unparsed)
            load.reject_unparsed(item.location, item.text, item.reason)
        if load.result.read % PROGRESS_EVERY == 0:
            rate = load.result.read / max(time.monotonic() - started, 1e-9)
            log.info("%s: %s records read (%.0f/s)", label, f"{load.result.read:,}", rate)


def pull_entity(
    conn: psycopg.Connection,
    entity: Entity,
    spec: dict,
    source_cfg: dict,
    run_id: str,
    as_of: datetime,
    settings: Settings,
) -> list[LoadResult]:
    kind = source_cfg.get("kind")
    label = f"{entity.key}"
    if kind == "files":
        results = []
        fmt = source_cfg.get("format", "csv")
        pattern = spec["pattern"]
        files = sorted(settings.landing.glob(pattern))
        if not files:
            log.warning("%s: no files match %s in %s", label, pattern, settings.landing)
        for path in files:
            fingerprint = file_fingerprint(path)
            seen = conn.execute(
                "select 1 from ops.loaded_files where source = %s and path = %s and fingerprint = %s",
                (entity.key, str(path), fingerprint),
            ).fetchone()
            if seen:
                continue
            load = RawLoad(conn, entity, run_id, as_of)
            try:
                reader = (
                    read_jsonl(path, entity.source)
                    if fmt == "jsonl"
                    else read_csv(path, entity.source, entity.required)
                )
                _consume(load, reader, f"{label} {path.name}")
            except BaseException as err:
                load.rollback(err)
                raise
            results.append(
                load.commit(
                    [
                        (
                            "insert into ops.loaded_files (source, path, fingerprint, run_id) values (%s, %s, %s, %s) "
                            "on conflict do nothing",
                            (entity.key, str(path), fingerprint, run_id),
                        )
                    ]
                )
            )
        return results

    cursor = _cursor(conn, entity)
    since = cursor - timedelta(hours=settings.lookback_hours) if cursor else None
    if kind == "sql":
        reader = read_sql(source_cfg["url"], spec["table"], entity.cursor, since)
    elif kind == "rest_api":
        reader = read_rest(
            source_cfg.get("base_url", settings.api_url),
            spec["path"],
            since,
            page_size=int(source_cfg.get("page_size", 100)),
            token=settings.api_token,
        )
    else:
        raise SourceError(f"source {entity.source}: unknown kind {kind!r} (files, sql, rest_api)")
    load = RawLoad(conn, entity, run_id, as_of)
    try:
        _consume(load, reader, label)
    except BaseException as err:
        load.rollback(err)
        raise
    return [load.commit()]


def pull_source(source: str, run_id: str, as_of: datetime, settings: Settings | None = None) -> dict:
    """Pull every entity of ``source``; returns read / loaded / quarantined totals per entity."""
    settings = settings or get_settings()
    config = load_source_config(settings)
    if source not in config:
        raise SourceError(f"source {source!r} is not configured in {settings.sources_path}")
    source_cfg = config[source]
    summary: dict[str, dict] = {}
    with connect(autocommit=True) as conn:
        ensure_ops_schema(conn)
        for entity in entities_of(source):
            conn.execute(entity.ddl())
            spec = (source_cfg.get("entities") or {}).get(entity.name)
            if spec is None:
                log.warning("%s: not configured in sources.yml; skipped", entity.key)
                continue
            started = time.monotonic()
            results = pull_entity(conn, entity, spec, source_cfg, run_id, as_of, settings)
            totals = {
                "read": sum(r.read for r in results),
                "loaded": sum(r.loaded for r in results),
                "quarantined": sum(r.quarantined for r in results),
                "seconds": round(time.monotonic() - started, 2),
            }
            summary[entity.key] = totals
            log.info("%s: read %s, loaded %s, quarantined %s in %ss", entity.key, *totals.values())
    return summary


def landing_path(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).landing
