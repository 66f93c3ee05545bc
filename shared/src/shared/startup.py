"""Start-up cost helpers, light enough for the embedded runner (stdlib only, no SQLAlchemy).

`schema_at_head` tells, without Alembic, whether a SQLite database already stands at its
migrations' head, so `make run` with data present does not spend ~3 s CPU per service importing
the service and Alembic to learn that there is nothing to do. Anything it cannot tell for sure
(another database, an odd revision file, a missing version table) answers "no": the caller then
runs the real `alembic upgrade`, which stays the only thing that changes a schema.
"""

from __future__ import annotations

import ast
import contextlib
import sqlite3
from pathlib import Path

SQLITE_PREFIXES = ("sqlite+aiosqlite:///", "sqlite:///", "sqlite+pysqlite:///")


def head_revisions(migrations_dir: Path) -> set[str] | None:
    """The head revision ids of an Alembic script folder, read from the revision files' source
    (`revision = "..."`, `down_revision = ...`); None if a file is not plain enough to read."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((Path(migrations_dir) / "versions").glob("*.py")):
        values: dict[str, object] = {}
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            return None
        for node in tree.body:
            target = value = None
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                target, value = node.target.id, node.value
            elif (isinstance(node, ast.Assign) and len(node.targets) == 1
                  and isinstance(node.targets[0], ast.Name)):
                target, value = node.targets[0].id, node.value
            if target in ("revision", "down_revision") and value is not None:
                try:
                    values[target] = ast.literal_eval(value)
                except ValueError:
                    return None
        revision, down = values.get("revision"), values.get("down_revision")
        if not isinstance(revision, str):
            return None
        revisions.add(revision)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, (tuple, list)) and all(isinstance(d, str) for d in down):
            parents.update(down)
        elif down is not None:
            return None
    heads = revisions - parents
    return heads or None


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite database URL (None for another database or an in-memory one)."""
    for prefix in SQLITE_PREFIXES:
        if url.startswith(prefix):
            path = url[len(prefix):].split("?", 1)[0]
            return Path(path) if path and path != ":memory:" else None
    return None


def schema_at_head(migrations_dir: Path, url: str) -> bool:
    """True only if `url` is an existing SQLite file whose alembic_version rows are exactly the
    heads of `migrations_dir`."""
    path = sqlite_path(url)
    heads = head_revisions(migrations_dir)
    if path is None or heads is None or not path.is_file():
        return False
    try:
        # Read-only: this never creates, locks for writing or changes the file.
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True,
                                                timeout=5)) as conn:
            rows = {r[0] for r in conn.execute("SELECT version_num FROM alembic_version")}
    except sqlite3.Error:
        return False
    return rows == heads

