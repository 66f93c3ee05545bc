"""Gateway settings (env prefix GATEWAY_)."""

from __future__ import annotations

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import DEV_PLACEHOLDERS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_file=".env", extra="ignore",
                                      env_ignore_empty=True)

    environment: str = "development"
    log_level: str = "INFO"
    log_json: bool = True
    database_url: str = "sqlite+aiosqlite:///./data/gateway.db"

    # One base URL per service, or several separated by commas (replicas, gateway.balancer).
    registry_url: str = "http://127.0.0.1:8001"
    indicators_url: str = "http://127.0.0.1:8002"
    comms_url: str = "http://127.0.0.1:8003"
    upstream_timeout_seconds: float = 10.0
    upstream_connect_timeout_seconds: float = 1.0
    upstream_pool_size: int = 100
    max_body_bytes: int = 1_048_576
    # Bulk import endpoints take larger bodies (10,000 projects a request).
    max_bulk_body_bytes: int = 64 * 1_048_576

    # Retries only for idempotent reads, once, on a connection that broke before answering.
    upstream_read_retries: int = 1
    # With several addresses: one that refuses or drops a connection is skipped this long,
    # then its /readyz is probed (again every this long) before it takes requests again.
    upstream_down_seconds: float = 2.0
    circuit_failure_threshold: int = 5
    circuit_cooldown_seconds: float = 10.0

    # Token buckets: per API key / signed-in user, and per client address.
    rate_limit_per_identity: float = 50.0
    rate_limit_identity_burst: float = 100.0
    rate_limit_per_address: float = 100.0
    rate_limit_address_burst: float = 200.0

    # OWASP API6, sensitive business flows: bulk export (paths ending in /export, or a
    # `format=` asking for a file) per identity, and public sign-ups (POST /subscriptions) per
    # client address, each N requests per window on top of the general limits.
    export_limit_count: float = 10.0
    export_limit_window_seconds: float = 60.0
    export_formats: list[str] = ["csv", "xlsx", "json"]
    signup_limit_count: float = 5.0
    signup_limit_window_seconds: float = 600.0

    # Browser origins allowed to call the API (exact "https://host[:port]"); none by default,
    # so production opens only what it names. `make run` allows the local dev servers
    # (deploy/embedded.py, DEV_CORS_ORIGINS).
    cors_origins: list[str] = []
    gzip_minimum_bytes: int = 1024

    internal_token_private_key: str = ""
    internal_token_lifetime_seconds: int = 120

    # People: OIDC bearer JWTs. Algorithms are pinned; HS256 only with the dev secret.
    oidc_issuer: str = "https://login.teke.local"
    oidc_audience: str = "teke-api"
    oidc_jwks_url: str = ""
    oidc_public_key: str = ""
    oidc_algorithms: list[str] = ["RS256", "ES256"]
    oidc_roles_claim: str = "roles"
    oidc_org_claim: str = "org"
    dev_jwt_secret: str = ""

    # Systems: API keys, stored as HMAC-SHA256(pepper, key).
    api_key_pepper: str = ""
    api_key_cache_seconds: float = 5.0

    @model_validator(mode="after")
    def _no_default_secrets_outside_development(self) -> Settings:
        if self.environment == "production":
            if self.dev_jwt_secret:
                raise ValueError("dev_jwt_secret is for development only")
            for name in ("internal_token_private_key", "api_key_pepper"):
                if getattr(self, name).strip() in DEV_PLACEHOLDERS:
                    raise ValueError(f"{name} must be set in production")
        return self

    @property
    def dev_tokens_allowed(self) -> bool:
        return self.environment in ("development", "test") and bool(self.dev_jwt_secret)
