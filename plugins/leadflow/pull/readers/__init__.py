"""Readers for the three ways source data arrives, one module each: landing-zone files (``files``), a SQL
database (``sql``), a paginated REST API (``rest``); what they share is in ``base``.

Every reader streams into a ``Batcher`` (``pull/batch.py``): ``sink.add(record, location, clean, raw)``
for each parsed record, ``sink.reject(location, raw, reason)`` for input that is not even a record.
Nothing holds a whole file, table or API listing in memory.

``clean`` is decided for a whole block of input at once (no backslash, control character or overlong
line in it) and lets the validator take its fast path; see ``pull/validate.py``.

Faults that make a whole unit unloadable raise ``SourceError`` (the unit's transaction is rolled back
and the Airflow retry loads it again): a truncated file, a missing required column, an API that keeps
failing after its retries, a database that drops the connection.
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
