"""The outbox, inbox and dead-letter tables (and the relay's lease), on a service's own MetaData.

Each service's Alembic migrations create them; the kit never creates or migrates tables.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text, text

from shared.db import UTCDateTime

BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


def make_event_tables(metadata: MetaData) -> tuple[Table, Table, Table]:
    outbox = Table(
        "outbox", metadata,
        # Commit order per database; the relay publishes in this order.
        Column("seq", BigIntPK, primary_key=True, autoincrement=True),
        Column("id", String(36), nullable=False, unique=True),
        Column("type", String(200), nullable=False),
        Column("nats_subject", String(200), nullable=False),
        Column("entity_id", String(200), nullable=False),
        Column("envelope", Text, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("published_at", UTCDateTime, nullable=True),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Index("ix_outbox_unpublished", "seq",
              postgresql_where=text("published_at IS NULL"),
              sqlite_where=text("published_at IS NULL")),
        Index("ix_outbox_published_at", "published_at"),
    )
    inbox = Table(
        "inbox", metadata,
        Column("event_id", String(36), primary_key=True),
        Column("type", String(200), nullable=False),
        Column("processed_at", UTCDateTime, nullable=False),
    )
    dead_letter = Table(
        "dead_letter", metadata,
        Column("id", String(36), primary_key=True),
        Column("event_id", String(36), nullable=False, index=True),
        Column("type", String(200), nullable=False),
        Column("nats_subject", String(200), nullable=False),
        Column("envelope", Text, nullable=False),
        Column("error", Text, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("status", String(20), nullable=False, server_default=text("'dead'")),
        Column("created_at", UTCDateTime, nullable=False),
        Column("replayed_at", UTCDateTime, nullable=True),
    )
    make_lease_table(metadata)  # the relay's: one replica publishes, in commit order
    return outbox, inbox, dead_letter


def make_lease_table(metadata: MetaData) -> Table:
    """Who holds a piece of work that only one replica may do at a time (shared.background.Lease):
    one row per piece, taken by a conditional UPDATE, free again once `expires_at` passes."""
    return Table(
        "worker_lease", metadata,
        Column("name", String(100), primary_key=True),
        Column("holder", String(100), nullable=False),
        Column("expires_at", UTCDateTime, nullable=False),
    )


def lease_table(metadata: MetaData) -> Table:
    return metadata.tables["worker_lease"]
