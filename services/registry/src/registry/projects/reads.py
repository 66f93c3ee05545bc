"""GET /projects/{id} from one statement: each process keeps projects' rendered records.

A read used to be a transaction of three or four statements (the project through the ORM, its
child lists, its theme, then COMMIT) and building the JSON: most of its CPU. Now a process
keeps, for each project it has read lately, the record as rendered at one version, without
personal data. A read runs one statement outside any transaction (shared.db.
read_one_statement): the project's version and last change, its theme's specific objective
and, for those who may see them, its persons (persons are never kept). If the version and last
change match what is kept, the answer comes from memory; if not (or nothing is kept), the
record is read as before, in a transaction, and kept.

Why this is exact: every write that changes what a record renders bumps the project's version
in the same transaction (updates, status, archive, imports, a successor organisation, erasing
a person), and only committed data is ever kept: records are kept by reads, never by writes,
and a record read in a transaction is kept only if the version is still the same after its
child lists were read (on PostgreSQL each statement of a transaction may see a newer commit).
The last change's time is part of the check too, so a version number reused after a failover
lost commits cannot match. Every replica checks against the database, so a write through
another replica is seen at once. tests/registry/test_read_cache.py drives writes of every kind
against reads through two registry replicas.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from fastapi import Request
from fastapi.responses import ORJSONResponse, Response

from registry import access
from registry.models import Project
from registry.projects import repository
from registry.projects.service import ProjectWrite, etag, etag_matches
from registry.projects.service import project as project_service
from shared.identity import Identity

# Project columns a rendered record, its labels and the access rules read (not search_*).
_COLUMNS = tuple(c.key for c in Project.__table__.columns if not c.key.startswith("search_"))


@dataclass
class Kept:
    version: int
    changed: str  # the last change's time, as the database renders it (the check)
    project: SimpleNamespace  # the columns, for access rules, labels and the ETag
    funders: frozenset[str]  # every dated funder: who may see private parts
    public: dict[str, Any]  # the record as rendered for those who may not see persons
    labels: dict[tuple[str, str | None], dict[str, Any]] = field(default_factory=dict)


class ReadCache:
    """At most `size` records (the oldest kept goes first); none with personal data."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[str, Kept] = OrderedDict()

    def get(self, project_id: str) -> Kept | None:
        return self._kept.get(project_id)

    def keep(self, project_id: str, kept: Kept) -> None:
        if self.size <= 0:
            return
        self._kept.pop(project_id, None)
        self._kept[project_id] = kept
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)


cache = ReadCache(2000)


async def read(request: Request, project_id: str, identity: Identity,
               if_none_match: str | None, lang: str) -> Response:
    kept = cache.get(project_id)
    if kept is None:
        return await _read_and_keep(request, project_id, identity, if_none_match, lang)
    private = access.project_private(identity, kept.project, kept.funders)
    top, people = await repository.head(None, project_id, persons=private,
                                        engine=request.state.sessionmaker.kw["bind"])
    if top is None:
        raise access.hide("project", project_id)
    version, changed, objective = top
    if kept.version != version or kept.changed != changed:
        return await _read_and_keep(request, project_id, identity, if_none_match, lang)
    p = kept.project
    if not (access.project_open(identity, p) or access.project_visible(identity, p, kept.funders)):
        raise access.hide("project", project_id)
    tag = etag(p)
    if etag_matches(if_none_match, tag):
        return Response(status_code=304, headers={"ETag": tag})
    if private:  # persons go where to_json puts them: after the evaluations
        data = {}
        for key, value in kept.public.items():
            data[key] = value
            if key == "evaluations":
                data["contact_persons"] = [_shown(x) for x in people if x["kind"] == "contact"]
                data["steering_group"] = [_shown(x) for x in people if x["kind"] != "contact"]
    else:
        data = dict(kept.public)
    labels = kept.labels.get((lang, objective))
    if labels is None:
        labels = kept.labels[(lang, objective)] = project_service.labels(p, lang, objective)
    data["labels"] = labels
    return ORJSONResponse(data, headers={"ETag": tag})


def _shown(person: dict[str, Any]) -> dict[str, Any]:
    return {k: person[k] for k in ("name", "email", "phone", "organisation", "title", "id")}


async def _read_and_keep(request: Request, project_id: str, identity: Identity,
                         if_none_match: str | None, lang: str) -> Response:
    """The read in a transaction (as before this cache), keeping what it rendered."""
    async with request.state.sessionmaker() as session:
        p = await project_service.get(session, project_id, identity)
        tag = etag(p)
        if etag_matches(if_none_match, tag):
            await session.commit()
            return Response(status_code=304, headers={"ETag": tag})
        # Persons are read for those who may see them (funders decide that with the funders
        # read here), and always when the record is to be kept (its public part without them).
        kids = await project_service.children(session, p.id, persons=cache.size > 0 or (
            access.project_private(identity, p) or identity.has_role("funder")))
        if cache.size <= 0:  # nothing is kept: the read as it was before the cache
            objective = await repository.specific_objective(session, p.theme_id)
            top = None
        else:
            top, _ = await repository.head(session, project_id, persons=False)
            objective = top[2] if top else None
        if top is not None and top[0] == p.version:
            # Unchanged since the project row was read: the child lists belong to this version.
            snapshot = SimpleNamespace(**{c: getattr(p, c) for c in _COLUMNS})
            cache.keep(project_id, Kept(
                version=p.version, changed=top[1], project=snapshot,
                funders=frozenset(f["organisation_id"] for f in kids["funders"]),
                public=project_service.to_json(snapshot, kids, private=False)))
        await session.commit()
    return project_response(identity, ProjectWrite(p, kids), lang=lang, objective=objective)


def project_response(identity: Identity, written: ProjectWrite, code: int = 200,
                     headers: dict[str, str] | None = None, lang: str = "fi",
                     objective: str | None = None) -> Response:
    """The record as JSON (persons for those who may see them), labelled in `lang`: what a read
    not answered from a kept record, and every write, answers."""
    p, kids = written.project, written.children
    private = access.project_private(identity, p, {f["organisation_id"] for f in kids["funders"]})
    data = project_service.to_json(p, kids, private)
    data["labels"] = project_service.labels(p, lang, objective)
    return ORJSONResponse(data, status_code=code, headers={"ETag": etag(p), **(headers or {})})
