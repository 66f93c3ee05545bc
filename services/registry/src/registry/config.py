"""Registry settings (env prefix REGISTRY_)."""

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", env_file=".env", extra="ignore",
                                      env_ignore_empty=True)

    service_name: str = "registry"
    database_url: str = "sqlite+aiosqlite:///./data/registry.db"
    stream_name: str = "TEKE_REGISTRY"
    # Answer project lists from the in-memory index (projects/index.py); false: SQL alone.
    search_index: bool = True
