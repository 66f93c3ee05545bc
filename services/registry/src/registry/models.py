"""Registry tables (its own database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import UTCDateTime, make_base, new_id, new_metadata, utcnow
from shared.events.tables import BigIntPK, make_event_tables
from shared.idempotency import make_idempotency_table

metadata = new_metadata()
Base = make_base(metadata)
outbox_table, inbox_table, dead_letter_table = make_event_tables(metadata)
idempotency_table = make_idempotency_table(metadata)

Money = Numeric(16, 2)  # EUR, exact


class Versioned:
    """Columns every first-class record has: version (ETag, event order), audit times, archive."""

    version: Mapped[int] = mapped_column(Integer, default=1)
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))


class Programme(Versioned, Base):
    __tablename__ = "programme"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[dict] = mapped_column(JSON)
    period_start: Mapped[dt.date | None] = mapped_column(Date)
    period_end: Mapped[dt.date | None] = mapped_column(Date)


class Organisation(Versioned, Base):
    __tablename__ = "organisation"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[dict] = mapped_column(JSON)
    business_id: Mapped[str | None] = mapped_column(String(9), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    sector: Mapped[str | None] = mapped_column(String(20))
    size_class: Mapped[str | None] = mapped_column(String(10))
    region_code: Mapped[str | None] = mapped_column(String(2))
    authority_code: Mapped[str | None] = mapped_column(String(20), unique=True)
    successor_id: Mapped[str | None] = mapped_column(ForeignKey("organisation.id"))
    succeeded_on: Mapped[dt.date | None] = mapped_column(Date)


class Theme(Versioned, Base):
    __tablename__ = "theme"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    programme_id: Mapped[str | None] = mapped_column(ForeignKey("programme.id"), index=True)
    name: Mapped[dict] = mapped_column(JSON)
    specific_objective: Mapped[str | None] = mapped_column(String(20))
    budget: Mapped[Decimal | None] = mapped_column(Money)
    ministries: Mapped[list] = mapped_column(JSON, default=list)
    intermediate_body_id: Mapped[str | None] = mapped_column(ForeignKey("organisation.id"))
    priorities: Mapped[list] = mapped_column(JSON, default=list)
    sub_themes: Mapped[list] = mapped_column(JSON, default=list)
    target_groups: Mapped[list] = mapped_column(JSON, default=list)
    period_start: Mapped[dt.date | None] = mapped_column(Date)
    period_end: Mapped[dt.date | None] = mapped_column(Date)
    # Theme record (issue 14, part "theme"): strategies (reference/strategies.json), the
    # 2014-2020 predecessor, and the theme's coordination project (a project of kind coordination).
    strategy_codes: Mapped[list] = mapped_column(JSON, default=list)
    predecessor: Mapped[dict | None] = mapped_column(JSON)
    coordination_project_id: Mapped[str | None] = mapped_column(String(36))


class Call(Versioned, Base):
    """A call for proposals (hankehaku)."""

    __tablename__ = "call"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    theme_id: Mapped[str | None] = mapped_column(ForeignKey("theme.id"), index=True)
    funder_id: Mapped[str | None] = mapped_column(ForeignKey("organisation.id"))
    name: Mapped[dict] = mapped_column(JSON)
    open_date: Mapped[dt.date | None] = mapped_column(Date)
    close_date: Mapped[dt.date | None] = mapped_column(Date)
    budget: Mapped[Decimal | None] = mapped_column(Money)
    priorities: Mapped[list] = mapped_column(JSON, default=list)


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
    # The full record (seed project page + theme card).
    case_numbers: Mapped[list] = mapped_column(JSON, default=list)
    appointing_body: Mapped[str | None] = mapped_column(String(200))
    set_up_date: Mapped[dt.date | None] = mapped_column(Date)
    goals: Mapped[dict | None] = mapped_column(JSON)
    starting_points: Mapped[dict | None] = mapped_column(JSON)
    further_info: Mapped[dict | None] = mapped_column(JSON)
    theme_id: Mapped[str | None] = mapped_column(String(36), index=True)
    programme_id: Mapped[str | None] = mapped_column(String(36), index=True)
    call_id: Mapped[str | None] = mapped_column(String(36), index=True)
    target_groups: Mapped[list] = mapped_column(JSON, default=list)
    sub_themes: Mapped[list] = mapped_column(JSON, default=list)
    budget_total: Mapped[Decimal | None] = mapped_column(Money, index=True)
    published: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status_date: Mapped[dt.date | None] = mapped_column(Date)
    status_reason: Mapped[str | None] = mapped_column(Text)
    # Plain text per language for full-text search (PostgreSQL indexes expressions over these).
    search_fi: Mapped[str | None] = mapped_column(Text)
    search_sv: Mapped[str | None] = mapped_column(Text)
    search_en: Mapped[str | None] = mapped_column(Text)
    # development | pilot | coordination (issue 14, part "theme")
    kind: Mapped[str] = mapped_column(String(20), default="development",
                                      server_default="development")


class ProjectTag(Base):
    """Multi-valued filter values (region, target group, sub-theme, partner) for filters and facets."""

    __tablename__ = "project_tag"

    project_id: Mapped[str] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"),
                                            primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(60), primary_key=True)

    __table_args__ = (Index("ix_project_tag_kind_value", "kind", "value", "project_id"),)


class ProjectPartner(Base):
    __tablename__ = "project_partner"

    project_id: Mapped[str] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"),
                                            primary_key=True)
    organisation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    role: Mapped[str] = mapped_column(String(40))


class ProjectBudget(Base):
    __tablename__ = "project_budget"

    project_id: Mapped[str] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"),
                                            primary_key=True)
    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Money)


class ProjectFunder(Base):
    """Dated funder relation: survives an ELY centre being succeeded by an elinvoimakeskus."""

    __tablename__ = "project_funder"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[str] = mapped_column(String(36), index=True)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)


class ProjectPerson(Base):
    """Contact persons and steering-group members: personal data, never public, erasable."""

    __tablename__ = "project_person"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # contact | steering_group
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    organisation: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))


class ProjectEvaluation(Base):
    __tablename__ = "project_evaluation"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # mid_term | final | other
    date: Mapped[dt.date | None] = mapped_column(Date)
    evaluator: Mapped[str | None] = mapped_column(String(200))
    findings: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))


class ProjectWorkplace(Base):
    """A workplace the project works with: when it joined and left (counts supported SMEs)."""

    __tablename__ = "project_workplace"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisation.id"), index=True)
    joined_on: Mapped[dt.date] = mapped_column(Date)
    left_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Practice(Versioned, Base):
    """A good practice or service model (toimintamalli, palvelumalli)."""

    __tablename__ = "practice"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[dict] = mapped_column(JSON)
    kind: Mapped[str] = mapped_column(String(20), default="practice")
    problem: Mapped[dict | None] = mapped_column(JSON)
    how_to_adopt: Mapped[dict | None] = mapped_column(JSON)
    maturity: Mapped[str] = mapped_column(String(30), default="idea")
    evidence: Mapped[list] = mapped_column(JSON, default=list)
    project_ids: Mapped[list] = mapped_column(JSON, default=list)
    theme_ids: Mapped[list] = mapped_column(JSON, default=list)
    sub_themes: Mapped[list] = mapped_column(JSON, default=list)
    target_groups: Mapped[list] = mapped_column(JSON, default=list)
    organisation_id: Mapped[str | None] = mapped_column(String(36), index=True)
    published: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Adoption(Base):
    __tablename__ = "adoption"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    practice_id: Mapped[str] = mapped_column(ForeignKey("practice.id"), index=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisation.id"), index=True)
    adopted_on: Mapped[dt.date] = mapped_column(Date)
    scope: Mapped[str] = mapped_column(String(20))
    region_code: Mapped[str | None] = mapped_column(String(2))
    project_id: Mapped[str | None] = mapped_column(String(36))
    within_origin: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))


class History(Base):
    """Every change to every record: who, when, before and after (personal data redacted)."""

    __tablename__ = "history"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    entity_type: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(String(36))
    version: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_history_entity", "entity_type", "entity_id", "id"),)


class Change(Base):
    """The change feed: one row per create/update/archive, `seq` in commit order (see changes.py)."""

    __tablename__ = "change"

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    entity_type: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(20))
    version: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Who may read the entry: published to all; otherwise the owner, the funder, national roles.
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    organisation_id: Mapped[str | None] = mapped_column(String(36))
    funder_id: Mapped[str | None] = mapped_column(String(36))
    state: Mapped[dict | None] = mapped_column(JSON)


# --- Theme coordination (issue 14). Each part keeps its tables under its own heading. -------

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
