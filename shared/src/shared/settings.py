"""Settings common to every TEKE service; each service subclasses with its own env prefix."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_PLACEHOLDERS = {"", "changethis", "dev", "development"}


class ServiceSettings(BaseSettings):
    """Fields every service reads. Subclasses set `env_prefix` (REGISTRY_, INDICATORS_, ...)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    service_name: str = "service"
    environment: str = Field("development", pattern="^(development|test|production)$")
    log_level: str = "INFO"
    log_json: bool = True

    database_url: str = "sqlite+aiosqlite:///./data/service.db"
    db_pool_size: int = 10

    nats_url: str = "nats://127.0.0.1:4222"
    nats_stream_replicas: int = Field(1, ge=1, le=5)
    # Events this service produces go to this stream; the relay publishes there.
    stream_name: str = ""
    # How long published outbox rows are kept so they can be re-published after a NATS crash
    # (NATS acknowledges before fsync; its default sync interval is 2 minutes).
    outbox_retention_seconds: float = 600.0
    outbox_batch_size: int = 500
    outbox_poll_seconds: float = 1.0
    outbox_max_in_flight: int = 2000

    consumer_batch_size: int = 100
    consumer_max_attempts: int = 5
    consumer_backoff_seconds: list[float] = [0.2, 0.5, 1.0, 2.0, 5.0]

    # Internal identity token (signed by the gateway, Ed25519 public key in PEM).
    internal_token_public_key: str = ""
    internal_token_audience: str = "teke-internal"
    internal_token_issuer: str = "teke-gateway"

    @model_validator(mode="after")
    def _refuse_missing_secrets_outside_development(self) -> ServiceSettings:
        key = self.internal_token_public_key.strip()
        if self.environment == "production" and key in DEV_PLACEHOLDERS:
            raise ValueError("internal_token_public_key must be set outside development")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
