"""survey bands contiguous: each band covers [min, max), the next starts at its max

Bands used to be written with inclusive maxima such as 0..1.999 and 2..2.999, which left
scores between 1.999 and 2 in no band (a count derivable as n minus the bands). From here
on a band's max is the next band's min; this rewrites stored instruments that way.

Revision ID: c3a91d07e5b2
Revises: a193edeb64d0
Create Date: 2026-12-04 17:30:00

"""
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c3a91d07e5b2'
down_revision: str | Sequence[str] | None = 'a193edeb64d0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

instrument = sa.table("survey_instrument", sa.column("id", sa.String), sa.column("bands", sa.JSON),
                      sa.column("scale_min", sa.Float), sa.column("scale_max", sa.Float),
                      sa.column("scoring", sa.String))


def upgrade() -> None:
    conn = op.get_bind()
    for row in conn.execute(sa.select(instrument)).mappings().all():
        bands = row["bands"]
        if isinstance(bands, str):
            bands = json.loads(bands)
        if not bands:
            continue
        bands = sorted((dict(b) for b in bands), key=lambda b: b["min"])
        for j in range(len(bands) - 1):
            bands[j]["max"] = bands[j + 1]["min"]
        low = (row["scale_min"] / row["scale_max"] * 100.0 if row["scoring"] == "percent_of_max"
               else row["scale_min"])
        bands[0]["min"] = min(bands[0]["min"], low)
        high = 100.0 if row["scoring"] == "percent_of_max" else row["scale_max"]
        bands[-1]["max"] = max(bands[-1]["max"], high)
        conn.execute(instrument.update().where(instrument.c.id == row["id"]).values(bands=bands))


def downgrade() -> None:
    """Contiguous bands are read correctly by older code too; nothing to undo."""
