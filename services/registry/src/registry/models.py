"""Registry tables (its own database)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import UTCDateTime, make_base, new_id, new_metadata, utcnow
from shared.events.tables import make_event_tables

metadata = new_metadata()
Base = make_base(metadata)
outbox_table, inbox_table, dead_letter_table = make_event_tables(metadata)


class Project(Base):
    __tablename__ = "project"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="planned")
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    organisation_id: Mapped[str | None] = mapped_column(String(36), index=True)
    funder_id: Mapped[str | None] = mapped_column(String(36), index=True)
    region_codes: Mapped[list] = mapped_column(JSON, default=list)
    # Optimistic concurrency and event ordering: +1 on every change.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))
