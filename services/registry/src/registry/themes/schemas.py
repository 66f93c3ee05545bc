"""Request and response bodies of a theme's contact persons."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from shared.types import StrictInput

PersonRole = Literal["intermediate_body", "coordination_project", "ministry"]
Ministry = Literal["TEM", "STM", "OKM"]


class ThemePersonIn(StrictInput):
    """A contact person of the intermediate body or the coordination project, or a ministry's
    responsible person (`ministry` required then). Personal data: national roles only."""

    model_config = ConfigDict(extra="forbid")
    role: PersonRole
    ministry: Ministry | None = Field(None, description="Required when role is ministry.")
    name: str = Field(min_length=1, max_length=200)
    title: str | None = Field(None, max_length=200)
    organisation: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(None, max_length=40, pattern=r"^[+0-9 ()-]{3,40}$")

    @model_validator(mode="after")
    def _ministry(self):
        if self.role == "ministry" and self.ministry is None:
            raise ValueError("ministry: required when role is ministry (TEM, STM or OKM)")
        if self.role != "ministry" and self.ministry is not None:
            raise ValueError("ministry: only for role ministry")
        return self


class ThemePersonRead(ThemePersonIn):
    id: str
