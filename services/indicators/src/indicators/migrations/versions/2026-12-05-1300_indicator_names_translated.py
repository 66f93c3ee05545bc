"""indicator names translated: fi and sv names of the ESF+ common indicators, and a flag

The shipped ESF+ indicators carried their English Annex I names under `fi`. This adds
`indicator_definition.translated` (false where a name has no known Finnish or Swedish
translation) and rewrites the shipped rows (version 1, created by the seed) whose name is still
the English placeholder with the names and flags in indicators/seed/indicators.json. A name
someone edited (a later version, or a changed version 1) is left as it is.

Revision ID: 7d1e2b9c4f60
Revises: 60c341592e48
Create Date: 2026-12-05 13:00:00

"""
import json
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = '7d1e2b9c4f60'
down_revision: str | Sequence[str] | None = '60c341592e48'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

definition = sa.table("indicator_definition", sa.column("id", sa.String),
                      sa.column("code", sa.String), sa.column("version", sa.Integer),
                      sa.column("name", sa.JSON), sa.column("translated", sa.Boolean),
                      sa.column("created_by", sa.String))


def upgrade() -> None:
    with op.batch_alter_table('indicator_definition', schema=None) as batch_op:
        batch_op.add_column(sa.Column('translated', sa.Boolean(), server_default=sa.true(),
                                      nullable=False))
    from indicators import seed

    shipped = {d["code"]: d for d in json.loads(
        (Path(seed.__file__).parent / "indicators.json").read_text(encoding="utf-8"))}
    conn = op.get_bind()
    rows = conn.execute(sa.select(definition.c.id, definition.c.code, definition.c.name).where(
        definition.c.version == 1, definition.c.created_by == "seed")).all()
    for row_id, code, name in rows:
        d = shipped.get(code)
        if d is None:
            continue
        name = json.loads(name) if isinstance(name, str) else (name or {})
        values = {"translated": d.get("translated", True)}
        if name.get("fi") == name.get("en"):  # still the English placeholder: not edited
            values["name"] = d["name"]
        conn.execute(definition.update().where(definition.c.id == row_id).values(**values))


def downgrade() -> None:
    # The Finnish and Swedish names stay: they are data, and correct under the old schema too.
    with op.batch_alter_table('indicator_definition', schema=None) as batch_op:
        batch_op.drop_column('translated')
