"""The data of the events comms emits, built in one place."""

from __future__ import annotations

from typing import Any

from comms.models import ContentItem
from shared.contracts import comms as contracts


def content_published(item: ContentItem) -> dict[str, Any]:
    return contracts.ContentPublishedV1(
        id=item.id, kind=item.kind, title=item.title, published_at=item.published_at,
        project_ids=item.project_ids, practice_ids=item.practice_ids,
        indicator_codes=item.indicator_codes, themes=item.themes, regions=item.regions,
        languages=sorted(item.title), channels=item.channels,
    ).model_dump(mode="json")
