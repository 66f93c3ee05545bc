"""Registry tables of the theme level (issue 14): the theme's people and joint calls, project
outputs and lessons, the coordination project's work, evaluations and continuation, overlap.
Imported by `registry.models` (the one import surface and metadata), so import them from there."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models import Base, Call, Versioned
from shared.db import UTCDateTime, new_id, utcnow
from shared.events.tables import BigIntPK

# ---- The theme record: people, strategies, predecessor, calls across themes ----


class ThemePerson(Base):
    """A theme's contact person (intermediate body, coordination project) or a ministry's
    responsible person: personal data, never public, erasable (like ProjectPerson)."""

    __tablename__ = "theme_person"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    theme_id: Mapped[str] = mapped_column(ForeignKey("theme.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(30))  # intermediate_body | coordination_project | ministry
    ministry: Mapped[str | None] = mapped_column(String(10))  # TEM | STM | OKM
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CallTheme(Base):
    """A call belongs to one or more themes (joint calls); `position` 0 is `call.theme_id`."""

    __tablename__ = "call_theme"

    call_id: Mapped[str] = mapped_column(ForeignKey("call.id", ondelete="CASCADE"), primary_key=True)
    theme_id: Mapped[str] = mapped_column(ForeignKey("theme.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


# Loaded with the call (selectin): `call.theme_ids` is read wherever a call is shown.
Call.theme_links = relationship(CallTheme, lazy="selectin", cascade="all, delete-orphan",
                                order_by=CallTheme.position)
Call.theme_ids = property(lambda c: [x.theme_id for x in c.theme_links]
                          or ([c.theme_id] if c.theme_id else []))

# ---- Project outputs and lessons learned ----

class ProjectOutput(Base):
    """A project's output (tuotos): report, toolkit, training, service model, publication or
    event, with its link. Seen by whoever may see the project; edited as the project is."""

    __tablename__ = "project_output"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("project.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[dict] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(2))
    url: Mapped[str] = mapped_column(String(2000))
    date: Mapped[dt.date] = mapped_column(Date)
    description: Mapped[dict | None] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_project_output_kind_date", "kind", "date"),)


class Lesson(Base):
    """A lesson learned or a recommendation of a project, and to whom it is addressed (the
    coordination project's recommendations to the next programme period, for one)."""

    __tablename__ = "lesson"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("project.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[dict] = mapped_column(JSON)
    audience: Mapped[str] = mapped_column(String(30), index=True)
    topic: Mapped[str | None] = mapped_column(String(30))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))


# ---- The coordination project's work: steering groups and service needs ----

class SteeringMeeting(Base):
    """A meeting of a project's steering group: who took part by role, whether the coordination
    project and the funder attended, what was decided. Participant names are personal data."""

    __tablename__ = "steering_meeting"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    participants: Mapped[list] = mapped_column(JSON, default=list)
    coordination_attended: Mapped[bool] = mapped_column(Boolean, default=False)
    funder_attended: Mapped[bool] = mapped_column(Boolean, default=False)
    decisions: Mapped[dict] = mapped_column(JSON)
    minutes_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))


class ServiceNeed(Versioned, Base):
    """A new service need raised from the regions, triaged by the coordination project:
    new -> under_review -> forwarded (to the ministries) -> addressed | declined."""

    __tablename__ = "service_need"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    theme_id: Mapped[str] = mapped_column(ForeignKey("theme.id"), index=True)
    title: Mapped[dict] = mapped_column(JSON)
    description: Mapped[dict] = mapped_column(JSON)
    region_codes: Mapped[list] = mapped_column(JSON, default=list)
    target_group_codes: Mapped[list] = mapped_column(JSON, default=list)
    evidence: Mapped[str] = mapped_column(Text)
    project_ids: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    organisation_id: Mapped[str | None] = mapped_column(String(36), index=True)
    created_by: Mapped[str | None] = mapped_column(String(200))


class ServiceNeedStep(Base):
    """One step of a service need's triage, kept for good: from, to, why, who and when."""

    __tablename__ = "service_need_step"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    need_id: Mapped[str] = mapped_column(ForeignKey("service_need.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(200))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# ---- Theme evaluations, recommendations and continuation ----


class ThemeEvaluation(Versioned, Base):
    """An external evaluation of a whole theme (mid-term, final, thematic): public once completed."""

    __tablename__ = "theme_evaluation"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    theme_id: Mapped[str] = mapped_column(ForeignKey("theme.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # mid_term | final | thematic
    title: Mapped[dict | None] = mapped_column(JSON)
    evaluator: Mapped[str] = mapped_column(String(200))  # an organisation, not a person
    started: Mapped[dt.date] = mapped_column(Date)
    completed: Mapped[dt.date | None] = mapped_column(Date)
    questions: Mapped[list] = mapped_column(JSON, default=list)
    findings: Mapped[dict | None] = mapped_column(JSON)
    report_url: Mapped[str | None] = mapped_column(String(500))


class Recommendation(Versioned, Base):
    """One recommendation of a theme evaluation, followed to its outcome (steps below)."""

    __tablename__ = "recommendation"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    evaluation_id: Mapped[str] = mapped_column(ForeignKey("theme_evaluation.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[dict] = mapped_column(JSON)
    addressee: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="proposed")
    status_date: Mapped[dt.date | None] = mapped_column(Date)


class RecommendationLink(Base):
    """A project or practice a recommendation concerns."""

    __tablename__ = "recommendation_link"

    recommendation_id: Mapped[str] = mapped_column(
        ForeignKey("recommendation.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # project | practice
    target_id: Mapped[str] = mapped_column(String(36), primary_key=True)

    __table_args__ = (Index("ix_recommendation_link_target", "kind", "target_id"),)


class RecommendationStep(Base):
    """Every step of a recommendation towards its outcome, kept."""

    __tablename__ = "recommendation_step"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    recommendation_id: Mapped[str] = mapped_column(
        ForeignKey("recommendation.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    date: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class FollowUp(Base):
    """A follow-up of an ended project at 6, 12 or 24 months (the theme card's section 7)."""

    __tablename__ = "follow_up"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("project.id"), index=True)
    months: Mapped[int] = mapped_column(Integer)
    date: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("project_id", "months", name="uq_follow_up_project_months"),)


class FollowUpPractice(Base):
    """Whether one of the project's practices is still in use at the follow-up, and by whom."""

    __tablename__ = "follow_up_practice"

    follow_up_id: Mapped[str] = mapped_column(ForeignKey("follow_up.id", ondelete="CASCADE"),
                                              primary_key=True)
    practice_id: Mapped[str] = mapped_column(ForeignKey("practice.id"), primary_key=True,
                                             index=True)
    in_use: Mapped[bool] = mapped_column(Boolean)
    used_by: Mapped[list] = mapped_column(JSON, default=list)  # [{organisation_id?, name?}]
    note: Mapped[str | None] = mapped_column(Text)


# ---- Synergy and overlap ----


class OverlapPair(Base):
    """A pair in the national overlap report: precomputed (registry/overlap/), so a report
    request is a query. Scores are in thousandths; `rank` orders the report (double-funding
    risks first, then the higher score)."""

    __tablename__ = "overlap_pair"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)  # "<a id>:<b id>", a < b
    project_a_id: Mapped[str] = mapped_column(String(36), index=True)
    project_b_id: Mapped[str] = mapped_column(String(36), index=True)
    theme_a_id: Mapped[str | None] = mapped_column(String(36), index=True)
    theme_b_id: Mapped[str | None] = mapped_column(String(36), index=True)
    score: Mapped[int] = mapped_column(Integer)
    text_score: Mapped[int] = mapped_column(Integer)
    double_funding: Mapped[bool] = mapped_column(Boolean, default=False)
    rank: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_overlap_pair_rank", "rank", "id"),)


class OverlapBuild(Base):
    """When the overlap report was last built and from which change-feed seq (its freshness)."""

    __tablename__ = "overlap_build"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)  # "national"
    built_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    change_seq: Mapped[int] = mapped_column(Integer)
    projects: Mapped[int] = mapped_column(Integer)
    pairs: Mapped[int] = mapped_column(Integer)
    build_ms: Mapped[int] = mapped_column(Integer)
