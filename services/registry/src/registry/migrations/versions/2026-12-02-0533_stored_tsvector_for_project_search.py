"""stored tsvector for project search

The GIN index over an expression of three to_tsvector calls found rows, but ranking had to
recompute the three vectors for every matching row. A stored column, kept by a trigger (so
ORM writes, Core updates and the import's COPY all fill it), is indexed and ranked directly.
PostgreSQL only: SQLite keeps its FTS5 table. Names start with "fts_" so autogenerate skips them.

Revision ID: 0cd396afd1fd
Revises: 6526d57c1f7c
Create Date: 2026-12-02 05:33:24.502071

"""
from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0cd396afd1fd'
down_revision: str | Sequence[str] | None = '6526d57c1f7c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of the vector the registry searches (registry.projects.search).
VECTOR = ("to_tsvector('finnish', coalesce({p}search_fi, '')) || "
          "to_tsvector('swedish', coalesce({p}search_sv, '')) || "
          "to_tsvector('english', coalesce({p}search_en, ''))")


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE project ADD COLUMN fts_vector tsvector")
    op.execute(f"""
        CREATE FUNCTION fts_project_vector() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.fts_vector := {VECTOR.format(p='NEW.')};
            RETURN NEW;
        END $$""")
    op.execute("CREATE TRIGGER fts_project_vector_ins BEFORE INSERT ON project "
               "FOR EACH ROW EXECUTE FUNCTION fts_project_vector()")
    op.execute("CREATE TRIGGER fts_project_vector_upd BEFORE UPDATE ON project FOR EACH ROW "
               "WHEN (OLD.search_fi IS DISTINCT FROM NEW.search_fi "
               "OR OLD.search_sv IS DISTINCT FROM NEW.search_sv "
               "OR OLD.search_en IS DISTINCT FROM NEW.search_en) "
               "EXECUTE FUNCTION fts_project_vector()")
    op.execute(f"UPDATE project SET fts_vector = {VECTOR.format(p='')}")  # backfill
    op.execute("DROP INDEX IF EXISTS fts_project_all")
    op.execute("CREATE INDEX fts_project_vec ON project USING gin (fts_vector)")


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS fts_project_vec")
    op.execute("DROP TRIGGER IF EXISTS fts_project_vector_upd ON project")
    op.execute("DROP TRIGGER IF EXISTS fts_project_vector_ins ON project")
    op.execute("DROP FUNCTION IF EXISTS fts_project_vector()")
    op.execute("ALTER TABLE project DROP COLUMN IF EXISTS fts_vector")
    op.execute(f"CREATE INDEX fts_project_all ON project USING gin (({VECTOR.format(p='')}))")
