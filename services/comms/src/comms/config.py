"""Comms settings (env prefix COMMS_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="COMMS_", env_file=".env", extra="ignore",
                                      env_ignore_empty=True)

    service_name: str = "comms"
    database_url: str = "sqlite+aiosqlite:///./data/comms.db"
    stream_name: str = "TEKE_COMMS"

    # Links in mails and feeds point here (the gateway's public address).
    public_base_url: str = "http://localhost:8000"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_sender: str = "TEKE <noreply@teke.fi>"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = 30.0
    # The embedded default's local mail catcher writes each message here as an .eml file; set,
    # it enables the admin's GET /admin/comms/mailbox. Unset (compose, production): 404.
    mailbox_dir: str | None = Field(None, max_length=1000)
    # Webhook targets on loopback/private/link-local/reserved networks are refused unless
    # they fall inside one of these networks (an admin setting, e.g. ["10.20.0.0/16"]).
    webhook_allow_networks: list[str] = Field(default_factory=list)
    webhook_timeout_seconds: float = 10.0
    webhook_backoff_seconds: list[float] = [5.0, 30.0, 120.0, 600.0, 3600.0]
    email_backoff_seconds: list[float] = [30.0, 120.0, 600.0, 3600.0]
    # Parallel SMTP connections and webhook requests of one worker.
    delivery_concurrency: int = Field(8, ge=1, le=64)
    delivery_batch_size: int = Field(400, ge=1, le=5000)
    delivery_poll_seconds: float = 1.0
    # Subscribers matched and delivery rows written per step of a newsletter fan-out (bounds
    # the memory a publish needs, whatever the number of subscribers).
    newsletter_batch_size: int = Field(5000, ge=1, le=50000)
    # A claimed delivery not marked within this time is taken up again (same Message-ID).
    delivery_lease_seconds: float = 120.0
    scheduler_poll_seconds: float = 5.0
    # Abuse limits for confirmation mails, per hour.
    confirm_mails_per_address_hour: int = 3
    confirm_mails_per_client_hour: int = 20
    display_timezone: str = "Europe/Helsinki"
    # Where ministry messages go (the registry addresses of TEM and STM): nobody else gets them.
    ministry_addresses: list[str] = Field(default_factory=list)
