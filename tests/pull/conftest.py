"""Helpers for the pull tests: a private landing zone, a sources file written per test, the real warehouse."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import yaml

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)


class PullEnv:
    def __init__(self, root: Path, url: str, monkeypatch: pytest.MonkeyPatch):
        self.root = root
        self.landing = root / "landing"
        self.landing.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.monkeypatch = monkeypatch

    def write(self, rel: str, content: str | bytes) -> Path:
        path = self.landing / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    def jsonl(self, rel: str, records: list) -> Path:
        lines = [r if isinstance(r, str | bytes) else json.dumps(r) for r in records]
        data = b"".join((line.encode() if isinstance(line, str) else line) + b"\n" for line in lines)
        return self.write(rel, data)

    def configure(self, config: dict) -> Path:
        from leadflow.settings import reset_settings

        path = self.root / "sources.test.yml"
        path.write_text(yaml.safe_dump(config))
        self.monkeypatch.setenv("LEADFLOW_SOURCES_FILE", str(path))
        reset_settings()
        return path

    def pull(self, source: str, run_id: str = "run-1", as_of: datetime = AS_OF) -> dict:
        from leadflow.pull.run import pull_source

        return pull_source(source, run_id, as_of)

    def rows(self, sql: str, params=None) -> list[tuple]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql, params).fetchall()

    def one(self, sql: str, params=None):
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def quarantine(self) -> list[tuple]:
        return self.rows("select location, field, reason from ops.quarantine order by quarantine_id")

    def audit(self, source: str | None = None) -> list[tuple]:
        where = "where source = %s" if source else ""
        return self.rows(
            f"select run_id, source, entity, read, loaded, quarantined from ops.load_audit {where} order by 1, 2, 3",
            (source,) if source else None,
        )

    def snapshot(self, table: str) -> list[tuple]:
        return self.rows(f"select * from {table} order by 1")


@pytest.fixture
def env(home: Path, warehouse: str, monkeypatch: pytest.MonkeyPatch) -> PullEnv:
    return PullEnv(home, warehouse, monkeypatch)
