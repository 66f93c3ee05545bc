"""Backup and restore of a running TEKE system (`make backup`, `make restore`).

A backup is one folder: each database (SQLite: a file copied by SQLite's online backup API;
PostgreSQL: a `pg_dump` custom-format archive), the data folder's secrets (they sign the
internal tokens and pepper the API keys: without them issued keys and tokens stop working),
the embedded mail catcher's folder, and manifest.json. The system keeps running and writing.

Each database is a consistent snapshot of its own, so the copies are taken consumers first,
producers after (comms, indicators, registry; the gateway last): every event a consumer's copy
has applied is then in its producer's copy too. Events a producer committed after its
consumer's copy was taken are in the producer's outbox, which keeps published rows for
*_OUTBOX_RETENTION_SECONDS. The NATS store is not backed up: a restore starts with an empty
one, the services create the streams again, and the restore marks every row the producers'
outboxes kept as unpublished, so the relays publish them again and each consumer receives what
its copy is missing; the consumers' inbox turns away what they had already applied.

Restore into a fresh data folder (SQLite) or fresh, empty databases (PostgreSQL, made with
`createdb`; the *_DATABASE_URL variables name them, as for `make run`), then start TEKE.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

from deploy.embedded import ROOT, SERVICES
from shared.startup import sqlite_path

# Consumers before their producers (comms consumes indicators and registry; indicators consumes
# registry); the gateway's keys and idempotency records last.
ORDER = ("comms", "indicators", "registry", "gateway")
PRODUCERS = SERVICES  # each keeps an outbox
KEPT_FILES = ("secrets.json",)
KEPT_FOLDERS = ("mail",)
MANIFEST = "manifest.json"
# Rows the outbox still keeps are all younger than this: "republish everything kept".
EVERYTHING_KEPT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def database_urls(data_dir: Path) -> dict[str, str]:
    """Each database's URL as `make run` uses it: <NAME>_DATABASE_URL, or SQLite in the data
    folder (the same default as `deploy.embedded.Stack`)."""
    return {name: os.environ.get(f"{name.upper()}_DATABASE_URL")
            or f"sqlite+aiosqlite:///{data_dir / name}.db" for name in ORDER}


def libpq_url(url: str) -> str:
    """An SQLAlchemy PostgreSQL URL (postgresql+asyncpg://...) as pg_dump and pg_restore take it."""
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


def _run(args: list[str]) -> None:
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({out.returncode}):\n{out.stderr[-3000:]}")


def _sqlite_copy(source: Path, target: Path) -> None:
    """One backup step with every page (pages=-1): one read transaction, so a consistent
    snapshot, while the services' writers go on (WAL). The copy is one self-contained file."""
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=60)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
        check = dst.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise RuntimeError(f"the copy of {source} fails its check: {check}")
    finally:
        dst.close()
        src.close()
    os.replace(tmp, target)


def backup(dest: Path, db_urls: dict[str, str], data_dir: Path | None = None) -> dict:
    """Copies every database (in ORDER) and the data folder's secrets into `dest` (new)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=False)
    entries = []
    t0 = time.monotonic()
    for name in ORDER:
        started = time.monotonic()
        path = sqlite_path(db_urls[name])
        if path is not None:
            if not path.is_file():
                raise RuntimeError(f"{name}: no database at {path}")
            file = f"{name}.db"
            _sqlite_copy(path, dest / file)
        else:
            file = f"{name}.dump"
            # One snapshot of the whole database: outbox and inbox agree with the data.
            _run(["pg_dump", "--format=custom", f"--file={dest / file}",
                  f"--dbname={libpq_url(db_urls[name])}"])
        entries.append({"name": name, "file": file,
                        "taken_at": dt.datetime.now(dt.UTC).isoformat(),
                        "seconds": round(time.monotonic() - started, 3)})
    kept = []
    if data_dir is not None:
        for f in KEPT_FILES:
            if (Path(data_dir) / f).is_file():
                shutil.copy2(Path(data_dir) / f, dest / f)
                kept.append(f)
        for d in KEPT_FOLDERS:
            if (Path(data_dir) / d).is_dir():
                shutil.copytree(Path(data_dir) / d, dest / d)
                kept.append(d)
    manifest = {"databases": entries, "kept": kept,
                "seconds": round(time.monotonic() - t0, 3)}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


async def _republish(db_urls: dict[str, str]) -> dict[str, int]:
    from shared.db import create_engine, make_sessionmaker
    from shared.events.nats_conn import NatsConnection
    from shared.events.outbox import Relay

    marked = {}
    for name in PRODUCERS:
        table = importlib.import_module(f"{name}.models").outbox_table
        engine = create_engine(db_urls[name], pool_size=1)
        try:
            # Only the database is touched here; the relay of the started service publishes.
            relay = Relay(make_sessionmaker(engine), table, NatsConnection("", "restore"))
            marked[name] = await relay.republish_since(EVERYTHING_KEPT)
        finally:
            await engine.dispose()
    return marked


def restore(src: Path, db_urls: dict[str, str], data_dir: Path | None = None) -> dict:
    """Restores the backup in `src` into fresh databases and a fresh data folder, and marks
    the producers' kept outbox rows for publishing again (see the module's docstring)."""
    src = Path(src)
    manifest = json.loads((src / MANIFEST).read_text())
    t0 = time.monotonic()
    if data_dir is not None:
        data_dir = Path(data_dir)
        store = data_dir / "nats"
        if store.exists() and any(store.iterdir()):
            # Its streams and consumer positions belong to the system the backup came from.
            raise RuntimeError(f"{store} is not empty: restore into a fresh data folder")
    for entry in manifest["databases"]:
        name, file = entry["name"], src / entry["file"]
        url = db_urls[name]
        target = sqlite_path(url)
        if file.suffix == ".db":
            if target is None:
                raise RuntimeError(f"{name}: a SQLite backup restores into SQLite, not {url}")
            if target.exists():
                raise RuntimeError(f"{name}: {target} exists; restore into a fresh data folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".tmp")
            shutil.copyfile(file, tmp)
            os.replace(tmp, target)
        else:
            if target is not None:
                raise RuntimeError(f"{name}: a PostgreSQL backup restores into PostgreSQL")
            # One transaction: into a database that is not empty it fails and changes nothing.
            _run(["pg_restore", "--exit-on-error", "--single-transaction", "--no-owner",
                  "--no-privileges", f"--dbname={libpq_url(url)}", str(file)])
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        for f in manifest["kept"]:
            if (src / f).is_dir():
                shutil.copytree(src / f, data_dir / f, dirs_exist_ok=True)
            else:
                existing = data_dir / f
                if existing.exists() and existing.read_bytes() != (src / f).read_bytes():
                    raise RuntimeError(f"{existing} differs from the backup's; "
                                       "restore into a fresh data folder")
                shutil.copy2(src / f, existing)
    marked = asyncio.run(_republish(db_urls))
    return {"republish": marked, "seconds": round(time.monotonic() - t0, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.backup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("TEKE_DATA", str(ROOT / "data")),
                        help="the data folder (default: data, as for `make run`)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("backup", help="copy the running system into a new folder")
    b.add_argument("--to", help="the new folder (default: backups/<UTC time>)")
    r = sub.add_parser("restore", help="restore a backup into a fresh data folder or databases")
    r.add_argument("--from", dest="source", required=True, help="a folder `backup` made")
    args = parser.parse_args()
    data = Path(args.data).resolve()
    urls = database_urls(data)
    try:
        _command(args, data, urls)
    except (RuntimeError, FileExistsError, FileNotFoundError) as e:
        raise SystemExit(f"{args.cmd}: {e}") from None


def _command(args: argparse.Namespace, data: Path, urls: dict[str, str]) -> None:
    if args.cmd == "backup":
        dest = Path(args.to or ROOT / "backups" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
        manifest = backup(dest, urls, data)
        print(f"backup of {', '.join(e['name'] for e in manifest['databases'])} "
              f"(+ {', '.join(manifest['kept']) or 'no data-folder files'}) in {dest}, "
              f"{manifest['seconds']:.1f} s")
    else:
        result = restore(Path(args.source), urls, data)
        marked = ", ".join(f"{k} {v}" for k, v in result["republish"].items())
        print(f"restored into {data} in {result['seconds']:.1f} s; outbox rows to publish "
              f"again: {marked}. Start TEKE (`make run`) with a fresh NATS store.")


if __name__ == "__main__":
    main()
