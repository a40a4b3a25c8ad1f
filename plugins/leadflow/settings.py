"""One typed settings object, read from the environment (prefix ``LEADFLOW_``)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
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
    gate_ratios_warn_only: bool = Field(
        False, description="Quality gate: ratio checks (qualified share, ...) only warn, never fail the run."
    )
    sync_destinations: list[str] = Field(["file"], description="Destinations the sync delivers to (JSON list).")
    future_tolerance_minutes: int = Field(60, description="Source clocks may run this far ahead of the run's as-of.")
    pull_truncated_grace_minutes: float = Field(
        60,
        description="A file whose last line is cut short fails its unit while it changed less than this long ago "
        "(it may still be being written); after that it loads with that line quarantined.",
    )
    sync_http_timeout_seconds: float = Field(30.0, description="Sync: timeout of one request to a destination.")
    sync_max_attempts: int = Field(8, description="Sync: attempts per request on 429/5xx/timeouts before giving up.")
    sync_backoff_base_seconds: float = Field(0.5, description="Sync: first backoff (doubles per attempt, full jitter).")
    sync_backoff_max_seconds: float = Field(60.0, description="Sync: longest backoff between two attempts.")
    sync_max_retry_after_seconds: float = Field(
        900.0, description="Sync: a longer Retry-After stops the destination for this run (the next run resumes)."
    )

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


def reset_settings() -> None:
    """Forget cached settings (tests and the CLI change the environment)."""
    get_settings.cache_clear()


def env_pg_url() -> str | None:
    """A URL built from the standard libpq PG* variables, when PGHOST or PGDATABASE is set."""
    if not (os.environ.get("PGHOST") or os.environ.get("PGDATABASE")):
        return None
    from sqlalchemy.engine import URL

    return URL.create(
        "postgresql",
        username=os.environ.get("PGUSER", "postgres"),
        password=os.environ.get("PGPASSWORD"),
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=int(os.environ.get("PGPORT", "5432")),
        database=os.environ.get("PGDATABASE", "postgres"),
    ).render_as_string(hide_password=False)
