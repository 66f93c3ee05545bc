"""Project SQL: the reads and writes of one project and its child lists (rules: service.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Date,
    String,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import (
    Call,
    History,
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
from shared.db import new_id, read_one_statement

SCALARS = ("code", "name", "status", "start_date", "end_date", "organisation_id", "funder_id",
           "region_codes", "case_numbers", "appointing_body", "set_up_date", "goals",
           "starting_points", "further_info", "theme_id", "programme_id", "call_id",
           "target_groups", "sub_themes", "published", "kind", "co_financing_rate",
           "intervention_type")
TAG_KINDS = {"region": "region_codes", "target_group": "target_groups", "sub_theme": "sub_themes"}
REFERENCES = (("theme_id", Theme), ("programme_id", Programme), ("call_id", Call))
PERSON_FIELDS = ("name", "email", "phone", "organisation", "title")
EVALUATION_FIELDS = ("kind", "date", "evaluator", "findings", "link")


async def themes_coordinated_by(session: AsyncSession, project_id: str) -> list[str]:
    """Codes of the themes that name this project as their coordination project."""
    return list((await session.scalars(select(Theme.code).where(
        Theme.coordination_project_id == project_id))).all())


async def get(session: AsyncSession, project_id: str) -> Project | None:
    return await session.get(Project, project_id)


async def specific_objective(session: AsyncSession, theme_id: str | None) -> str | None:
    """The ESF+ specific objective of a project's theme (the theme is usually in the session)."""
    if not theme_id:
        return None
    theme = await session.get(Theme, theme_id)
    return theme.specific_objective if theme is not None else None


async def reference_exists(session: AsyncSession, model, ref_id: str) -> bool:
    return await session.get(model, ref_id) is not None


async def organisations_found(session: AsyncSession, ids: set[str]) -> set[str]:
    """Which of these organisation ids exist."""
    return set((await session.scalars(select(Organisation.id).where(
        Organisation.id.in_(ids)))).all())


async def past_funders(session: AsyncSession, project_id: str) -> set[str]:
    return set((await session.scalars(select(ProjectFunder.organisation_id)
                                      .where(ProjectFunder.project_id == project_id))).all())


async def partner_ids(session: AsyncSession, project_id: str) -> list[str]:
    return list(await session.scalars(
        select(ProjectPartner.organisation_id).where(ProjectPartner.project_id == project_id)))


async def person(session: AsyncSession, person_id: str) -> ProjectPerson | None:
    return await session.get(ProjectPerson, person_id)


async def contact_persons(session: AsyncSession, project_ids: list[str]) -> dict[str, list[str]]:
    """Project id -> its contact persons as `name <email>` (or the name), for these projects."""
    persons: dict[str, list[str]] = {}
    for pid, name, email in (await session.execute(
            select(ProjectPerson.project_id, ProjectPerson.name, ProjectPerson.email)
            .where(ProjectPerson.kind == "contact",
                   ProjectPerson.project_id.in_(project_ids)))).all():
        persons.setdefault(pid, []).append(f"{name} <{email}>" if email else name)
    return persons


async def history(session: AsyncSession, project_id: str) -> list[History]:
    return list((await session.scalars(select(History).where(
        History.entity_type == "project", History.entity_id == project_id)
        .order_by(History.id))).all())


# Typed NULLs: PostgreSQL resolves a bare NULL in the first branch as text.
_N, _D, _S = cast(null(), Money), cast(null(), Date), cast(null(), String)


def _part(kind: str, table, order, texts=(), money=_N, d1=_D, d2=_D):
    """One branch of a UNION ALL in the common shape (kind, position in that list's own order,
    seven text columns, one money, two dates), for the project bound as :pid."""
    texts = [*texts, *[_S] * (7 - len(texts))]
    return select(literal(kind).label("kind"), func.row_number().over(order_by=order)
                  .label("pos"), *[t.label(f"s{i}") for i, t in enumerate(texts)],
                  money.label("n"), d1.label("d1"), d2.label("d2")) \
        .where(table.c.project_id == bindparam("pid", type_=String))


def _persons_part():
    st = ProjectPerson.__table__
    return _part("person", st, st.c.name, [st.c.id, st.c.kind, st.c.name, st.c.email, st.c.phone,
                                           st.c.organisation, st.c.title])


def _children_statement(persons: bool):
    """The child lists in one round trip: a UNION ALL of the child tables (_part)."""
    pt, bt, ft = ProjectPartner.__table__, ProjectBudget.__table__, ProjectFunder.__table__
    et = ProjectEvaluation.__table__
    parts = [_part("budget", bt, bt.c.source, [bt.c.source], money=bt.c.amount),
             _part("partner", pt, pt.c.organisation_id, [pt.c.organisation_id, pt.c.role]),
             _part("funder", ft, ft.c.valid_from, [ft.c.organisation_id], d1=ft.c.valid_from,
                   d2=ft.c.valid_to),
             _part("evaluation", et, et.c.date, [et.c.id, et.c.kind, et.c.evaluator,
                                                 et.c.findings, et.c.link], d1=et.c.date)]
    if persons:
        parts.append(_persons_part())
    u = union_all(*parts).subquery()
    return select(u).order_by(u.c.kind, u.c.pos)


def _head_statement(persons: bool):
    """What a cached record is checked against, in one statement: the project's version and
    last change ("head": s0, s1) and its theme's specific objective (s2), with its persons
    if asked (the children's shape, so one UNION ALL)."""
    p, t = Project.__table__, Theme.__table__
    head = select(literal("head").label("kind"), literal(0).label("pos"),
                  cast(p.c.version, String).label("s0"), cast(p.c.updated_at, String).label("s1"),
                  t.c.specific_objective.label("s2"), *[_S.label(f"s{i}") for i in range(3, 7)],
                  _N.label("n"), _D.label("d1"), _D.label("d2")) \
        .select_from(p.outerjoin(t, t.c.id == p.c.theme_id)) \
        .where(p.c.id == bindparam("pid", type_=String))
    if not persons:
        return head
    u = union_all(head, _persons_part()).subquery()
    return select(u).order_by(u.c.kind, u.c.pos)


# Built once: building the statement and its cache key anew took ~15 % of a read's CPU (the
# SQL is the same every time; only :pid changes).
_CHILDREN = {True: _children_statement(True), False: _children_statement(False)}
_HEAD = {True: _head_statement(True), False: _head_statement(False)}


async def head(session: AsyncSession | None, project_id: str, persons: bool,
               engine=None) -> tuple[tuple | None, list[dict]]:
    """(version, last change, theme's specific objective) of a project, or None if there is
    none, and its persons if asked: one statement (_head_statement), in the session's
    transaction, or with no `session` on its own (shared.db.read_one_statement on `engine`)."""
    top, people = None, []
    params = {"pid": project_id}
    rows = (await session.execute(_HEAD[persons], params)).all() if session is not None \
        else await read_one_statement(engine, _HEAD[persons], params)
    for r in rows:
        if r.kind == "head":
            top = (int(r.s0), r.s1, r.s2)
        else:
            people.append(_person(r))
    return top, people


def _person(r) -> dict[str, Any]:
    return {"kind": r.s1, "id": r.s0, "name": r.s2, "email": r.s3, "phone": r.s4,
            "organisation": r.s5, "title": r.s6}


async def children(session: AsyncSession, project_id: str, persons: bool = True) -> dict[str, Any]:
    """The child lists (partners, budget, funders, evaluations, and persons if asked) in one
    round trip (_children_statement)."""
    rows = (await session.execute(_CHILDREN[persons], {"pid": project_id})).all()
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
            person = _person(r)
            key = "contact_persons" if person.pop("kind") == "contact" else "steering_group"
            out[key].append(person)
    return out


async def write_children(session: AsyncSession, project: Project,
                         data: dict[str, Any], fresh: bool = False) -> None:
    """Replace each child list present in `data`; keep the filter tags in step."""
    pid = project.id
    if fresh:  # a new project has no rows to replace: inserts only
        await _insert_children(session, project, data)
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

# Core INSERTs built once, for a new project's rows: the ORM's bulk-insert path (insert(Model))
# built and cache-keyed a statement per call and cost several times the Core one.
_INSERT = {m: insert(m.__table__) for m in (ProjectPartner, ProjectBudget, ProjectPerson,
                                             ProjectEvaluation, ProjectTag, ProjectFunder)}


async def insert_funder_period(session: AsyncSession, project_id: str, funder_id: str,
                               since: Any) -> None:
    """A new project's first dated funder period (open-ended from `since`)."""
    await session.execute(_INSERT[ProjectFunder], {
        "id": new_id(), "project_id": project_id, "organisation_id": funder_id,
        "valid_from": since, "valid_to": None})


def _rows(pid: str, items: list[dict[str, Any]], keys: tuple[str, ...],
          **extra: Any) -> list[dict[str, Any]]:
    # Every row names every column (missing: NULL), so one executemany fits all rows.
    return [{"project_id": pid, **extra, **{k: x.get(k) for k in keys}} for x in items]


async def _insert_children(session: AsyncSession, project: Project,
                           data: dict[str, Any]) -> None:
    pid = project.id
    if data.get("partners"):
        await session.execute(_INSERT[ProjectPartner],
                              _rows(pid, data["partners"], ("organisation_id", "role")))
    if data.get("budget"):
        await session.execute(_INSERT[ProjectBudget], _rows(pid, data["budget"], ("source", "amount")))
        project.budget_total = sum((Decimal(x["amount"]) for x in data["budget"]), Decimal("0.00"))
    people = [{"id": new_id(), **row}
              for key, kind in (("contact_persons", "contact"), ("steering_group", "steering_group"))
              for row in _rows(pid, data.get(key) or [], PERSON_FIELDS, kind=kind)]
    if people:
        await session.execute(_INSERT[ProjectPerson], people)
    if data.get("evaluations"):
        await session.execute(_INSERT[ProjectEvaluation], [
            {"id": new_id(), **row} for row in _rows(pid, data["evaluations"], EVALUATION_FIELDS)])
    tags = tag_rows(project, [x["organisation_id"] for x in data.get("partners") or []])
    if tags:
        await session.execute(_INSERT[ProjectTag], tags)
    await search.sqlite_sync(session, [{"id": pid, "search_fi": project.search_fi,
                                        "search_sv": project.search_sv,
                                        "search_en": project.search_en}], fresh=True)


def tag_rows(project: Project, partner_ids: list[str]) -> list[dict[str, str]]:
    rows = [{"project_id": project.id, "kind": kind, "value": v}
            for kind, attr in TAG_KINDS.items() for v in set(getattr(project, attr) or [])]
    rows += [{"project_id": project.id, "kind": "partner", "value": v} for v in set(partner_ids)]
    return rows


async def open_funder_periods(session: AsyncSession, project_id: str) -> list[ProjectFunder]:
    return list((await session.scalars(select(ProjectFunder).where(
        ProjectFunder.project_id == project_id, ProjectFunder.valid_to.is_(None)))).all())
