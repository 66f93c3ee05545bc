"""Demo data of the coordination project's work: steering-group meetings of a few demo projects
(the coordination project took part in some) and service needs in every state with their steps.
Loaded once (skipped when any meeting exists); events go out as for any other write."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from registry.events import coordination as events
from registry.models import Project, ServiceNeed, ServiceNeedStep, SteeringMeeting, Theme
from shared.contracts import coordination as contracts
from shared.db import new_id

THEME_CODE = "TYOELAMA-2021"
DECISIONS = [
    {"fi": "Hyväksyttiin väliraportti ja päätettiin laajentaa pilotti kahteen uuteen työpaikkaan.",
     "en": "Interim report approved; the pilot extends to two more workplaces."},
    {"fi": "Käsiteltiin kyselyn tulokset; koordinaatiohanke esitteli vastaavan hankkeen mallin.",
     "en": "Survey results discussed; the coordination project presented a similar project's model."},
    {"fi": "Päätettiin hankkeen juurruttamissuunnitelmasta.", "en": "Continuation plan agreed."},
]
# (title fi, title sv, region codes, target groups, the steps after `new`: (to, reason))
NEEDS: list[tuple[str, str, list[str], list[str], list[tuple[str, str | None]]]] = [
    ("Työkykykoordinaattori mikroyrityksille", "Arbetsförmågekoordinator för mikroföretag",
     ["06", "11"], ["companies"], []),
    ("Etätyön johtamisen valmennus kunnille", "Coachning i distansledning för kommuner",
     ["02"], ["managers"], [("under_review", None)]),
    ("Kansainvälisten osaajien perehdytysmalli pk-yrityksiin",
     "Introduktionsmodell för internationella experter i små och medelstora företag",
     ["01", "17"], ["companies", "employees"],
     [("under_review", None), ("forwarded", "Koskee kotoutumista ja työlupia: TEM:n päätettävä.")]),
    ("Työterveyshuollon ja yrityspalveluiden yhteinen palvelupolku",
     "Gemensam servicestig för företagshälsovård och företagstjänster", ["13"], ["companies"],
     [("under_review", None), ("forwarded", "Vaatii STM:n ja TEM:n yhteistä linjausta."),
      ("addressed", "Otettiin TYÖ2030-ohjelman työpaketiksi 2025.")]),
    ("Hankekohtainen oma palautekysely", "Egen responsenkät per projekt", ["06"], ["employees"],
     [("declined", "Teeman yhteinen kysely (QWL, Työn imu) kattaa tarpeen.")]),
]


def _participants(i: int, coordination: bool) -> list[dict[str, Any]]:
    people = [{"role": "implementer", "name": "Hankepäällikkö"}, {"role": "funder"},
              {"role": "workplace"}, {"role": "expert"}]
    if coordination:
        people.append({"role": "coordination_project"})
    if i % 3 == 0:
        people.append({"role": "ministry"})
    return people


async def load(session, outbox) -> dict[str, int]:
    """Meetings of eight demo projects over the last year and a half; five service needs."""
    if await session.scalar(select(SteeringMeeting.id).limit(1)):
        return {}
    theme_id = await session.scalar(select(Theme.id).where(Theme.code == THEME_CODE))
    projects = (await session.execute(select(Project.id, Project.region_codes).where(
        Project.code.like("S3%"), Project.theme_id == theme_id).order_by(Project.code).limit(8))).all()
    if theme_id is None or not projects:
        return {}
    today = dt.date.today()
    meetings = 0
    for i, (pid, _) in enumerate(projects):
        for j, days in enumerate((20 + 9 * i, 150 + 11 * i, 420 + 7 * i)[: 2 + i % 2]):
            # The coordination project skips every fourth project and every second meeting.
            coordination = i % 4 != 3 and j != 1
            m = SteeringMeeting(id=new_id(), project_id=pid, date=today - dt.timedelta(days=days),
                                participants=_participants(i, coordination),
                                coordination_attended=coordination, funder_attended=(i + j) % 3 != 1,
                                decisions=DECISIONS[(i + j) % len(DECISIONS)], created_by="demo")
            session.add(m)
            await session.flush()
            await outbox.record(session, contracts.STEERING_MEETING_RECORDED, m.id,
                                events.meeting_recorded(m))
            meetings += 1
    for k, (fi, sv, regions, groups, steps) in enumerate(NEEDS):
        origin = projects[k % len(projects)][0]
        n = ServiceNeed(id=new_id(), version=1, theme_id=theme_id, title={"fi": fi, "sv": sv},
                        description={"fi": f"Alueen hankkeissa noussut tarve: {fi.lower()}."},
                        region_codes=regions, target_group_codes=groups,
                        evidence="Hankkeiden ohjausryhmien pöytäkirjat ja työpaikkakysely 2025.",
                        project_ids=[origin], status="new", created_by="demo")
        session.add(n)
        await session.flush()
        session.add(ServiceNeedStep(need_id=n.id, to_status="new", actor="demo", actor_role="implementer"))
        await outbox.record(session, contracts.SERVICE_NEED_RECORDED, n.id, events.need_state(n))
        for to, reason in steps:
            before = n.status
            n.status, n.reason, n.version = to, reason, n.version + 1
            session.add(ServiceNeedStep(need_id=n.id, from_status=before, to_status=to, reason=reason,
                                        actor="demo", actor_role="coordinator"))
            await session.flush()
            await outbox.record(session, contracts.SERVICE_NEED_TRANSITIONED, n.id,
                                events.need_transitioned(n, before, reason))
    return {"steering meetings": meetings, "service needs": len(NEEDS)}
