"""Events the registry produces (stream TEKE_REGISTRY, subjects teke.registry.>).

State events (`*.created`, `*.updated`) carry the entity's public state with a `version`
that increases with every change: consumers keep the highest version they have seen, so
events that arrive out of order cannot roll state back. Fact events (`adoption.recorded`,
`workplace.joined`, ...) carry their own id. No payload carries personal data.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared import limits
from shared.events.consumer import StreamSpec
from shared.types import StrictInput

STREAM = StreamSpec(name="TEKE_REGISTRY", subjects=("teke.registry.>",))

PROJECT_CREATED = "fi.teke.registry.project.created.v1"
PROJECT_UPDATED = "fi.teke.registry.project.updated.v1"
PROJECT_STATUS_CHANGED = "fi.teke.registry.project.status_changed.v1"
PROJECT_ARCHIVED = "fi.teke.registry.project.archived.v1"
ORGANISATION_CREATED = "fi.teke.registry.organisation.created.v1"
ORGANISATION_UPDATED = "fi.teke.registry.organisation.updated.v1"
ORGANISATION_SUCCEEDED = "fi.teke.registry.organisation.succeeded.v1"
WORKPLACE_JOINED = "fi.teke.registry.workplace.joined.v1"
WORKPLACE_LEFT = "fi.teke.registry.workplace.left.v1"
PRACTICE_PUBLISHED = "fi.teke.registry.practice.published.v1"
PRACTICE_MATURITY_CHANGED = "fi.teke.registry.practice.maturity_changed.v1"
ADOPTION_RECORDED = "fi.teke.registry.adoption.recorded.v1"

PROGRAMME_CREATED = "fi.teke.registry.programme.created.v1"
PROGRAMME_UPDATED = "fi.teke.registry.programme.updated.v1"
THEME_CREATED = "fi.teke.registry.theme.created.v1"
THEME_UPDATED = "fi.teke.registry.theme.updated.v1"
CALL_CREATED = "fi.teke.registry.call.created.v1"
CALL_UPDATED = "fi.teke.registry.call.updated.v1"
JOB_COMPLETED = "fi.teke.registry.job.completed.v1"

ProjectStatus = Literal["planned", "active", "ended", "cancelled"]
ProjectKind = Literal["development", "pilot", "coordination"]
OrganisationSize = Literal["micro", "small", "medium", "large"]
Maturity = Literal["idea", "piloted", "evaluated", "adopted_nationally"]
AdoptionScope = Literal["unit", "organisation", "regional_service"]


class LocalizedText(StrictInput):
    """Text in Finnish (required), Swedish and English.

    Unbounded, as event payloads and stored state carry it; request bodies use the bounded
    LocalizedName or LocalizedDescription below."""

    model_config = ConfigDict(extra="forbid")
    fi: str = Field(min_length=1)
    sv: str | None = None
    en: str | None = None


class LocalizedName(LocalizedText):
    """A name or title in Finnish (required), Swedish and English: at most 500 characters each."""

    fi: str = Field(min_length=1, max_length=limits.NAME)
    sv: str | None = Field(None, max_length=limits.NAME)
    en: str | None = Field(None, max_length=limits.NAME)


class LocalizedDescription(LocalizedText):
    """A description or other free text in Finnish (required), Swedish and English: at most
    20,000 characters each."""

    fi: str = Field(min_length=1, max_length=limits.TEXT)
    sv: str | None = Field(None, max_length=limits.TEXT)
    en: str | None = Field(None, max_length=limits.TEXT)


class ProjectState(BaseModel):
    """The public facts of a project other services keep in their projections."""

    model_config = ConfigDict(extra="allow")

    id: str
    version: int = Field(ge=1)
    code: str
    name: LocalizedText
    status: ProjectStatus
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    organisation_id: str | None = Field(None, description="The lead implementer.")
    funder_id: str | None = Field(None, description="The current funder (dated history in the registry).")
    region_codes: list[str] = Field(default_factory=list, description="Maakunta codes 01-21.")
    theme_id: str | None = None
    programme_id: str | None = None
    specific_objective: str | None = Field(
        None, description="ESF+ specific objective code of the project's theme (e.g. ESO4.7).")
    call_id: str | None = None
    partner_ids: list[str] = Field(default_factory=list)
    target_groups: list[str] = Field(default_factory=list)
    sub_themes: list[str] = Field(default_factory=list)
    budget_total: str | None = Field(None, description="EUR as an exact decimal string.")
    published: bool = False
    archived: bool = False
    kind: ProjectKind = Field("development", description=(
        "development, pilot (kokeilu) or coordination (koordinaatiohanke); absent in events "
        "written before it existed, which means development."))
    co_financing_rate: str | None = Field(None, description=(
        "EU co-financing rate in percent as an exact decimal string (e.g. \"60.00\"); absent "
        "in events written before it existed."))
    intervention_type: str | None = Field(None, description=(
        "Intervention field code of Annex I to Regulation (EU) 2021/1060 (registry "
        "/reference/intervention_types); absent in events written before it existed."))


class ProjectCreatedV1(ProjectState):
    """A project was added to the registry."""


class ProjectUpdatedV1(ProjectState):
    """A project's record changed; the payload is its new state."""

    changed_fields: list[str] = Field(default_factory=list)


class ProjectStatusChangedV1(BaseModel):
    """A project moved along its lifecycle (also reported as project.updated)."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int = Field(ge=1)
    code: str
    from_status: ProjectStatus
    to_status: ProjectStatus
    date: dt.date
    reason: str | None = None


class ProjectArchivedV1(BaseModel):
    """A project was archived (hidden from lists; its history kept)."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int = Field(ge=1)
    code: str


class OrganisationState(BaseModel):
    """An organisation's public facts."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int = Field(ge=1)
    name: LocalizedText
    business_id: str | None = Field(None, description="Finnish business ID (Y-tunnus).")
    kind: str
    sector: str | None = None
    size_class: OrganisationSize | None = None
    region_code: str | None = None
    successor_id: str | None = None


class OrganisationCreatedV1(OrganisationState):
    """An organisation was added."""


class OrganisationUpdatedV1(OrganisationState):
    """An organisation's record changed; the payload is its new state."""

    changed_fields: list[str] = Field(default_factory=list)


class OrganisationSucceededV1(BaseModel):
    """An organisation was replaced by another (e.g. an ELY centre by an elinvoimakeskus)."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(description="The predecessor.")
    successor_id: str
    date: dt.date


class WorkplaceJoinedV1(BaseModel):
    """A workplace (company or organisation) started taking part in a project."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(description="The participation record.")
    project_id: str
    organisation_id: str
    joined_on: dt.date
    size_class: OrganisationSize | None = None
    region_code: str | None = None


class WorkplaceLeftV1(BaseModel):
    """A workplace stopped taking part in a project."""

    model_config = ConfigDict(extra="allow")
    id: str
    project_id: str
    organisation_id: str
    left_on: dt.date


class PracticeState(BaseModel):
    """A good practice or service model (toimintamalli, palvelumalli)."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int = Field(ge=1)
    name: LocalizedText
    kind: Literal["practice", "service_model"] = "practice"
    maturity: Maturity
    project_ids: list[str] = Field(default_factory=list)
    sub_themes: list[str] = Field(default_factory=list)
    target_groups: list[str] = Field(default_factory=list)
    published: bool = False


class PracticePublishedV1(PracticeState):
    """A practice was published (made public)."""


class PracticeMaturityChangedV1(PracticeState):
    """A practice's maturity changed."""

    from_maturity: Maturity


class AdoptionRecordedV1(BaseModel):
    """An organisation took up a practice: how the spread of impact is measured."""

    model_config = ConfigDict(extra="allow")
    id: str
    practice_id: str
    organisation_id: str
    adopted_on: dt.date
    scope: AdoptionScope
    region_code: str | None = None
    project_id: str | None = Field(None, description="The project through which it spread, if any.")
    within_origin: bool = Field(
        False, description="True when the adopter took part in a project the practice came from.")


class ProgrammeState(BaseModel):
    """An ESF+ programme (e.g. 2021-2027): its public facts (archiving is an update)."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int = Field(ge=1)
    code: str
    name: LocalizedText
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    archived: bool = False


class ProgrammeCreatedV1(ProgrammeState):
    """A programme was added."""


class ProgrammeUpdatedV1(ProgrammeState):
    """A programme's record changed (or it was archived); the payload is its new state."""

    changed_fields: list[str] = Field(default_factory=list)


class ThemePredecessor(BaseModel):
    """What the theme continues from the previous programme period."""

    model_config = ConfigDict(extra="allow")
    period: str = Field(description="e.g. 2014-2020")
    priority_axis: LocalizedText | None = None
    objective: LocalizedText | None = None
    coordination_project_code: str | None = None
    responsible_authority: str | None = None


class ThemeState(BaseModel):
    """A national theme: programme, ESF+ specific objective, budget frame and code lists."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int = Field(ge=1)
    code: str
    name: LocalizedText
    programme_id: str | None = None
    specific_objective: str | None = Field(None, description="ESF+ specific objective code.")
    budget: str | None = Field(None, description="EUR as an exact decimal string.")
    ministries: list[str] = Field(default_factory=list)
    intermediate_body_id: str | None = None
    sub_themes: list[str] = Field(default_factory=list)
    target_groups: list[str] = Field(default_factory=list)
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    archived: bool = False
    strategy_codes: list[str] = Field(default_factory=list, description=(
        "Strategies the theme answers to (GET /reference/strategies)."))
    predecessor: ThemePredecessor | None = Field(None, description="The theme in 2014-2020.")
    coordination_project_id: str | None = Field(None, description=(
        "The theme's national coordination project (a project of kind coordination)."))


class ThemeCreatedV1(ThemeState):
    """A theme was added."""


class ThemeUpdatedV1(ThemeState):
    """A theme's record changed (or it was archived); the payload is its new state.

    Its projects' specific objective follows the theme: their next project events carry it."""

    changed_fields: list[str] = Field(default_factory=list)


class CallState(BaseModel):
    """A call for proposals (hankehaku)."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int = Field(ge=1)
    code: str
    name: LocalizedText
    theme_id: str | None = Field(None, description="The first of theme_ids (older clients).")
    theme_ids: list[str] = Field(default_factory=list, description=(
        "Every theme the call belongs to (a joint call spans several)."))
    funder_id: str | None = None
    open_date: dt.date | None = None
    close_date: dt.date | None = None
    budget: str | None = Field(None, description="EUR as an exact decimal string.")
    archived: bool = False


class CallCreatedV1(CallState):
    """A call for proposals was added."""


class CallUpdatedV1(CallState):
    """A call's record changed (or it was archived); the payload is its new state."""

    changed_fields: list[str] = Field(default_factory=list)


class JobCompletedV1(BaseModel):
    """A long import or export (a job, `GET /jobs/{id}`) ended: succeeded, failed or cancelled.
    Carries no identity (who asked is in the job, for those who may read it)."""

    id: str
    kind: Literal["projects.import", "projects.export"]
    state: Literal["succeeded", "failed", "cancelled"]
    rows_done: int = Field(ge=0)
    rows_total: int | None = Field(None, ge=0)
    finished_at: dt.datetime


EVENTS: dict[str, type[BaseModel]] = {
    JOB_COMPLETED: JobCompletedV1,
    PROJECT_CREATED: ProjectCreatedV1,
    PROJECT_UPDATED: ProjectUpdatedV1,
    PROJECT_STATUS_CHANGED: ProjectStatusChangedV1,
    PROJECT_ARCHIVED: ProjectArchivedV1,
    ORGANISATION_CREATED: OrganisationCreatedV1,
    ORGANISATION_UPDATED: OrganisationUpdatedV1,
    ORGANISATION_SUCCEEDED: OrganisationSucceededV1,
    WORKPLACE_JOINED: WorkplaceJoinedV1,
    WORKPLACE_LEFT: WorkplaceLeftV1,
    PRACTICE_PUBLISHED: PracticePublishedV1,
    PRACTICE_MATURITY_CHANGED: PracticeMaturityChangedV1,
    ADOPTION_RECORDED: AdoptionRecordedV1,
    PROGRAMME_CREATED: ProgrammeCreatedV1,
    PROGRAMME_UPDATED: ProgrammeUpdatedV1,
    THEME_CREATED: ThemeCreatedV1,
    THEME_UPDATED: ThemeUpdatedV1,
    CALL_CREATED: CallCreatedV1,
    CALL_UPDATED: CallUpdatedV1,
}

# The coordination events live in their own module (this one stays readable); same stream.
from shared.contracts.coordination import EVENTS as _COORDINATION_EVENTS  # noqa: E402

EVENTS.update(_COORDINATION_EVENTS)
