"""Project rules: who may create and change what, versioning, history, feed and events."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from registry import access, reference
from registry.changes import history as audit
from registry.events.projects import project_state
from registry.models import Project, ProjectFunder
from registry.projects import repository, search
from registry.projects.repository import SCALARS, specific_objective
from registry.projects.schemas import ProjectCreate, ProjectUpdate
from shared.contracts import registry as contracts
from shared.db import new_id, utcnow
from shared.errors import Conflict, Forbidden, PreconditionFailed, Unprocessable
from shared.identity import Identity
from shared.uow import UnitOfWork

ALLOWED_STATUS = {
    "planned": {"active", "cancelled"},
    "active": {"ended", "cancelled"},
    "ended": set(),
    "cancelled": set(),
}
CHILD_LISTS = ("partners", "budget", "contact_persons", "steering_group", "evaluations")


def etag(p: Any) -> str:
    return f'"{p.id}:{p.version}"'


def etag_matches(header: str | None, tag: str) -> bool:
    if header is None:
        return False
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    return "*" in candidates or tag in candidates


def _field_error(field: str, message: str, type_: str = "value_error") -> Unprocessable:
    return Unprocessable(message, errors=[{"field": field, "type": type_, "message": message}])


async def check_references(session: AsyncSession, data: dict[str, Any],
                           identity: Identity | None = None) -> None:
    """Referenced themes, programmes, calls and organisations (lead, funder, partners) must exist.

    The caller's own organisation (from its token) is vouched for by the identity provider and
    may be used before the registry holds a record of it."""
    for key, model in repository.REFERENCES:
        if data.get(key) and not await repository.reference_exists(session, model, data[key]):
            raise _field_error(f"body/{key}", f"no {model.__tablename__} {data[key]}", "unknown_id")
    own = identity.org if identity is not None else None
    wanted = [(f"body/{key}", data[key]) for key in ("organisation_id", "funder_id")
              if data.get(key) and not (key == "organisation_id" and data[key] == own)]
    wanted += [(f"body/partners/{i}/organisation_id", p["organisation_id"])
               for i, p in enumerate(data.get("partners") or [])]
    if not wanted:
        return
    found = await repository.organisations_found(session, {oid for _, oid in wanted})
    errors = [{"field": f, "type": "unknown_id", "message": f"no organisation {oid}"}
              for f, oid in wanted if oid not in found]
    if errors:
        raise Unprocessable(errors[0]["message"], errors=errors)


@dataclass
class ProjectWrite:
    """What a write gives back: the project, and its child lists when the write has them at
    hand (the response reuses them; None: the response reads them)."""

    project: Project
    children: dict[str, Any] | None = None


async def change_funder(session: AsyncSession, project: Project, funder_id: str | None,
                        since: dt.date) -> None:
    """The one rule for a funder change (a PATCH, an import, an organisation's succession):
    close the open funder period the day before `since` (never before it began) and open a
    new one from `since` (the dated funder relation)."""
    for row in await repository.open_funder_periods(session, project.id):
        row.valid_to = max(since - dt.timedelta(days=1), row.valid_from or dt.date.min)
    if funder_id:
        session.add(ProjectFunder(project_id=project.id, organisation_id=funder_id, valid_from=since))
    project.funder_id = funder_id


class ProjectService:
    async def get(self, session: AsyncSession, project_id: str,
                  identity: Identity | None = None) -> Project:
        project = await repository.get(session, project_id)
        if project is None:
            raise access.hide("project", project_id)
        if identity is not None and not access.project_open(identity, project) \
                and not access.project_visible(identity, project,
                                               await self.past_funders(session, project.id)):
            raise access.hide("project", project_id)
        return project

    async def past_funders(self, session: AsyncSession, project_id: str) -> set[str]:
        return await repository.past_funders(session, project_id)

    async def children(self, session: AsyncSession, project_id: str,
                       persons: bool = True) -> dict[str, Any]:
        """The child lists (partners, budget, funders, evaluations, and persons if asked)."""
        return await repository.children(session, project_id, persons)

    def to_read(self, p: Project, kids: dict[str, Any], private: bool) -> dict[str, Any]:
        out = {c: getattr(p, c) for c in (*SCALARS, "id", "version", "created_at", "updated_at",
                                         "budget_total", "archived", "status_date", "status_reason")}
        out.update({k: kids[k] for k in ("partners", "budget", "funders", "evaluations")})
        if private:
            out["contact_persons"] = kids["contact_persons"]
            out["steering_group"] = kids["steering_group"]
        return out

    def to_json(self, p: Project, kids: dict[str, Any], private: bool) -> dict[str, Any]:
        """ProjectRead as JSON values, built directly: what `ProjectRead` validation and a JSON
        dump gave for the same record (tests/registry compare the two), at a fraction of the
        CPU, because everything here was validated on the way in."""
        d, t = _iso, _text
        out = {
            "id": p.id, "code": p.code, "name": t(p.name), "status": p.status,
            "kind": p.kind or "development",
            "status_date": d(p.status_date), "status_reason": p.status_reason,
            "start_date": d(p.start_date), "end_date": d(p.end_date),
            "organisation_id": p.organisation_id, "funder_id": p.funder_id,
            "region_codes": list(p.region_codes or []), "case_numbers": list(p.case_numbers or []),
            "appointing_body": p.appointing_body, "set_up_date": d(p.set_up_date),
            "goals": t(p.goals), "starting_points": t(p.starting_points),
            "further_info": t(p.further_info), "theme_id": p.theme_id,
            "programme_id": p.programme_id, "call_id": p.call_id,
            "target_groups": list(p.target_groups or []), "sub_themes": list(p.sub_themes or []),
            "partners": kids["partners"],
            "budget": [{"source": b["source"], "amount": _dec(b["amount"])} for b in kids["budget"]],
            "budget_total": _dec(p.budget_total),
            "funders": [{"organisation_id": f["organisation_id"], "valid_from": d(f["valid_from"]),
                         "valid_to": d(f["valid_to"])} for f in kids["funders"]],
            "evaluations": [{"kind": e["kind"], "date": d(e["date"]), "evaluator": e["evaluator"],
                             "findings": e["findings"], "link": e["link"], "id": e["id"]}
                            for e in kids["evaluations"]],
        }
        if private:
            for key in ("contact_persons", "steering_group"):
                out[key] = [{"name": x["name"], "email": x["email"], "phone": x["phone"],
                             "organisation": x["organisation"], "title": x["title"], "id": x["id"]}
                            for x in kids[key]]
        out.update(published=bool(p.published), archived=bool(p.archived), version=p.version,
                   created_at=_iso_dt(p.created_at), updated_at=_iso_dt(p.updated_at),
                   co_financing_rate=_dec(p.co_financing_rate),
                   intervention_type=p.intervention_type)
        return out

    def labels(self, p: Project, lang: str, objective: str | None) -> dict[str, Any]:
        """The record's codes labelled in `lang` (the JSON read's `labels`; codes stay as they are)."""
        def one(name: str, code: str | None) -> str | None:
            return reference.label(name, code, lang) if code else None

        return {"status": one("statuses", p.status),
                "kind": one("project_kinds", p.kind or "development"),
                "region_codes": [reference.label("regions", c, lang) for c in p.region_codes or []],
                "target_groups": [reference.label("target_groups", c, lang)
                                  for c in p.target_groups or []],
                "sub_themes": [reference.label("sub_themes", c, lang) for c in p.sub_themes or []],
                "intervention_type": one("intervention_types", p.intervention_type),
                "specific_objective": one("specific_objectives", objective)}

    def snapshot(self, p: Project, kids: dict[str, Any]) -> dict[str, Any]:
        """What history keeps: everything but personal data (only how many people are listed)."""
        snap = {c: getattr(p, c) for c in (*SCALARS, "budget_total", "archived", "status_date",
                                          "status_reason")}
        snap.update({k: kids[k] for k in ("partners", "budget", "funders")})
        snap["evaluations"] = [{k: v for k, v in e.items() if k != "id"} for e in kids["evaluations"]]
        snap["contact_persons"] = len(kids["contact_persons"])
        snap["steering_group"] = len(kids["steering_group"])
        return snap

    async def set_funder(self, session: AsyncSession, project: Project, funder_id: str | None,
                         since: dt.date | None) -> None:
        """A funder set through the API: from `since`, else the project's start, else today."""
        await change_funder(session, project, funder_id, since or project.start_date or dt.date.today())

    async def create(self, uow: UnitOfWork, identity: Identity,
                     data: ProjectCreate) -> ProjectWrite:
        session = uow.session
        if not identity.has_role("admin", "coordinator", "implementer"):
            raise Forbidden("only implementers, coordinators and admins add projects")
        if not identity.is_national:
            if data.organisation_id is None:
                data = data.model_copy(update={"organisation_id": identity.org})
            if data.organisation_id != identity.org:
                raise Forbidden("an implementer adds projects only for its own organisation")
        raw = data.model_dump(mode="python", exclude_none=True)
        await check_references(session, raw, identity)
        # The funder goes into the project row at once (not set after the INSERT: that was an
        # UPDATE), and its first dated period below (a new project has no open one to close).
        fields = {k: v for k, v in raw.items() if k in SCALARS}
        for key in ("region_codes", "case_numbers", "target_groups", "sub_themes"):
            fields.setdefault(key, [])
        fields["published"] = bool(data.published)
        fields.update(search.search_texts(fields))
        if raw.get("budget"):
            fields["budget_total"] = sum((Decimal(x["amount"]) for x in raw["budget"]), Decimal("0.00"))
        project = Project(**fields, created_by=identity.sub, status_date=dt.date.today(), version=1,
                          archived=False)
        project.id = new_id()
        session.add(project)
        try:  # a taken code: the unique index says so (no SELECT first: one statement less)
            await session.flush()
        except IntegrityError:
            raise Conflict(f"a project with code {data.code} exists") from None
        if data.funder_id:
            await repository.insert_funder_period(
                session, project.id, data.funder_id,
                data.funder_since or project.start_date or dt.date.today())
        await repository.write_children(session, project, raw, fresh=True)
        kids = await self.children(session, project.id) if any(raw.get(k) for k in CHILD_LISTS) \
            else {k: [] for k in (*CHILD_LISTS, "funders")}
        if data.funder_id and not kids["funders"]:
            kids["funders"] = [{"organisation_id": data.funder_id, "valid_from": data.funder_since
                                or project.start_date or dt.date.today(), "valid_to": None}]
        state = project_state(project, [x["organisation_id"] for x in kids["partners"]],
                            await specific_objective(session, project.theme_id))
        await audit.record(session, entity_type="project", entity_id=project.id, action="create",
                           version=1, actor=identity.sub, before=None,
                           after=self.snapshot(project, kids), feed_state=state,
                           published=project.published, organisation_id=project.organisation_id,
                           funder_id=project.funder_id)
        await uow.emit(contracts.PROJECT_CREATED, project.id, state)
        return ProjectWrite(project, kids)  # the response reuses the child lists

    async def update(self, uow: UnitOfWork, identity: Identity, project: Project,
                     data: ProjectUpdate, if_match: str | None) -> ProjectWrite:
        session = uow.session
        if not access.may_edit_project(identity, project):
            raise Forbidden("you may not change this project")
        if project.archived:
            raise Conflict("the project is archived")
        if if_match is not None and not etag_matches(if_match, etag(project)):
            raise PreconditionFailed("the project has changed since you read it; read it again")
        changes = data.model_dump(exclude_unset=True, mode="python")
        status_date = changes.pop("status_date", None)
        status_reason = changes.pop("status_reason", None)
        funder_since = changes.pop("funder_since", None)
        if "organisation_id" in changes and not identity.is_national \
                and changes["organisation_id"] != project.organisation_id:
            raise Forbidden("only coordinators and admins move a project to another organisation")
        new_status = changes.get("status")
        if new_status is not None and new_status != project.status \
                and new_status not in ALLOWED_STATUS[project.status]:
            raise Unprocessable(
                f"status cannot move from {project.status} to {new_status}",
                errors=[{"field": "body/status", "type": "transition",
                         "message": f"allowed from {project.status}: "
                                    f"{sorted(ALLOWED_STATUS[project.status]) or 'none'}"}])
        start = changes.get("start_date", project.start_date)
        end = changes.get("end_date", project.end_date)
        if start and end and end < start:
            raise _field_error("body/end_date", "end_date is before start_date", "date_order")
        if "partners" in changes and changes["partners"] is not None:
            lead = changes.get("organisation_id", project.organisation_id)
            if lead in {x["organisation_id"] for x in changes["partners"]}:
                raise _field_error("body/partners", "the lead implementer cannot also be a partner",
                                   "partner_is_lead")
        elif "organisation_id" in changes:
            partner_ids = set(await repository.partner_ids(session, project.id))
            if changes["organisation_id"] in partner_ids:
                raise _field_error("body/organisation_id", "this organisation is already a partner; "
                                   "remove it from partners first", "partner_is_lead")
        await check_references(session, changes, identity)
        if changes.get("kind") not in (None, "coordination") and project.kind == "coordination":
            named_by = await repository.themes_coordinated_by(session, project.id)
            if named_by:
                raise _field_error("body/kind", f"the themes {named_by} name this project as "
                                   "their coordination project", "coordination_project")
        before_kids = await self.children(session, project.id)
        before = self.snapshot(project, before_kids)
        old_status = project.status
        for key in SCALARS:
            if key in changes and key != "funder_id":
                value = changes[key]
                if value is None and key in ("name", "status", "published", "kind"):
                    continue
                if value is None and key in ("region_codes", "case_numbers", "target_groups",
                                             "sub_themes"):
                    value = []
                setattr(project, key, value)
        if "funder_id" in changes and changes["funder_id"] != project.funder_id:
            await self.set_funder(session, project, changes["funder_id"], funder_since)
        status_changed = project.status != old_status
        if status_changed:
            project.status_date = status_date or dt.date.today()
            project.status_reason = status_reason
        await repository.write_children(session, project, changes)
        await session.flush()
        kids = await self.children(session, project.id)
        after = self.snapshot(project, kids)
        changed = [k for k in after if after[k] != before.get(k)]
        if not changed:
            return ProjectWrite(project)
        project.version += 1
        project.updated_at = utcnow()
        await session.flush()
        state = project_state(project, [x["organisation_id"] for x in kids["partners"]],
                            await specific_objective(session, project.theme_id))
        await audit.record(session, entity_type="project", entity_id=project.id, action="update",
                           version=project.version, actor=identity.sub, before=before, after=after,
                           feed_state=state, published=project.published,
                           organisation_id=project.organisation_id, funder_id=project.funder_id)
        await uow.emit(contracts.PROJECT_UPDATED, project.id, {**state, "changed_fields": changed})
        if status_changed:
            await uow.emit(contracts.PROJECT_STATUS_CHANGED, project.id, {
                "id": project.id, "version": project.version, "code": project.code,
                "from_status": old_status, "to_status": project.status,
                "date": project.status_date.isoformat(), "reason": project.status_reason})
        return ProjectWrite(project)

    async def archive(self, uow: UnitOfWork, identity: Identity, project: Project,
                      if_match: str | None) -> ProjectWrite:
        session = uow.session
        if not access.may_edit_project(identity, project) or identity.has_role("funder") \
                and not identity.is_national and project.organisation_id != identity.org:
            raise Forbidden("you may not archive this project")
        if if_match is not None and not etag_matches(if_match, etag(project)):
            raise PreconditionFailed("the project has changed since you read it; read it again")
        if project.archived:
            return ProjectWrite(project)
        project.archived = True
        project.version += 1
        project.updated_at = utcnow()
        await session.flush()
        await audit.record(session, entity_type="project", entity_id=project.id, action="archive",
                           version=project.version, actor=identity.sub, before={"archived": False},
                           after={"archived": True}, feed_state={"id": project.id, "archived": True},
                           published=project.published, organisation_id=project.organisation_id,
                           funder_id=project.funder_id)
        await uow.emit(contracts.PROJECT_ARCHIVED, project.id, {
            "id": project.id, "version": project.version, "code": project.code})
        return ProjectWrite(project)

    async def erase_person(self, session: AsyncSession, identity: Identity, project: Project,
                           person_id: str) -> None:
        """Erase one person's data on request (history never held it)."""
        if not access.may_edit_project(identity, project):
            raise Forbidden("you may not change this project")
        person = await repository.person(session, person_id)
        if person is None or person.project_id != project.id:
            raise access.hide("person", person_id)
        await session.delete(person)
        # The record reads differently now: a new version (a new ETag, and what keeps rendered
        # records, projects/reads.py, sees the change).
        project.version += 1
        project.updated_at = utcnow()
        await audit.record(session, entity_type="project", entity_id=project.id,
                           action="erase_person", version=project.version, actor=identity.sub,
                           before=None, after={"erased_person": person.kind}, feed=False)


def _iso(v: dt.date | None) -> str | None:
    return v.isoformat() if v is not None else None


def _iso_dt(v: dt.datetime) -> str:
    s = v.isoformat()
    return s[:-6] + "Z" if s.endswith("+00:00") else s  # as Pydantic writes UTC


def _dec(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


def _text(v: dict | None) -> dict | None:
    return None if v is None else {"fi": v.get("fi"), "sv": v.get("sv"), "en": v.get("en")}


project = ProjectService()
