"""Demo data of theme evaluations and continuation: a mid-term evaluation of the seed theme with
recommendations linked to demo projects and practices (one followed to its outcome), and the
follow-ups of ended demo projects (one is ended first if none has ended long enough ago).

Written through the same service functions as the API, so events, history and the change feed
are as for any other write. Idempotent: nothing is added when the theme has an evaluation."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from registry.evaluations import follow_ups, recommendations, service
from registry.models import Practice, Project, ThemeEvaluation
from registry.projects.schemas import ProjectUpdate
from registry.projects.service import project as project_service
from shared.identity import Identity
from shared.uow import UnitOfWork

QUESTIONS = [
    {"fi": "Ovatko hankkeet tavoittaneet alueen työpaikat ja toteuttaneet työelämäpilotteja?",
     "en": "Have the projects reached the region's workplaces and run working-life pilots?"},
    {"fi": "Ovatko työhyvinvointi ja tuottavuus kehittyneet samanaikaisesti mukana olevissa "
           "organisaatioissa?",
     "en": "Have well-being at work and productivity developed together in the organisations?"},
    {"fi": "Miten hyvät käytännöt on siirretty osaksi kansallista toimintaa?",
     "en": "How have good practices been carried into national activity?"},
]
RECOMMENDATIONS = [
    ({"fi": "Kootaan hankkeiden hyvät käytännöt työelämän kehittämispalveluiden "
            "palveluvalikoimaan ja sovitaan niiden ylläpitäjät ennen hankkeiden päättymistä.",
      "en": "Gather the projects' good practices into the working-life development services "
            "and agree who maintains them before the projects end."}, "TEM ja STM"),
    ({"fi": "Yhteiset mittarit (QWL, työn imu) otetaan käyttöön kaikissa teeman hankkeissa.",
      "en": "Use the common measures (QWL, work engagement) in every project of the theme."},
     "ELY-keskukset"),
    ({"fi": "Mikro- ja pk-yrityksille suunnatut pilotit levitetään muille alueille.",
      "en": "Spread the pilots for micro and small firms to other regions."}, None),
]


async def _ended_projects(uow: UnitOfWork, actor: Identity, today: dt.date
                          ) -> list[tuple[Project, list[Practice]]]:
    """Two demo projects with practices that ended at least 13 months ago; the one that started
    first is ended (active -> ended) if none has."""
    session = uow.session
    practices = (await session.scalars(select(Practice).where(Practice.archived.is_(False)))).all()
    by_project: dict[str, list[Practice]] = {}
    for pr in practices:
        for pid in pr.project_ids or []:
            by_project.setdefault(pid, []).append(pr)
    if not by_project:
        return []
    projects = (await session.scalars(select(Project).where(
        Project.id.in_(list(by_project)), Project.archived.is_(False))
        .order_by(Project.start_date, Project.code))).all()
    limit = today - dt.timedelta(days=400)
    ended = [(p, by_project[p.id]) for p in projects
             if p.status == "ended" and p.end_date and p.end_date <= limit]
    if ended:
        return ended[:2]
    p = next((p for p in projects if p.status in ("planned", "active") and p.start_date
              and p.start_date <= limit - dt.timedelta(days=365)), None)
    if p is None:
        return []
    end = limit
    if p.status == "planned":
        await project_service.update(uow, actor, p, ProjectUpdate(
            status="active", status_date=p.start_date), None)
    await project_service.update(uow, actor, p, ProjectUpdate(
        status="ended", end_date=end, status_date=end,
        status_reason="Hanke päättyi (demo)"), None)
    return [(p, by_project[p.id])]


async def load(uow: UnitOfWork, actor: Identity, theme_id: str) -> dict[str, int]:
    """The seed theme's mid-term evaluation and the follow-ups of an ended project."""
    session = uow.session
    if await session.scalar(select(ThemeEvaluation.id).where(ThemeEvaluation.theme_id == theme_id)):
        return {}
    today = dt.date.today()
    ev = await service.create(uow, actor, {
        "theme_id": theme_id, "kind": "mid_term", "evaluator": "Arviointikonsortio Oy (demo)",
        "title": {"fi": "Työelämän kehittäminen -teeman väliarviointi",
                  "en": "Development of working life: mid-term evaluation"},
        "started": dt.date(2024, 9, 1), "completed": dt.date(2025, 6, 30),
        "questions": QUESTIONS, "report_url": "https://example.org/teke/valiarviointi-2025.pdf",
        "findings": {"fi": "Hankkeet ovat tavoittaneet pk-yrityksiä hyvin; hyvien käytäntöjen "
                           "siirto kansalliseen toimintaan on vasta alussa.",
                     "en": "The projects reach SMEs well; carrying good practices into national "
                           "activity has only begun."}})
    ended = await _ended_projects(uow, actor, today)
    projects = (await session.scalars(select(Project.id).where(Project.theme_id == theme_id)
                                      .order_by(Project.code).limit(3))).all()
    practice_ids = [p.id for p in ended[0][1]] if ended else []
    recs = []
    for i, (text, addressee) in enumerate(RECOMMENDATIONS):
        links = {"project_ids": [ended[0][0].id] if ended and i == 0 else list(projects[i:i + 1]),
                 "practice_ids": practice_ids[:1] if i == 0 else []}
        recs.append(await recommendations.create(uow, actor, ev["id"],
                                                 {"text": text, "addressee": addressee, **links}))
    steps = [("accepted", dt.date(2025, 8, 20), "Ohjausryhmä hyväksyi suosituksen."),
             ("in_progress", dt.date(2025, 10, 1), "Palvelukuvaukset työn alla."),
             ("implemented", dt.date(2026, 3, 31), "Käytännöt palveluvalikoimassa.")]
    for to, when, note in steps:
        if when <= today:
            await recommendations.transition(uow, actor, recs[0]["id"],
                                             {"to": to, "date": when, "note": note})
    await recommendations.transition(uow, actor, recs[1]["id"], {
        "to": "accepted", "date": min(today, dt.date(2025, 9, 15)), "note": None})
    made = 0
    for j, (p, practices) in enumerate(ended):
        for months in (6, 12, 24):
            due = follow_ups.add_months(p.end_date, months)
            if due > today:
                break
            entries = []
            for k, pr in enumerate(practices):
                in_use = (j + k) % 2 == 0 or months == 6  # every other one drops out after 6 months
                users = [{"organisation_id": pr.organisation_id} if pr.organisation_id
                         else {"name": "Hankkeen kumppani"}] if in_use else []
                entries.append({"practice_id": pr.id, "in_use": in_use, "used_by": users})
            await follow_ups.record(uow, actor, p.id,
                                    {"months": months, "date": due, "practices": entries})
            made += 1
    return {"theme_evaluations": 1, "recommendations": len(recs), "follow_ups": made}
