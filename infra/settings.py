"""Settings, read once from the environment (prefix BACKCHANNEL_)."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE = Path("var") / "backchannel.sqlite3"


class Settings(BaseSettings):
    """Every knob of the service; one object, passed to whoever needs it."""

    model_config = SettingsConfigDict(env_prefix="BACKCHANNEL_", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_SQLITE}",
        description="sqlite:///path (embedded default) or postgresql://user@host:port/db",
    )
    window_days: int = Field(default=30, ge=1, le=3650, description="W, in days")
    write_tokens: str = Field(default="", description="comma-separated bearer tokens for writes")
    read_tokens: str = Field(default="", description="comma-separated bearer tokens for reads")
    log_format: str = Field(default="auto", description="json, console, or auto (console on a tty)")
    log_level: str = "INFO"
    pool_size: int = Field(default=5, ge=1)
    db_connect_timeout_seconds: float = Field(
        default=3.0,
        gt=0,
        le=600,
        description="how long a use of the store waits for a connection (PostgreSQL) before "
        "it is answered 503",
    )
    db_statement_timeout_seconds: float = Field(
        default=5.0,
        ge=0,
        le=86_400,
        description="PostgreSQL ends any statement running longer than this (0: no limit)",
    )
    max_body_bytes: int = 1024 * 1024
    min_position_wait_seconds: float = 5.0
    embedded_projector: bool = Field(
        default=True,
        description="`serve` runs the read model's projector itself (on PostgreSQL in its "
        "supervising process, beside its API workers); false when a separate "
        "`backchannel projector` process keeps the read model",
    )
    opentelemetry: bool = Field(
        default=False,
        description="FastAPI's own OpenTelemetry spans and metrics, for a deployment that "
        "configures an OpenTelemetry SDK (off, a request does not look for one)",
    )
    stream_send_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="`/v1/stream` cuts off a subscriber whose socket takes no message for this "
        "long; it resumes from its `Last-Event-ID`",
    )
    projector_stall_seconds: float = Field(
        default=30.0,
        gt=0,
        description="`/readyz` answers 503 when the read model is behind the log and has not "
        "advanced for this long",
    )
    projection_batch: int = Field(
        default=1000, ge=1, le=100_000, description="log positions per read-model transaction"
    )
    projection_cache_channels: int = Field(
        default=20_000, ge=1, description="channels the projector keeps in memory"
    )
    rebuild_memory_mib: float = Field(
        default=2048,
        gt=0,
        description="the events a rebuild's worker holds decoded at once, in MiB (an estimate); "
        "a worker whose share of the log is larger loads it in several passes over the log",
    )

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)

    @cached_property
    def write_token_set(self) -> tuple[str, ...]:
        return tuple(t.strip() for t in self.write_tokens.split(",") if t.strip())

    @cached_property
    def read_token_set(self) -> tuple[str, ...]:
        return tuple(t.strip() for t in self.read_tokens.split(",") if t.strip())

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))
