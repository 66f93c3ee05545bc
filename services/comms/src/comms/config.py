"""Comms settings (env prefix COMMS_)."""

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="COMMS_", env_file=".env", extra="ignore",
                                      env_ignore_empty=True)

    service_name: str = "comms"
    database_url: str = "sqlite+aiosqlite:///./data/comms.db"
    stream_name: str = "TEKE_COMMS"
