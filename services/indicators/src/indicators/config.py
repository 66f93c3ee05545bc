"""Indicators settings (env prefix INDICATORS_)."""

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INDICATORS_", env_file=".env", extra="ignore",
                                      env_ignore_empty=True)

    service_name: str = "indicators"
    database_url: str = "sqlite+aiosqlite:///./data/indicators.db"
    stream_name: str = "TEKE_INDICATORS"
