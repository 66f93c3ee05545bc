"""Registry events of the theme's coordination (issue 14): outputs and lessons, steering groups,
service needs, theme evaluations and follow-ups. They go on the registry's stream
(`fi.teke.registry.*` types); `registry.EVENTS` includes `EVENTS` below."""

from __future__ import annotations

from pydantic import BaseModel

# ---- Project outputs and lessons learned ----

# ---- The coordination project's work: steering groups and service needs ----

# ---- Theme evaluations, recommendations and continuation ----

EVENTS: dict[str, type[BaseModel]] = {
    # ---- outputs and lessons ----

    # ---- steering groups and service needs ----

    # ---- evaluations and continuation ----

}
