"""Project rules: who may create and change what, versioning, history, feed and events."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, String, cast, delete, func, insert, literal, null, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from registry import access, audit
from registry.models import (
    Call,
    Money,
    Organisation,
    Programme,
    Project,
    ProjectBudget,
    ProjectEvaluation,
    ProjectFunder,
    ProjectPartner,
    ProjectPerson,
    ProjectTag,
    Theme,
)
from registry.projects import search
from registry.projects.schemas import ProjectCreate, ProjectUpdate
from shared.contracts import registry as contracts
from shared.db import new_id, utcnow
from shared.errors import Conflict, Forbidden, PreconditionFailed, Unprocessable
from shared.events.outbox import Outbox
from shared.identity import Identity

ALLOWED_STATUS = {
    "planned": {"active", "cancelled"},
    "active": {"ended", "cancelled"},
    "ended": set(),
    "cancelled": set(),
}
SCALARS = ("code", "name", "status", "start_date", "end_date", "organisation_id", "funder_id",
           "region_codes", "case_numbers", "appointing_body", "set_up_date", "goals",
           "starting_points", "further_info", "theme_id", "programme_id", "call_id",
           "target_groups", "sub_themes", "published")
CHILD_LISTS = ("partners", "budget", "contact_persons", "steering_group", "evaluations")
TAG_KINDS = {"region": "region_codes", "target_group": "target_groups", "sub_theme": "sub_themes"}


def etag(p: Any) -> str:
    return f'"{p.id}:{p.version}"'


def etag_matches(header: str | None, tag: str) -> bool:
    if header is None:
        return False
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    return "*" in candidates or tag in candidates


def event_state(p: Project, partner_ids: list[str] | None = None,
                specific_objective: str | None = None) -> dict[str, Any]:
    """The public state carried by project.created / project.updated (ProjectState)."""
    return {
        "id": p.id, "version": p.version, "code": p.code, "name": p.name, "status": p.status,
        "start_date": p.start_date.isoformat() if p.start_date else None,
        "end_date": p.end_date.isoformat() if p.end_date else None,
        "organisation_id": p.organisation_id, "funder_id": p.funder_id,
        "region_codes": list(p.region_codes or []),
        "theme_id": p.theme_id, "programme_id": p.programme_id, "call_id": p.call_id,
        "specific_objective": specific_objective,
        "partner_ids": sorted(partner_ids or []),
        "target_groups": list(p.target_groups or []), "sub_themes": list(p.sub_themes or []),
        "budget_total": str(p.budget_total) if p.budget_total is not None else None,
        "published": bool(p.published), "archived": bool(p.archived),
    }


async def specific_objective(session: AsyncSession, theme_id: str | None) -> str | None:
    """The ESF+ specific objective of a project's theme (the theme is usually in the session)."""
    if not theme_id:
        return None
    theme = await session.get(Theme, theme_id)
    return theme.specific_objective if theme is not None else None


def _field_error(field: str, message: str, type_: str = "value_error") -> Unprocessable:
    return Unprocessable(message, errors=[{"field": field, "type": type_, "message": message}])


async def check_references(session: AsyncSession, data: dict[str, Any],
                           identity: Identity | None = None) -> None:
    """Referenced themes, programmes, calls and organisations (lead, funder, partners) must exist.

    The caller's own organisation (from its token) is vouched for by the identity provider and
    may be used before the registry holds a record of it."""
    for key, model in (("theme_id", Theme), ("programme_id", Programme), ("call_id", Call)):
        if data.get(key) and await session.get(model, data[key]) is None:
            raise _field_error(f"body/{key}", f"no {model.__tablename__} {data[key]}", "unknown_id")
    own = identity.org if identity is not None else None
    wanted = [(f"body/{key}", data[key]) for key in ("organisation_id", "funder_id")
              if data.get(key) and not (key == "organisation_id" and data[key] == own)]
    wanted += [(f"body/partners/{i}/organisation_id", p["organisation_id"])
               for i, p in enumerate(data.get("partners") or [])]
    if not wanted:
        return
    found = set((await session.scalars(select(Organisation.id).where(
        Organisation.id.in_({oid for _, oid in wanted})))).all())
    errors = [{"field": f, "type": "unknown_id", "message": f"no organisation {oid}"}
              for f, oid in wanted if oid not in found]
    if errors:
        raise Unprocessable(errors[0]["message"], errors=errors)


class ProjectService:
    async def get(self, session: AsyncSession, project_id: str,
                  identity: Identity | None = None) -> Project:
        project = await session.get(Project, project_id)
        if project is None:
            raise access.hide("project", project_id)
        # Published and not archived is visible to all: no need to look up past funders.
        if identity is not None and not identity.is_national \
                and not (project.published and not project.archived) \
                and not access.project_visible(identity, project,
                                               await self.past_funders(session, project.id)):
            raise access.hide("project", project_id)
        return project

    async def past_funders(self, session: AsyncSession, project_id: str) -> set[str]:
        return set((await session.scalars(select(ProjectFunder.organisation_id)
                                          .where(ProjectFunder.project_id == project_id))).all())

    async def children(self, session: AsyncSession, project_id: str,
                       persons: bool = True) -> dict[str, Any]:
        """The child lists in one round trip: a UNION ALL of the child tables in a common shape
        (kind, position in that list's own order, text columns, one money, two dates)."""
        pid = project_id
        pt, bt, ft = ProjectPartner.__table__, ProjectBudget.__table__, ProjectFunder.__table__
        et, st = ProjectEvaluation.__table__, ProjectPerson.__table__
        # Typed NULLs: PostgreSQL resolves a bare NULL in the first branch as text.
        n_, d_, s_ = cast(null(), Money), cast(null(), Date), cast(null(), String)

        def part(kind: str, table, order, texts=(), money=n_, d1=d_, d2=d_):
            texts = [*texts, *[s_] * (7 - len(texts))]
            return select(literal(kind).label("kind"), func.row_number().over(order_by=order)
                          .label("pos"), *[t.label(f"s{i}") for i, t in enumerate(texts)],
                          money.label("n"), d1.label("d1"), d2.label("d2")) \
                .where(table.c.project_id == pid)

        parts = [part("budget", bt, bt.c.source, [bt.c.source], money=bt.c.amount),
                 part("partner", pt, pt.c.organisation_id, [pt.c.organisation_id, pt.c.role]),
                 part("funder", ft, ft.c.valid_from, [ft.c.organisation_id], d1=ft.c.valid_from,
                      d2=ft.c.valid_to),
                 part("evaluation", et, et.c.date, [et.c.id, et.c.kind, et.c.evaluator,
                                                    et.c.findings, et.c.link], d1=et.c.date)]
        if persons:
            parts.append(part("person", st, st.c.name, [st.c.id, st.c.kind, st.c.name, st.c.email,
                                                        st.c.phone, st.c.organisation, st.c.title]))
        u = union_all(*parts).subquery()
        rows = (await session.execute(select(u).order_by(u.c.kind, u.c.pos))).all()
        out: dict[str, Any] = {"partners": [], "budget": [], "funders": [], "evaluations": [],
                               "contact_persons": [], "steering_group": []}
        for r in rows:
            if r.kind == "partner":
                out["partners"].append({"organisation_id": r.s0, "role": r.s1})
            elif r.kind == "budget":
                out["budget"].append({"source": r.s0, "amount": r.n})
            elif r.kind == "funder":
                out["funders"].append({"organisation_id": r.s0, "valid_from": r.d1,
                                       "valid_to": r.d2})
            elif r.kind == "evaluation":
                out["evaluations"].append({"id": r.s0, "kind": r.s1, "date": r.d1,
                                           "evaluator": r.s2, "findings": r.s3, "link": r.s4})
            elif r.kind == "person":
                key = "contact_persons" if r.s1 == "contact" else "steering_group"
                out[key].append({"id": r.s0, "name": r.s2, "email": r.s3, "phone": r.s4,
                                 "organisation": r.s5, "title": r.s6})
        return out

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
                   created_at=_iso_dt(p.created_at), updated_at=_iso_dt(p.updated_at))
        return out

    def snapshot(self, p: Project, kids: dict[str, Any]) -> dict[str, Any]:
        """What history keeps: everything but personal data (only how many people are listed)."""
        snap = {c: getattr(p, c) for c in (*SCALARS, "budget_total", "archived", "status_date",
                                          "status_reason")}
        snap.update({k: kids[k] for k in ("partners", "budget", "funders")})
        snap["evaluations"] = [{k: v for k, v in e.items() if k != "id"} for e in kids["evaluations"]]
        snap["contact_persons"] = len(kids["contact_persons"])
        snap["steering_group"] = len(kids["steering_group"])
        return snap

    async def write_children(self, session: AsyncSession, project: Project,
                             data: dict[str, Any], fresh: bool = False) -> None:
        """Replace each child list present in `data`; keep the filter tags in step."""
        pid = project.id
        if fresh:  # a new project has no rows to replace: inserts only
            await self._insert_children(session, project, data)
            return
        if "partners" in data and data["partners"] is not None:
            await session.execute(delete(ProjectPartner).where(ProjectPartner.project_id == pid))
            if data["partners"]:
                await session.execute(insert(ProjectPartner), [
                    {"project_id": pid, **x} for x in data["partners"]])
        if "budget" in data and data["budget"] is not None:
            await session.execute(delete(ProjectBudget).where(ProjectBudget.project_id == pid))
            if data["budget"]:
                await session.execute(insert(ProjectBudget), [
                    {"project_id": pid, **x} for x in data["budget"]])
            project.budget_total = sum((Decimal(x["amount"]) for x in data["budget"]),
                                       Decimal("0.00")) if data["budget"] else None
        for key, kind in (("contact_persons", "contact"), ("steering_group", "steering_group")):
            if key in data and data[key] is not None:
                await session.execute(delete(ProjectPerson).where(
                    ProjectPerson.project_id == pid, ProjectPerson.kind == kind))
                if data[key]:
                    await session.execute(insert(ProjectPerson), [
                        {"id": new_id(), "project_id": pid, "kind": kind, **x} for x in data[key]])
        if "evaluations" in data and data["evaluations"] is not None:
            await session.execute(delete(ProjectEvaluation).where(ProjectEvaluation.project_id == pid))
            if data["evaluations"]:
                await session.execute(insert(ProjectEvaluation), [
                    {"id": new_id(), "project_id": pid, **x} for x in data["evaluations"]])
        await session.execute(delete(ProjectTag).where(ProjectTag.project_id == pid))
        partner_ids = [x["organisation_id"] for x in data["partners"]] \
            if data.get("partners") is not None else list(await session.scalars(
                select(ProjectPartner.organisation_id).where(ProjectPartner.project_id == pid)))
        tags = tag_rows(project, partner_ids)
        if tags:
            await session.execute(insert(ProjectTag), tags)
        row = {"id": pid, **search.search_texts({c: getattr(project, c) for c in SCALARS})}
        for k in ("search_fi", "search_sv", "search_en"):
            setattr(project, k, row[k])
        await search.sqlite_sync(session, [row])

    async def _insert_children(self, session: AsyncSession, project: Project,
                               data: dict[str, Any]) -> None:
        pid = project.id
        for key, model in (("partners", ProjectPartner), ("budget", ProjectBudget)):
            if data.get(key):
                await session.execute(insert(model), [{"project_id": pid, **x} for x in data[key]])
        if data.get("budget"):
            project.budget_total = sum((Decimal(x["amount"]) for x in data["budget"]), Decimal("0.00"))
        people = [{"id": new_id(), "project_id": pid, "kind": kind, **x}
                  for key, kind in (("contact_persons", "contact"), ("steering_group", "steering_group"))
                  for x in data.get(key) or []]
        if people:
            await session.execute(insert(ProjectPerson), people)
        if data.get("evaluations"):
            await session.execute(insert(ProjectEvaluation), [
                {"id": new_id(), "project_id": pid, **x} for x in data["evaluations"]])
        tags = tag_rows(project, [x["organisation_id"] for x in data.get("partners") or []])
        if tags:
            await session.execute(insert(ProjectTag), tags)
        await search.sqlite_sync(session, [{"id": pid, "search_fi": project.search_fi,
                                            "search_sv": project.search_sv,
                                            "search_en": project.search_en}], fresh=True)

    async def set_funder(self, session: AsyncSession, project: Project, funder_id: str | None,
                         since: dt.date | None) -> None:
        """Close the open funder period and open a new one (the dated funder relation)."""
        since = since or project.start_date or dt.date.today()
        open_rows = (await session.scalars(select(ProjectFunder).where(
            ProjectFunder.project_id == project.id, ProjectFunder.valid_to.is_(None)))).all()
        for row in open_rows:
            row.valid_to = max(since - dt.timedelta(days=1), row.valid_from or dt.date.min)
        if funder_id:
            session.add(ProjectFunder(project_id=project.id, organisation_id=funder_id,
                                      valid_from=since))
        project.funder_id = funder_id

    async def create(self, session: AsyncSession, outbox: Outbox, identity: Identity,
                     data: ProjectCreate) -> Project:
        if not identity.has_role("admin", "coordinator", "implementer"):
            raise Forbidden("only implementers, coordinators and admins add projects")
        if not identity.is_national:
            if data.organisation_id is None:
                data = data.model_copy(update={"organisation_id": identity.org})
            if data.organisation_id != identity.org:
                raise Forbidden("an implementer adds projects only for its own organisation")
        if await session.scalar(select(Project.id).where(Project.code == data.code)):
            raise Conflict(f"a project with code {data.code} exists")
        raw = data.model_dump(mode="python", exclude_none=True)
        await check_references(session, raw, identity)
        fields = {k: v for k, v in raw.items() if k in SCALARS and k != "funder_id"}
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
        try:
            await session.flush()
        except IntegrityError:
            raise Conflict(f"a project with code {data.code} exists") from None
        if data.funder_id:
            await self.set_funder(session, project, data.funder_id, data.funder_since)
        await self.write_children(session, project, raw, fresh=True)
        kids = await self.children(session, project.id) if any(raw.get(k) for k in CHILD_LISTS) \
            else {k: [] for k in (*CHILD_LISTS, "funders")}
        if data.funder_id and not kids["funders"]:
            kids["funders"] = [{"organisation_id": data.funder_id, "valid_from": data.funder_since
                                or project.start_date or dt.date.today(), "valid_to": None}]
        project.__dict__["_kids"] = kids  # the response reuses them
        state = event_state(project, [x["organisation_id"] for x in kids["partners"]],
                            await specific_objective(session, project.theme_id))
        await audit.record(session, entity_type="project", entity_id=project.id, action="create",
                           version=1, actor=identity.sub, before=None,
                           after=self.snapshot(project, kids), feed_state=state,
                           published=project.published, organisation_id=project.organisation_id,
                           funder_id=project.funder_id)
        await outbox.record(session, contracts.PROJECT_CREATED, project.id, state)
        return project

    async def update(self, session: AsyncSession, outbox: Outbox, identity: Identity,
                     project: Project, data: ProjectUpdate, if_match: str | None) -> Project:
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
            partner_ids = set((await session.scalars(select(ProjectPartner.organisation_id).where(
                ProjectPartner.project_id == project.id))).all())
            if changes["organisation_id"] in partner_ids:
                raise _field_error("body/organisation_id", "this organisation is already a partner; "
                                   "remove it from partners first", "partner_is_lead")
        await check_references(session, changes, identity)
        before_kids = await self.children(session, project.id)
        before = self.snapshot(project, before_kids)
        old_status = project.status
        for key in SCALARS:
            if key in changes and key != "funder_id":
                value = changes[key]
                if value is None and key in ("name", "status", "published"):
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
        await self.write_children(session, project, changes)
        await session.flush()
        kids = await self.children(session, project.id)
        after = self.snapshot(project, kids)
        changed = [k for k in after if after[k] != before.get(k)]
        if not changed:
            return project
        project.version += 1
        project.updated_at = utcnow()
        await session.flush()
        state = event_state(project, [x["organisation_id"] for x in kids["partners"]],
                            await specific_objective(session, project.theme_id))
        await audit.record(session, entity_type="project", entity_id=project.id, action="update",
                           version=project.version, actor=identity.sub, before=before, after=after,
                           feed_state=state, published=project.published,
                           organisation_id=project.organisation_id, funder_id=project.funder_id)
        await outbox.record(session, contracts.PROJECT_UPDATED, project.id,
                            {**state, "changed_fields": changed})
        if status_changed:
            await outbox.record(session, contracts.PROJECT_STATUS_CHANGED, project.id, {
                "id": project.id, "version": project.version, "code": project.code,
                "from_status": old_status, "to_status": project.status,
                "date": project.status_date.isoformat(), "reason": project.status_reason})
        return project

    async def archive(self, session: AsyncSession, outbox: Outbox, identity: Identity,
                      project: Project, if_match: str | None) -> Project:
        if not access.may_edit_project(identity, project) or identity.has_role("funder") \
                and not identity.is_national and project.organisation_id != identity.org:
            raise Forbidden("you may not archive this project")
        if if_match is not None and not etag_matches(if_match, etag(project)):
            raise PreconditionFailed("the project has changed since you read it; read it again")
        if project.archived:
            return project
        project.archived = True
        project.version += 1
        project.updated_at = utcnow()
        await session.flush()
        await audit.record(session, entity_type="project", entity_id=project.id, action="archive",
                           version=project.version, actor=identity.sub, before={"archived": False},
                           after={"archived": True}, feed_state={"id": project.id, "archived": True},
                           published=project.published, organisation_id=project.organisation_id,
                           funder_id=project.funder_id)
        await outbox.record(session, contracts.PROJECT_ARCHIVED, project.id, {
            "id": project.id, "version": project.version, "code": project.code})
        return project

    async def erase_person(self, session: AsyncSession, identity: Identity, project: Project,
                           person_id: str) -> None:
        """Erase one person's data on request (history never held it)."""
        if not access.may_edit_project(identity, project):
            raise Forbidden("you may not change this project")
        person = await session.get(ProjectPerson, person_id)
        if person is None or person.project_id != project.id:
            raise access.hide("person", person_id)
        await session.delete(person)
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


def tag_rows(project: Project, partner_ids: list[str]) -> list[dict[str, str]]:
    rows = [{"project_id": project.id, "kind": kind, "value": v}
            for kind, attr in TAG_KINDS.items() for v in set(getattr(project, attr) or [])]
    rows += [{"project_id": project.id, "kind": "partner", "value": v} for v in set(partner_ids)]
    return rows


project = ProjectService()
