"""Request bodies of the overlap routes."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from shared.types import StrictInput


class RebuildIn(StrictInput):
    """What to rebuild. A body is required (`{}` for a full build), so a stray or garbled body
    is refused instead of starting a rebuild."""

    model_config = ConfigDict(extra="forbid")
    incremental: bool = Field(False, description="Only the pairs of projects changed since the "
                                                 "last build, as the background task does.")
