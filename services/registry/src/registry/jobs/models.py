"""Job tables: the job, its large parts (input rows, report, result file), quota overrides."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Index, Integer, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column

from registry.models import Base
from shared.db import UTCDateTime, new_id, utcnow


class Job(Base):
    """One long request. The large parts live in job_data, so listing jobs reads no blobs."""

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_owner_created", "owner", "created_at"),
                      Index("ix_job_state_created", "state", "created_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(40))  # projects.import | projects.export
    state: Mapped[str] = mapped_column(String(20), default="queued")
    owner: Mapped[str] = mapped_column(String(200))  # identity sub
    identity: Mapped[dict] = mapped_column(JSON)  # who asked: the job runs with their rights
    params: Mapped[dict] = mapped_column(JSON)
    rows_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list] = mapped_column(JSON, default=list)  # bounded (service.MAX_ERRORS)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims: 1 unless a worker died
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    result_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    result_media_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    result_filename: Mapped[str | None] = mapped_column(String(100), nullable=True)


class JobData(Base):
    """A job's large parts: 'input' (the import's rows, JSON), 'report' (the import report so
    far, JSON), 'result' (the export file). In the database, so any replica serves them."""

    __tablename__ = "job_data"

    job_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    part: Mapped[str] = mapped_column(String(20), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class JobQuota(Base):
    """An administrator's override of the active-jobs quota for one identity (or API key)."""

    __tablename__ = "job_quota"

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    max_active: Mapped[int] = mapped_column(Integer)
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
