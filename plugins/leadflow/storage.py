"""Where leadflow's shared outputs may live when Airflow runs on several machines: a local folder (on one machine,
or a shared volume) or any fsspec URL (``s3://bucket/prefix``, ``gs://...``, ``memory://`` in tests).

The landing zone (``sources.yml`` ``location``), the file destination's outbox (its connection's ``path``) and
the published Data Docs (``LEADFLOW_DATA_DOCS_URL``) accept URLs. Credentials and endpoints come from
``storage_options`` where a setting has them, else from the environment as the filesystem reads it (s3fs:
``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``; any protocol: fsspec's ``FSSPEC_<PROTOCOL>_<OPTION>`` variables).
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def is_url(location: str | Path) -> bool:
    """True for a remote fsspec URL; a plain path or a ``file://`` URL is a local folder."""
    text = str(location)
    return "://" in text and not text.startswith("file://")


def filesystem(location: str | Path, storage_options: dict | None = None):
    """``(fs, root)`` for a folder or URL, the root without a trailing slash."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(str(location), **(storage_options or {}))
    return fs, root.rstrip("/")


def publish_folder(local: Path, url: str, storage_options: dict | None = None) -> int:
    """Copy every file under ``local`` to the same relative path under ``url`` (overwriting); returns the count.

    Raises ``RuntimeError`` naming the URL when the store refuses (a wrong bucket, missing credentials)."""
    files = sorted(p for p in local.rglob("*") if p.is_file())
    try:
        fs, root = filesystem(url, storage_options)
        for path in files:
            fs.pipe_file(f"{root}/{path.relative_to(local).as_posix()}", path.read_bytes())
    except Exception as exc:
        raise RuntimeError(f"cannot write to {url}: {exc.__class__.__name__}: {exc}") from exc
    log.info("published %s files from %s to %s", len(files), local, url)
    return len(files)
