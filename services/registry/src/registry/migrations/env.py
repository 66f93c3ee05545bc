"""Alembic env for the registry: the shared runner, but blind to the full-text search objects.

The FTS objects (SQLite FTS5 virtual tables, PostgreSQL GIN expression indexes) are made by raw
SQL in the migrations and are not described by the models, so autogenerate must skip them.
"""

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import create_async_engine

from registry.models import metadata


def include_object(obj, name, type_, reflected, compare_to):  # noqa: ARG001
    return not (name or "").startswith("fts_")


def include_name(name, type_, parent_names):  # noqa: ARG001
    return not (name or "").startswith("fts_")


def _do_run(connection) -> None:
    context.configure(
        connection=connection, target_metadata=metadata, compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object, include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as conn:
        await conn.run_sync(_do_run)
    await engine.dispose()


url = context.config.get_main_option("sqlalchemy.url")
if context.is_offline_mode():
    context.configure(url=url, target_metadata=metadata, literal_binds=True,
                      include_object=include_object)
    with context.begin_transaction():
        context.run_migrations()
elif context.config.attributes.get("connection") is not None:
    _do_run(context.config.attributes["connection"])
else:
    asyncio.run(_run_async(url))
