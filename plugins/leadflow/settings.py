"""One typed settings object, read from the environment (prefix ``LEADFLOW_``)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# plugins/leadflow/settings.py -> the repository root (overridable when plugins/ is mounted elsewhere).
_DEFAULT_PROJECT_DIR = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADFLOW_", extra="ignore")

    project_dir: Path = Field(
        _DEFAULT_PROJECT_DIR, description="Repository root holding dbt_project/ and expectations/."
    )
    home: Path | None = Field(None, description="Working folder for embedded data; default <project_dir>/.leadflow.")
    warehouse_url: str | None = Field(None, description="PostgreSQL URL; unset means the embedded server or PG* vars.")
    embedded_port: int = Field(54329, description="TCP port of the embedded PostgreSQL on 127.0.0.1.")
    landing_dir: Path | None = Field(None, description="Landing zone for file sources; default <home>/landing.")
    sources_file: Path | None = Field(None, description="Source configuration; default <project_dir>/sources.yml.")
    api_url: str = Field("http://127.0.0.1:8765", description="Base URL of the CRM / conversations REST API.")
    api_token: str | None = Field(None, description="Bearer token for the REST API (never logged).")
    lookback_hours: int = Field(72, description="Re-read window behind each cursor for late-arriving records.")
    outbox_dir: Path | None = Field(None, description="Where the file destination writes; default <home>/outbox.")
    data_docs_url: str | None = Field(
        None,
        description="Also publish the Data Docs site here after each gate: an fsspec URL (s3://bucket/docs) that "
        "every machine can reach; <home>/data_docs stays the local copy.",
    )
    gate_ratios_warn_only: bool = Field(
        False, description="Quality gate: ratio checks (qualified share, ...) only warn, never fail the run."
    )
    sync_destinations: list[str] = Field(
        ["file"], description="Destinations the sync delivers to, each an Airflow connection leadflow_<name>."
    )
    future_tolerance_minutes: int = Field(60, description="Source clocks may run this far ahead of the run's as-of.")
    pull_truncated_grace_minutes: float = Field(
        60,
        description="A file whose last line is cut short fails its unit while it changed less than this long ago "
        "(it may still be being written); after that it loads with that line quarantined.",
    )
    pull_workers: int = Field(
        2, ge=1, description="Loading pipelines (warehouse connections) per entity with several files."
    )
    pull_defer_keys: bool = Field(True, description="Build an empty raw table's primary key after its first load.")
    pull_fast: bool = Field(True, description="The pull's vectorized (Arrow) path for plain CSV/JSONL/SQL rows.")
    pull_adbc: bool = Field(True, description="Read SQLite sources through ADBC as Arrow batches.")
    dbt_threads: int | None = Field(None, ge=1, description="dbt threads; default one per core, between 2 and 4.")
    alert_webhook_url: SecretStr | None = Field(
        None, description="Slack-compatible webhook the quality gate alerts on failure (never logged)."
    )
    sync_failpoint: str | None = Field(
        None, description="Tests only: 'after_deliver:N' / 'before_deliver:N' kill the sync worker there."
    )
    sync_http_timeout_seconds: float = Field(30.0, description="Sync: timeout of one request to a destination.")
    sync_max_attempts: int = Field(8, description="Sync: attempts per request on 429/5xx/timeouts before giving up.")
    sync_backoff_base_seconds: float = Field(0.5, description="Sync: first backoff (doubles per attempt, full jitter).")
    sync_backoff_max_seconds: float = Field(60.0, description="Sync: longest backoff between two attempts.")
    sync_max_retry_after_seconds: float = Field(
        900.0, description="Sync: a longer Retry-After stops the destination for this run (the next run resumes)."
    )

    @field_validator("home", "landing_dir", "outbox_dir", mode="before")
    @classmethod
    def _local_folder(cls, value, info):
        """These are local folders (a path would silently turn ``s3://b`` into a folder named ``s3:``); each
        shared part has its own place for a URL."""
        if value is not None and "://" in str(value) and not str(value).startswith("file://"):
            where = {
                "home": "put the shared parts on URLs instead: sources.yml `location:` (landing zone), the file "
                "destination's connection `path` (outbox), LEADFLOW_DATA_DOCS_URL (Data Docs)",
                "landing_dir": "for an object store set `location: <URL>` on the file sources in the sources file",
                "outbox_dir": "for an object store set the file destination's path: AIRFLOW_CONN_LEADFLOW_FILE="
                '\'{"conn_type": "file", "extra": {"path": "<URL>"}}\'',
            }[info.field_name]
            raise ValueError(f"LEADFLOW_{info.field_name.upper()} must be a local folder, not {value}: {where}")
        return value

    @property
    def home_dir(self) -> Path:
        return self.home or self.project_dir / ".leadflow"

    @property
    def landing(self) -> Path:
        return self.landing_dir or self.home_dir / "landing"

    @property
    def outbox(self) -> Path:
        return self.outbox_dir or self.home_dir / "outbox"

    @property
    def report_dir(self) -> Path:
        return self.home_dir / "report"

    @property
    def sources_path(self) -> Path:
        return self.sources_file or self.project_dir / "sources.yml"

    @property
    def dbt_dir(self) -> Path:
        return self.project_dir / "dbt_project"

    @property
    def expectations_dir(self) -> Path:
        return self.project_dir / "expectations"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def current_settings() -> Settings:
    """The settings as the environment holds them right now (uncached): for switches read once per unit of
    work, which tests flip between calls."""
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests and the CLI change the environment)."""
    get_settings.cache_clear()


def _expected(field_name: str) -> str:
    """What a setting takes, in words, from its type and description."""
    import types
    import typing

    field = Settings.model_fields[field_name]
    kind = field.annotation
    if typing.get_origin(kind) in (typing.Union, types.UnionType):  # X | None
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    origin = typing.get_origin(kind)
    if origin is list:
        words = 'a JSON list of names, e.g. ["file", "hubspot"]'
    elif kind is bool:
        words = "true or false (1 or 0)"
    elif kind is int:
        words = "a whole number" + (
            " of at least 1" if any(getattr(m, "ge", None) == 1 for m in field.metadata) else ""
        )
    elif kind is float:
        words = "a number"
    elif kind is Path:
        words = "a path"
    else:
        words = "text"
    return f"{words} ({field.description.rstrip('.')})" if field.description else words


def explain_settings_error(err: Exception) -> str | None:
    """One or two lines naming the LEADFLOW_* variable(s) that could not be read and what each expects; None
    when ``err`` is not about the settings."""
    import re

    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    if isinstance(err, SettingsError):  # a value pydantic-settings could not even decode (a list that is not JSON)
        found = re.search(r'field "(\w+)"', str(err))
        if not found or found.group(1) not in Settings.model_fields:
            return None
        name = found.group(1)
        value = os.environ.get(f"LEADFLOW_{name.upper()}", "")
        return f"LEADFLOW_{name.upper()}={value!r} cannot be read: expected {_expected(name)}"
    if isinstance(err, ValidationError) and err.title == Settings.__name__:
        lines = []
        for problem in err.errors():
            name = str(problem["loc"][0]) if problem.get("loc") else ""
            if name not in Settings.model_fields:
                continue
            value = os.environ.get(f"LEADFLOW_{name.upper()}", problem.get("input"))
            lines.append(f"LEADFLOW_{name.upper()}={value!r} is not valid: expected {_expected(name)}")
        return "\n".join(lines) or None
    return None
