"""Indicators settings (env prefix INDICATORS_)."""

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INDICATORS_", env_file=".env", extra="ignore",
                                      env_ignore_empty=True)

    service_name: str = "indicators"
    database_url: str = "sqlite+aiosqlite:///./data/indicators.db"
    stream_name: str = "TEKE_INDICATORS"
    # Privacy: no survey figure about fewer respondents than this leaves the service.
    privacy_min_respondents: int = 5
    # Well-being x productivity: what counts as "improved" (stated in every answer).
    wellbeing_min_effect_size: float = 0.2
    productivity_min_change_pct: float = 2.0
    # Survey rounds close themselves at their close time: how often the closer looks at most.
    survey_close_poll_seconds: float = 1.0
