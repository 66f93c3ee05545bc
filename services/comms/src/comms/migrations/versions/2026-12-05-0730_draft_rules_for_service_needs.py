"""draft rules for service needs: a news item when one is addressed, a message to the ministries
when one is forwarded (issue 14, coordination)

Revision ID: c41e5a9d2f70
Revises: b7ed6c0485ec
Create Date: 2026-12-05 07:30:00

Data only: two rows in draft_rule, which coordinators can change or switch off through the API.
"""
import datetime as dt
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = 'c41e5a9d2f70'
down_revision: str | Sequence[str] | None = 'b7ed6c0485ec'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRANSITIONED = "fi.teke.registry.service_need.transitioned.v1"
RULES = [
    ("news", {"to_status": "addressed"}, ["web"],
     {"fi": "Alueiden palvelutarpeeseen vastattu: {name}",
      "sv": "Ett servicebehov från regionerna har åtgärdats: {name}",
      "en": "A service need from the regions was addressed: {name}"},
     {"fi": "Alueilta noussut palvelutarve **{name}** on saanut vastauksen: {reason}",
      "sv": "Servicebehovet **{name}** från regionerna har åtgärdats: {reason}",
      "en": "The service need **{name}** raised in the regions was addressed: {reason}"}),
    ("ministry_message", {"to_status": "forwarded"}, ["email"],
     {"fi": "Palvelutarve ministeriöiden käsiteltäväksi: {name}",
      "sv": "Servicebehov för ministeriernas behandling: {name}",
      "en": "A service need for the ministries: {name}"},
     {"fi": "Työelämän kehittämisen koordinaatiohanke välittää TEM:n ja STM:n käsiteltäväksi "
           "alueilta nousseen palvelutarpeen **{name}**.\n\nPerustelu: {reason}",
      "sv": "Koordinationsprojektet förmedlar servicebehovet **{name}** till ANM och SHM.\n\n"
            "Motivering: {reason}",
      "en": "The coordination project forwards the service need **{name}** to the ministries "
            "(TEM, STM).\n\nReason: {reason}"}),
]


def _table():
    rules = sa.table("draft_rule", *(sa.column(c) for c in (
        "id", "event_type", "enabled", "kind", "conditions", "title_template", "body_template",
        "channels", "version", "updated_by", "updated_at")))
    for c in ("conditions", "title_template", "body_template", "channels"):
        rules.c[c].type = sa.JSON()
    rules.c.updated_at.type = shared.db.UTCDateTime()
    return rules


def upgrade() -> None:
    now = dt.datetime.now(dt.UTC)
    op.bulk_insert(_table(), [
        {"id": str(uuid.uuid4()), "event_type": TRANSITIONED, "enabled": True, "kind": kind,
         "conditions": cond, "title_template": title, "body_template": body, "channels": channels,
         "version": 1, "updated_by": "system", "updated_at": now}
        for kind, cond, channels, title, body in RULES])


def downgrade() -> None:
    rules = _table()
    op.execute(rules.delete().where(rules.c.event_type == TRANSITIONED))
