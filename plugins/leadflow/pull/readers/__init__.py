"""Readers for the three ways source data arrives, one module each: landing-zone files (``files``), a SQL
database (``sql``), a paginated REST API (``rest``); what they share is in ``base``.

Every reader streams into a ``Batcher`` (``pull/batch.py``) with ``sink.add(record, location, clean, raw)``
and ``sink.reject(location, raw, reason)``; nothing holds a whole file, table or listing in memory.
``clean`` is decided per block of input (no backslash, control character or overlong line) and lets the
validator take its fast path. A fault that makes a whole unit unloadable (truncated file, missing
required column, an API failing after its retries, a dropped connection) raises ``SourceError``: the
unit rolls back and the Airflow retry loads it again. Design: docs/pull.md (Sources and readers).
"""

from leadflow.pull.readers.base import SourceError, TruncatedFile
from leadflow.pull.readers.files import FileRef, list_files, read_csv, read_jsonl, read_parquet
from leadflow.pull.readers.rest import Pacer, read_rest
from leadflow.pull.readers.sql import read_sql

__all__ = [
    "FileRef",
    "Pacer",
    "SourceError",
    "TruncatedFile",
    "list_files",
    "read_csv",
    "read_jsonl",
    "read_parquet",
    "read_rest",
    "read_sql",
]
