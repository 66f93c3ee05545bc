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
    # Rendered project records a process keeps for GET /projects/{id} (projects/reads.py; no
    # personal data; each checked against the database on every read). 0: keep none.
    read_cache_size: int = 2_000

    # Jobs (jobs/): long imports and exports behind the request. Above these sizes a request
    # becomes a job (bench/RESULTS.md "Jobs": ~2,000 import rows or ~20,000 export rows take
    # over a second or two synchronously); `Prefer: respond-async` asks for a job at any size.
    job_import_async_rows: int = 2_000
    job_export_async_rows: int = 20_000
    job_import_chunk: int = 1_000  # rows a transaction; a restart resumes after the last one
    job_export_chunk: int = 5_000  # rows between progress updates and cancel checks
    job_max_active: int = 3  # queued or running jobs per identity (admins raise it per identity)
    job_lease_seconds: float = 30.0  # a worker that stops heartbeating loses its job after this
    job_poll_seconds: float = 1.0  # how often an idle worker looks for jobs of other replicas
    job_result_ttl_seconds: float = 24 * 3600.0  # how long an export's file can be downloaded
