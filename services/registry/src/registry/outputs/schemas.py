"""Request bodies and responses of project outputs and lessons. Every string and list is bounded; kinds,
audiences and topics are the contract's codes, languages ISO 639-1."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.contracts.coordination import LessonAudience, LessonKind, LessonTopic, OutputKind
from shared.contracts.registry import LocalizedDescription, LocalizedName, LocalizedText
from shared.types import IsoDate, StrictInput

URL_MAX = 2000
# http or https, a host, no spaces: javascript:, data:, ftp: and relative links are refused.
URL_PATTERN = r"^https?://[^\s/?#@]+(?:[/?#]\S*)?$"

# ISO 639-1 (two-letter language codes).
ISO_639_1 = frozenset("""
aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de
dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia
id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo
lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl
ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk
tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
""".split())



def _language_field(*default: None):
    return Field(*default, min_length=2, max_length=2, pattern=r"^[a-z]{2}$",
                 description="ISO 639-1 code of the output's language: fi, sv, en or another.")


def _url_field(*default: None):
    return Field(*default, max_length=URL_MAX, pattern=URL_PATTERN, description="An http(s) link.")


def _iso_639_1(value: str | None) -> str | None:
    if value is not None and value not in ISO_639_1:
        raise ValueError(f"{value!r} is not an ISO 639-1 language code")
    return value


class OutputIn(StrictInput):
    """A new output of a project."""

    model_config = ConfigDict(extra="forbid")
    kind: OutputKind
    title: LocalizedName
    language: str = _language_field()
    url: str = _url_field()
    date: IsoDate = Field(description="When it was published or held.")
    description: LocalizedDescription | None = None

    _language = field_validator("language")(_iso_639_1)


class OutputPatch(StrictInput):
    """The fields to change (only those sent); `description` may be set to null."""

    model_config = ConfigDict(extra="forbid")
    kind: OutputKind | None = None
    title: LocalizedName | None = None
    language: str | None = _language_field(None)
    url: str | None = _url_field(None)
    date: IsoDate | None = None
    description: LocalizedDescription | None = None

    _language = field_validator("language")(_iso_639_1)


class LessonIn(StrictInput):
    """A new lesson learned or recommendation of a project."""

    model_config = ConfigDict(extra="forbid")
    kind: LessonKind
    text: LocalizedDescription
    audience: LessonAudience
    topic: LessonTopic | None = None


class LessonPatch(StrictInput):
    """The fields to change (only those sent); `topic` may be set to null."""

    model_config = ConfigDict(extra="forbid")
    kind: LessonKind | None = None
    text: LocalizedDescription | None = None
    audience: LessonAudience | None = None
    topic: LessonTopic | None = None


# ---- responses ----

class OutputRead(BaseModel):
    """An output of a project."""

    id: str
    project_id: str
    kind: OutputKind
    title: LocalizedText
    language: str
    url: str
    date: dt.date
    description: LocalizedText | None = None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class OutputListed(OutputRead):
    """An output in a list, with its project's code and name."""

    project_code: str
    project_name: LocalizedText


class LessonRead(BaseModel):
    """A lesson learned or recommendation of a project."""

    id: str
    project_id: str
    kind: LessonKind
    text: LocalizedText
    audience: LessonAudience
    topic: LessonTopic | None = None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class LessonListed(LessonRead):
    """A lesson in a list, with its project's code and name."""

    project_code: str
    project_name: LocalizedText
