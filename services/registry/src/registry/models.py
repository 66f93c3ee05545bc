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
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

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
    # The EU list of operations (CPR Article 49(3)): the Union co-financing rate (percent, 0-100)
    # and the Annex I intervention field (reference/intervention_fields.json).
    co_financing_rate: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    intervention_type: Mapped[str | None] = mapped_column(String(10))


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


# The job tables (jobs/models.py) and the theme level's (theme_models.py, this file stays
# readable) are on this one metadata.
import registry.jobs.models  # noqa: E402, F401
from registry.theme_models import (  # noqa: E402, F401  (re-exported: import tables from here)
    CallTheme,
    FollowUp,
    FollowUpPractice,
    Lesson,
    OverlapBuild,
    OverlapPair,
    ProjectOutput,
    Recommendation,
    RecommendationLink,
    RecommendationStep,
    ServiceNeed,
    ServiceNeedStep,
    SteeringMeeting,
    ThemeEvaluation,
    ThemePerson,
)
