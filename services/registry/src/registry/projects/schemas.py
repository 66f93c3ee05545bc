"""Project API schemas."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from registry.validators import check_codes
from shared import limits
from shared.contracts.registry import LocalizedDescription, LocalizedName, LocalizedText
from shared.limits import CodeStr, ShortStr
from shared.types import DecimalIn, IsoDate, StrictInput

ProjectStatus = Literal["planned", "active", "ended", "cancelled"]
ProjectKind = Literal["development", "pilot", "coordination"]
PartnerRole = Literal["co_implementer", "partner", "expert", "subcontractor", "financier", "other"]
BudgetSource = Literal["esf_plus", "state", "municipal", "private", "other_public"]
Id = str


def check_regions(codes: list[str] | None) -> list[str] | None:
    return check_codes("regions", codes)


class _In(StrictInput):
    model_config = ConfigDict(extra="forbid")


class Partner(_In):
    organisation_id: Id = Field(max_length=36)
    role: PartnerRole = "partner"


class BudgetLine(_In):
    source: BudgetSource
    amount: DecimalIn = Field(ge=0, max_digits=16, decimal_places=2)


class Person(_In):
    """Personal data: shown only to those who may see the project's private fields."""

    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(None, max_length=40)
    organisation: str | None = Field(None, max_length=200)
    title: str | None = Field(None, max_length=200)


class Evaluation(_In):
    kind: Literal["mid_term", "final", "other"]
    date: IsoDate | None = None
    evaluator: str | None = Field(None, max_length=200)
    findings: str | None = Field(None, max_length=20000)
    link: str | None = Field(None, max_length=500, pattern=r"^https?://\S+$")


class _Record(_In):
    """Fields of the full project record (seed project page + theme card)."""

    start_date: IsoDate | None = None
    end_date: IsoDate | None = None
    organisation_id: Id | None = Field(None, max_length=36, description="Lead implementer.")
    funder_id: Id | None = Field(None, max_length=36)
    funder_since: IsoDate | None = Field(None, description="When funder_id became the funder.")
    region_codes: list[CodeStr] | None = Field(None, max_length=21)
    case_numbers: list[ShortStr] | None = Field(None, max_length=20)
    appointing_body: str | None = Field(None, max_length=200)
    set_up_date: IsoDate | None = None
    goals: LocalizedDescription | None = None
    starting_points: LocalizedDescription | None = None
    further_info: LocalizedDescription | None = None
    theme_id: Id | None = Field(None, max_length=36)
    programme_id: Id | None = Field(None, max_length=36)
    call_id: Id | None = Field(None, max_length=36)
    target_groups: list[CodeStr] | None = Field(None, max_length=30)
    sub_themes: list[CodeStr] | None = Field(None, max_length=30)
    partners: list[Partner] | None = Field(None, max_length=200)
    budget: list[BudgetLine] | None = Field(None, max_length=10)
    contact_persons: list[Person] | None = Field(None, max_length=50)
    steering_group: list[Person] | None = Field(None, max_length=50)
    evaluations: list[Evaluation] | None = Field(None, max_length=20)
    published: bool | None = None
    # The EU list of operations (CPR Article 49(3), points (k) and (n)).
    co_financing_rate: DecimalIn | None = Field(
        None, ge=0, le=100, max_digits=5, decimal_places=2,
        description="EU co-financing rate in percent (0-100, at most 2 decimals).")
    intervention_type: CodeStr | None = Field(
        None, description="Intervention field code of Annex I to Regulation (EU) 2021/1060; "
        "see /reference/intervention_types.")

    _regions = field_validator("region_codes")(check_regions)

    @field_validator("co_financing_rate")
    @classmethod
    def _rate(cls, v):
        # Stored as NUMERIC(5, 2): the same two places in every answer (12.5 -> 12.50).
        return None if v is None else v.quantize(Decimal("0.01"))

    @field_validator("intervention_type")
    @classmethod
    def _it(cls, v):
        if v is not None:
            check_codes("intervention_types", [v])
        return v

    @field_validator("target_groups")
    @classmethod
    def _tg(cls, v):
        return check_codes("target_groups", v)

    @field_validator("sub_themes")
    @classmethod
    def _st(cls, v):
        return check_codes("sub_themes", v)

    @field_validator("budget")
    @classmethod
    def _one_line_per_source(cls, v):
        if v is not None and len({b.source for b in v}) != len(v):
            raise ValueError("one budget line per source")
        return v

    @model_validator(mode="after")
    def _consistent(self):
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        if self.partners:
            ids = [p.organisation_id for p in self.partners]
            if len(set(ids)) != len(ids):
                raise ValueError("partners: an organisation is listed twice")
            if self.organisation_id and self.organisation_id in ids:
                raise ValueError("partners: the lead implementer (organisation_id) cannot also be "
                                 "a partner")
        return self


class ProjectCreate(_Record):
    """Properties to receive when a project is created."""

    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9:/._-]+$")
    name: LocalizedName
    status: ProjectStatus = "planned"
    kind: ProjectKind = Field("development", description="development, pilot (kokeilu tai "
                              "pilotti) or coordination (koordinaatiohanke).")


class ProjectUpdate(_Record):
    """Properties that may change; all optional, unknown ones refused. Lists replace whole."""

    name: LocalizedName | None = None
    status: ProjectStatus | None = None
    kind: ProjectKind | None = None
    status_date: IsoDate | None = Field(None, description="When the status changed (default today).")
    status_reason: str | None = Field(None, max_length=limits.NOTE)


class FunderPeriod(BaseModel):
    organisation_id: str
    valid_from: dt.date | None
    valid_to: dt.date | None


class PersonRead(Person):
    id: str


class EvaluationRead(Evaluation):
    id: str


class ProjectRead(BaseModel):
    """A project; contact_persons and steering_group appear only for those allowed to see them."""

    id: str
    code: str
    name: LocalizedText
    status: ProjectStatus
    kind: ProjectKind = "development"
    status_date: dt.date | None = None
    status_reason: str | None = None
    start_date: dt.date | None
    end_date: dt.date | None
    organisation_id: str | None
    funder_id: str | None
    region_codes: list[str]
    case_numbers: list[str] = []
    appointing_body: str | None = None
    set_up_date: dt.date | None = None
    goals: LocalizedText | None = None
    starting_points: LocalizedText | None = None
    further_info: LocalizedText | None = None
    theme_id: str | None = None
    programme_id: str | None = None
    call_id: str | None = None
    target_groups: list[str] = []
    sub_themes: list[str] = []
    partners: list[Partner] = []
    budget: list[BudgetLine] = []
    budget_total: Decimal | None = None
    funders: list[FunderPeriod] = []
    evaluations: list[EvaluationRead] = []
    contact_persons: list[PersonRead] | None = None
    steering_group: list[PersonRead] | None = None
    published: bool = False
    archived: bool = False
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    co_financing_rate: Decimal | None = None
    intervention_type: str | None = None
    labels: dict[str, str | list[str] | None] | None = Field(
        None, description="Labels of the record's codes in the language asked for (`lang`): "
        "status, kind, region_codes, target_groups, sub_themes, intervention_type, "
        "specific_objective.")


class ProjectSummary(BaseModel):
    """A project in a list."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    code: str
    name: LocalizedText
    status: ProjectStatus
    kind: ProjectKind = "development"
    start_date: dt.date | None
    end_date: dt.date | None
    organisation_id: str | None
    funder_id: str | None
    region_codes: list[str]
    theme_id: str | None = None
    programme_id: str | None = None
    call_id: str | None = None
    target_groups: list[str] = []
    sub_themes: list[str] = []
    budget_total: Decimal | None = None
    published: bool = False
    archived: bool = False
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    rank: float | None = None


class FacetValue(BaseModel):
    value: str | None
    count: int
    label: str | None = None


class ProjectPage(BaseModel):
    items: list[ProjectSummary]
    total: int
    next_cursor: str | None = None
    facets: dict[str, list[FacetValue]] | None = None


class StatusChange(_In):
    status: ProjectStatus
    date: IsoDate | None = None
    reason: str | None = Field(None, max_length=limits.NOTE)
