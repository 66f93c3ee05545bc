"""narrow project search table

A topic word matches ~15 % of 100,000 projects, and every list query read those rows from the
wide project heap (names, goals and texts in three languages, ~107 MB) twice. fts_project_search
holds only what a list query filters, counts, sorts and ranks on: one small row per project,
arrays instead of JSON, partner ids on the row. Statement-level triggers with transition tables
keep it in the same transaction as every write to project and project_partner, the import's COPY
included (one statement per COPY, not one per row). PostgreSQL only: SQLite keeps its FTS5 table.
Names start with "fts_" so autogenerate skips them.

Revision ID: 7837706dcd10
Revises: 0cd396afd1fd
Create Date: 2026-12-02 06:50:00

"""
from collections.abc import Sequence

from alembic import op

revision: str = '7837706dcd10'
down_revision: str | Sequence[str] | None = '0cd396afd1fd'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The row of project p (a table alias) in the search table; partner ids from project_partner.
ROW = """
    SELECT p.id, p.code, p.updated_at, p.status, p.theme_id, p.programme_id, p.funder_id,
           p.organisation_id, p.call_id,
           ARRAY(SELECT json_array_elements_text(coalesce(p.region_codes, '[]'::json))),
           ARRAY(SELECT json_array_elements_text(coalesce(p.target_groups, '[]'::json))),
           ARRAY(SELECT json_array_elements_text(coalesce(p.sub_themes, '[]'::json))),
           ARRAY(SELECT pp.organisation_id::text FROM project_partner pp WHERE pp.project_id = p.id),
           p.budget_total, p.start_date, p.end_date, p.published, p.archived, p.fts_vector
    FROM {source} p"""
COLUMNS = ("id, code, updated_at, status, theme_id, programme_id, funder_id, organisation_id, "
           "call_id, region_codes, target_groups, sub_themes, partner_ids, budget_total, "
           "start_date, end_date, published, archived, fts_vector")
UPSERT_SET = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS.split(", ")[1:]
                       if c != "partner_ids")
PARTNERS = """
    UPDATE fts_project_search s
    SET partner_ids = ARRAY(SELECT pp.organisation_id::text FROM project_partner pp
                            WHERE pp.project_id = s.id)
    WHERE s.id IN (SELECT project_id FROM {source})"""


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    # toast_tuple_target / STORAGE EXTERNAL were meant to move the tsvector out of line; rows
    # (~670 bytes at 100k projects) stay under the TOAST threshold, so it stays inline (65 MB).
    op.execute("""
        CREATE TABLE fts_project_search (
            id varchar(36) PRIMARY KEY REFERENCES project (id) ON DELETE CASCADE,
            code varchar(40) NOT NULL,
            updated_at timestamptz,
            status varchar(20),
            theme_id varchar(36), programme_id varchar(36), funder_id varchar(36),
            organisation_id varchar(36), call_id varchar(36),
            region_codes text[] NOT NULL DEFAULT '{}',
            target_groups text[] NOT NULL DEFAULT '{}',
            sub_themes text[] NOT NULL DEFAULT '{}',
            partner_ids text[] NOT NULL DEFAULT '{}',
            budget_total numeric(16, 2), start_date date, end_date date,
            published boolean NOT NULL, archived boolean NOT NULL,
            fts_vector tsvector
        ) WITH (toast_tuple_target = 128)""")
    op.execute("ALTER TABLE fts_project_search ALTER COLUMN fts_vector SET STORAGE EXTERNAL")
    op.execute(f"""
        CREATE FUNCTION fts_search_from_project() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO fts_project_search ({COLUMNS}) {ROW.format(source='new_rows')}
            ON CONFLICT (id) DO UPDATE SET {UPSERT_SET};
            RETURN NULL;
        END $$""")
    for event in ("INSERT", "UPDATE"):
        op.execute(f"CREATE TRIGGER fts_search_project_{event.lower()} AFTER {event} ON project "
                   "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
                   "EXECUTE FUNCTION fts_search_from_project()")
    for rows in ("new_rows", "old_rows"):
        op.execute(f"""
            CREATE FUNCTION fts_search_partners_{rows}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                {PARTNERS.format(source=rows)};
                RETURN NULL;
            END $$""")
    op.execute("CREATE TRIGGER fts_search_partner_insert AFTER INSERT ON project_partner "
               "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
               "EXECUTE FUNCTION fts_search_partners_new_rows()")
    op.execute("CREATE TRIGGER fts_search_partner_delete AFTER DELETE ON project_partner "
               "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
               "EXECUTE FUNCTION fts_search_partners_old_rows()")
    op.execute("CREATE TRIGGER fts_search_partner_update AFTER UPDATE ON project_partner "
               "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
               "EXECUTE FUNCTION fts_search_partners_old_rows()")
    op.execute(f"INSERT INTO fts_project_search ({COLUMNS}) {ROW.format(source='project')}")  # backfill
    op.execute("CREATE INDEX fts_project_search_vec ON fts_project_search USING gin (fts_vector)")
    op.execute("CREATE INDEX fts_project_search_region ON fts_project_search "
               "USING gin (region_codes)")
    op.execute("CREATE INDEX fts_project_search_code ON fts_project_search (code, id)")
    op.execute("ANALYZE fts_project_search")


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for trig, table in (("fts_search_partner_update", "project_partner"),
                        ("fts_search_partner_delete", "project_partner"),
                        ("fts_search_partner_insert", "project_partner"),
                        ("fts_search_project_update", "project"),
                        ("fts_search_project_insert", "project")):
        op.execute(f"DROP TRIGGER IF EXISTS {trig} ON {table}")
    for fn in ("fts_search_partners_old_rows", "fts_search_partners_new_rows",
               "fts_search_from_project"):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
    op.execute("DROP TABLE IF EXISTS fts_project_search")
