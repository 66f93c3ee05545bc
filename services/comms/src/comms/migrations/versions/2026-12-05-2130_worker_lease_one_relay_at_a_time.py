"""worker lease: one outbox relay at a time across replicas (issue 17)

Revision ID: d52f8e1a6b40
Revises: c41e5a9d2f70
Create Date: 2026-12-05 21:30:00

A row per piece of work only one replica may do at a time (shared.background.Lease): the relay
publishes in commit order only while it holds "relay:outbox".
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = 'd52f8e1a6b40'
down_revision: str | Sequence[str] | None = 'c41e5a9d2f70'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'worker_lease',
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('holder', sa.String(length=100), nullable=False),
        sa.Column('expires_at', shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_worker_lease')),
    )


def downgrade() -> None:
    op.drop_table('worker_lease')
