"""Events the comms service produces (stream TEKE_COMMS, subjects teke.comms.>)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.registry import LocalizedText
from shared.events.consumer import StreamSpec

STREAM = StreamSpec(name="TEKE_COMMS", subjects=("teke.comms.>",))

CONTENT_PUBLISHED = "fi.teke.comms.content.published.v1"


class ContentPublishedV1(BaseModel):
    """A content item (news, announcement, newsletter, ...) was published."""

    model_config = ConfigDict(extra="allow")
    id: str
    kind: str
    title: LocalizedText
    published_at: dt.datetime
    project_ids: list[str] = Field(default_factory=list)
    practice_ids: list[str] = Field(default_factory=list)
    # Added by the comms service (optional, so older consumers are unaffected).
    indicator_codes: list[str] = Field(default_factory=list)
    themes: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)


EVENTS: dict[str, type[BaseModel]] = {CONTENT_PUBLISHED: ContentPublishedV1}
