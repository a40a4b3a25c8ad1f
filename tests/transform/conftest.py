"""Helpers for the transform tests: raw tables from the pull's contract, dbt runs, mart snapshots."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)


def create_raw_tables(url: str) -> None:
    """Every raw table of the contract, empty where no pull filled it (what the loader creates on first load)."""
    from leadflow.pull.contract import SOURCES, entities_of

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create schema if not exists raw")
        for source in SOURCES:
            for entity in entities_of(source):
                conn.execute(entity.ddl())


def rows(url: str, query: str, params=None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()
