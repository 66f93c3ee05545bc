"""Moved to registry.changes.history; kept so registry/projects and workplaces (being restructured
on another branch) keep importing `registry.audit` until they follow."""

from registry.changes.history import (  # noqa: F401
    CHANGE_LOCK_KEY,
    diff,
    jsonable,
    lock_feed,
    record,
    record_many,
)
