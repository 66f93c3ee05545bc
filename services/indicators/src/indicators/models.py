"""Indicators tables (its own database)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import UTCDateTime, make_base, new_id, new_metadata, utcnow
from shared.events.tables import make_event_tables
from shared.projections import make_project_projection

metadata = new_metadata()
Base = make_base(metadata)
outbox_table, inbox_table, dead_letter_table = make_event_tables(metadata)
project_projection = make_project_projection(metadata)

# --- what the registry tells us (projections; version-guarded or idempotent facts) ---------

# Project facts the shared projection does not carry (theme, programme, ESF+ specific
# objective, archived).
project_extra = Table(
    "project_extra", metadata,
    Column("id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("theme_id", String(36), index=True),
    Column("programme_id", String(36), index=True),
    Column("specific_objective", String(20)),
    Column("archived", Boolean, nullable=False, default=False),
)

organisation_projection = Table(
    "organisation_projection", metadata,
    Column("id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("name", JSON, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("sector", String(80)),
    Column("size_class", String(10)),
    Column("region_code", String(4), index=True),
    Column("successor_id", String(36)),
    Column("updated_at", UTCDateTime, nullable=False),
)

participation = Table(
    "participation", metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(36), nullable=False, index=True),
    Column("joined_on", Date, nullable=False),
    Column("left_on", Date),
    Column("size_class", String(10)),
    Column("region_code", String(4)),
)

practice_projection = Table(
    "practice_projection", metadata,
    Column("id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("name", JSON, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("maturity", String(30), nullable=False),
    Column("project_ids", JSON, nullable=False),
    Column("published", Boolean, nullable=False),
)

adoption = Table(
    "adoption", metadata,
    Column("id", String(36), primary_key=True),
    Column("practice_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(36), nullable=False),
    Column("adopted_on", Date, nullable=False),
    Column("scope", String(30), nullable=False),
    Column("region_code", String(4)),
    Column("project_id", String(36)),
    Column("within_origin", Boolean, nullable=False),
)


# --- indicator catalogue ---------------------------------------------------------------------

class IndicatorDefinition(Base):
    """One version of an indicator's definition; the catalogue is data, not code."""

    __tablename__ = "indicator_definition"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(40), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    name: Mapped[dict[str, Any]] = mapped_column(JSON)
    # False where the name has no known Finnish or Swedish translation (shipped data that
    # carries another language's words under fi, or no sv): readers can tell a placeholder.
    translated: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    description: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    family: Mapped[str] = mapped_column(String(30), index=True)
    measure: Mapped[str] = mapped_column(String(20))
    unit: Mapped[str | None] = mapped_column(String(40))
    higher_is_better: Mapped[bool] = mapped_column(Boolean, default=True)
    aggregation: Mapped[str] = mapped_column(String(20))
    min_value: Mapped[float | None] = mapped_column(Float)
    max_value: Mapped[float | None] = mapped_column(Float)
    disaggregations: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Composite: the value must equal the sum of these codes' values.
    parts: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Counting rule: the same counted unit may not appear under both (EECO05 / EECO19).
    exclusive_with: Mapped[list[str]] = mapped_column(JSON, default=list)
    bands: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    uncertain: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- targets, reports, values ------------------------------------------------------------------

class Target(Base):
    """A project's baseline and target for one indicator (IATI's result/indicator)."""

    __tablename__ = "target"
    __table_args__ = (UniqueConstraint("project_id", "indicator_code", "target_date"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(String(36), index=True)
    indicator_code: Mapped[str] = mapped_column(String(40))
    baseline_value: Mapped[float | None] = mapped_column(Float)
    baseline_date: Mapped[dt.date | None] = mapped_column(Date)
    target_value: Mapped[float] = mapped_column(Float)
    target_date: Mapped[dt.date] = mapped_column(Date)
    reached_on: Mapped[dt.date | None] = mapped_column(Date)
    reached_value: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Report(Base):
    """One revision of a project's report for one period; corrections are new revisions."""

    __tablename__ = "report"
    __table_args__ = (UniqueConstraint("project_id", "period", "revision"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(String(36), index=True)
    period: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # draft | submitted | approved | locked | superseded
    status: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    reopen_reason: Mapped[str | None] = mapped_column(Text)
    previous_id: Mapped[str | None] = mapped_column(String(36))
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_by: Mapped[str | None] = mapped_column(String(200))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# No foreign key to report: PostgreSQL checks one by a trigger per row, which halved the
# COPY rate of bulk imports. Values are only ever written in the transaction that holds their
# report (create, import, replace, reopen), and reports are never deleted.
reported_value = Table(
    "reported_value", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("report_id", String(36), nullable=False),
    Column("indicator_code", String(40), nullable=False),
    Column("value", Float, nullable=False),
    Column("disaggregations", JSON),
    Column("counted_ids", JSON),
    Index("ix_reported_value_report_code", "report_id", "indicator_code"),
)

# Approved values pre-aggregated, kept current in the approving transaction.
# Dimensions use '' for "none" so they can form the key. A project in several regions
# counts in each of them (region totals are not additive across regions).
rollup = Table(
    "rollup", metadata,
    Column("indicator_code", String(40), primary_key=True),
    Column("period", String(8), primary_key=True),
    Column("year", Integer, nullable=False, index=True),
    Column("region_code", String(4), primary_key=True),
    Column("funder_id", String(36), primary_key=True),
    Column("theme_id", String(36), primary_key=True),
    Column("programme_id", String(36), primary_key=True),
    Column("total", Float, nullable=False),
    Column("n", Integer, nullable=False),
)

# Organisation-level figures (productivity) for the well-being x productivity analysis.
organisation_figure = Table(
    "organisation_figure", metadata,
    Column("organisation_id", String(36), primary_key=True),
    Column("indicator_code", String(40), primary_key=True),
    Column("period", String(8), primary_key=True),
    Column("value", Float, nullable=False),
    Column("reported_by", String(200)),
    Column("updated_at", UTCDateTime, nullable=False),
)


# --- surveys --------------------------------------------------------------------------------

class Instrument(Base):
    """A survey instrument as data: items, dimensions, scale, reverse items, scoring, bands."""

    __tablename__ = "survey_instrument"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[dict[str, Any]] = mapped_column(JSON)
    scale_min: Mapped[int] = mapped_column(Integer)
    scale_max: Mapped[int] = mapped_column(Integer)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    dimensions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    scoring: Mapped[str] = mapped_column(String(20))  # mean | percent_of_max
    bands: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    indicator_code: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


survey_wording = Table(
    "survey_wording", metadata,
    Column("instrument_id", String(36), primary_key=True),
    Column("organisation_id", String(36), primary_key=True),
    Column("items", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


class SurveyRound(Base):
    __tablename__ = "survey_round"
    __table_args__ = (UniqueConstraint("instrument_id", "organisation_id", "project_id", "label"),
                      # The closer's scan: open rounds by close time.
                      Index("ix_survey_round_status_closes_at", "status", "closes_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    instrument_id: Mapped[str] = mapped_column(String(36), ForeignKey("survey_instrument.id"))
    organisation_id: Mapped[str] = mapped_column(String(36), index=True)
    project_id: Mapped[str | None] = mapped_column(String(36), index=True)
    label: Mapped[str] = mapped_column(String(10))
    opens_on: Mapped[dt.date] = mapped_column(Date)
    closes_on: Mapped[dt.date] = mapped_column(Date)
    # The instant the round closes itself (default: the end of closes_on in Helsinki). A round
    # created after this instant (entering an old survey) is closed by hand instead.
    closes_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="open")
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    units: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# One row per anonymous response: scores only (raw answers are not kept).
survey_response = Table(
    "survey_response", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("round_id", String(36), ForeignKey("survey_round.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("unit", String(80)),
    Column("total", Float, nullable=False),
    Column("dimension_scores", JSON, nullable=False),
)


# --- the theme's goals (issue 14, part "goals") ------------------------------------------------

# What the registry tells us of its national themes (theme.created / theme.updated).
theme_projection = Table(
    "theme_projection", metadata,
    Column("id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("code", String(64), nullable=False, index=True),
    Column("name", JSON, nullable=False),
    Column("period_start", Date),
    Column("period_end", Date),
    Column("archived", Boolean, nullable=False, default=False),
)


class Goal(Base):
    """One goal of a national theme (the theme card's "Tavoitteena"), measured by indicators."""

    __tablename__ = "goal"
    __table_args__ = (UniqueConstraint("theme_id", "code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    theme_id: Mapped[str] = mapped_column(String(36), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[dict[str, Any]] = mapped_column(JSON)
    description: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class GoalIndicator(Base):
    """An indicator measuring a goal, with the theme-level baseline and target for a period."""

    __tablename__ = "goal_indicator"
    __table_args__ = (UniqueConstraint("goal_id", "indicator_code", "period"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    goal_id: Mapped[str] = mapped_column(String(36), ForeignKey("goal.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    indicator_code: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(12))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    baseline: Mapped[float | None] = mapped_column(Float)
    target: Mapped[float] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(40))
    # A number nobody has checked against a source yet (the seed's placeholders).
    unverified: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)


# Every state a goal has had (with its indicators), one row per change.
goal_revision = Table(
    "goal_revision", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("goal_id", String(36), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("action", String(20), nullable=False),
    Column("changed_fields", JSON, nullable=False),
    Column("state", JSON, nullable=False),
    Column("actor", String(200)),
    Column("at", UTCDateTime, nullable=False),
)
