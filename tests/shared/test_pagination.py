"""shared.pagination.paginate: every page of a keyset list, with ties and nulls in the sort keys,
on SQLite and on PostgreSQL, gives every row once, in order."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import Date, Integer, MetaData, String, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.errors import Unprocessable
from shared.pagination import count, encode_cursor, paginate
from tests.support.databases import PG_BASE, _pg_exec


class Base(DeclarativeBase):
    metadata = MetaData()


class Row(Base):
    __tablename__ = "pagination_rows"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    rank: Mapped[int | None] = mapped_column(Integer)
    day: Mapped[dt.date | None] = mapped_column(Date)


def _rows() -> list[dict]:
    """Ties on rank and on (rank, day), nulls in both, and ids in no particular order."""
    out = []
    for i in range(37):
        out.append({"id": f"{(i * 7919) % 101:03d}-{i}", "code": f"C{i:03d}",
                    "rank": None if i % 5 == 0 else i % 4,
                    "day": None if i % 3 == 0 else dt.date(2026, 1, 1 + i % 2)})
    return out


@pytest.fixture(params=["sqlite", "postgres"])
async def session(request, tmp_path):
    drop = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'pagination.db'}"
    else:
        name = f"teke_test_pagination_{uuid.uuid4().hex[:8]}"
        await _pg_exec(f'CREATE DATABASE "{name}"')
        url = PG_BASE.replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
        drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
            await conn.execute(insert(Row), _rows())
        async with async_sessionmaker(engine)() as s:
            yield s
    finally:
        await engine.dispose()
        if drop:
            await _pg_exec(drop)


def _expected(keys: list[str]) -> list[str]:
    """The order paginate promises: ascending, nulls last, the last key breaking ties."""
    def key(r):
        return tuple((r[k] is None, r[k] if r[k] is not None else 0) for k in keys)
    return [r["id"] for r in sorted(_rows(), key=key)]


async def _walk(session: AsyncSession, keys, limit: int) -> list[str]:
    seen, cursor, pages = [], None, 0
    while True:
        items, cursor = await paginate(session, select(Row), keys, cursor, limit)
        pages += 1
        assert len(items) <= limit
        seen += [r.id for r in items]
        if cursor is None:
            return seen
        assert len(items) == limit and pages < 100


@pytest.mark.parametrize("limit", [1, 4, 5, 36, 37, 50])
@pytest.mark.parametrize("keys", [["id"], ["code"], ["rank", "id"], ["rank", "day", "id"],
                                  ["day", "rank", "code"]])
async def test_every_page_in_order_without_skips_or_repeats(session, keys, limit):
    got = await _walk(session, [getattr(Row, k) for k in keys], limit)
    assert got == _expected(keys)
    assert len(set(got)) == len(got) == await count(session, select(Row))


async def test_a_cursor_continues_a_filtered_list(session):
    query = select(Row).where(Row.rank == 1)
    first, cursor = await paginate(session, query, [Row.day, Row.id], None, 2)
    rest, end = await paginate(session, query, [Row.day, Row.id], cursor, 100)
    ids = [r["id"] for r in _rows() if r["rank"] == 1]
    assert end is None and sorted(r.id for r in first + rest) == sorted(ids)
    assert [r.id for r in first + rest] == [i for i in _expected(["day", "id"]) if i in ids]


@pytest.mark.parametrize("values", [[None], [5], [], ["C001"]])
async def test_cursor_values_are_checked_against_their_keys(session, values):
    cursor = encode_cursor(values)
    if values in ([], ["C001"]):  # no cursor values: the first page; a code: read as given
        items, _ = await paginate(session, select(Row), [Row.code], cursor, 3)
        assert items
        return
    with pytest.raises(Unprocessable):
        await paginate(session, select(Row), [Row.code], cursor, 3)
    with pytest.raises(Unprocessable):
        await paginate(session, select(Row), [Row.rank, Row.day, Row.id],
                       encode_cursor([1, "not a date", "x"]), 3)
