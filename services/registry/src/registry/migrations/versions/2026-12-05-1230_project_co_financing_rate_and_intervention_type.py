"""project: co_financing_rate and intervention_type (the EU list of operations)

Issue 15: Regulation (EU) 2021/1060, Article 49(3) asks for the Union co-financing rate and the
type of intervention of each operation. Both are optional project fields; the intervention type
is a code of reference/intervention_fields.json (checked by the API, not the database).

Revision ID: 5e0c1a7d2b93
Revises: 3856775c860a
Create Date: 2026-12-05 12:30:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '5e0c1a7d2b93'
down_revision: str | Sequence[str] | None = '3856775c860a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.add_column(sa.Column('co_financing_rate', sa.Numeric(precision=5, scale=2),
                                      nullable=True))
        batch_op.add_column(sa.Column('intervention_type', sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_column('intervention_type')
        batch_op.drop_column('co_financing_rate')
