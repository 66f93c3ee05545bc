"""A PostgreSQL primary and hot standby on free ports, for failover tests (issue 17).

The primary is made with `initdb`, the standby with `pg_basebackup -R` from it; replication is
synchronous (the primary names the standby in `synchronous_standby_names`, synchronous_commit
stays on), so a commit a client saw is on both. That setting is given to the primary on its
command line only: it is not in the data folder `pg_basebackup` copies, so a promoted standby
never waits for a standby of its own that does not exist.

`kill_primary` SIGKILLs the postmaster and every backend at once, as if its machine went away
(no backend lingers to finish a transaction or to tell its client goodbye).
"""

from __future__ import annotations

# ctypes is imported here, by root: _die_with_parent imports it again after the child has
# become `postgres`, which cannot read root's Python installation.
import ctypes  # noqa: F401
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from deploy.embedded import _die_with_parent, free_port

STANDBY_NAME = "teke_standby"


def pg_bindir() -> Path:
    """PostgreSQL's programs: `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        found = Path(out.stdout.strip())
        if out.returncode == 0 and (found / "initdb").exists():
            return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not versions:
        raise RuntimeError("no PostgreSQL server programs (initdb) found")
    return versions[-1].parent


def _wait_accepting(bindir: Path, port: int, proc: subprocess.Popen, log: Path,
                    timeout: float) -> None:
    """Until the server takes sessions: a listening port is not enough ("the database
    system is starting up" comes after it); pg_isready says so."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"postgres on {port} exited with {proc.returncode}:\n"
                               f"{log.read_text()[-3000:]}")
        ready = subprocess.run([str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1",
                                "-p", str(port), "-t", "2"])
        if ready.returncode == 0:
            return
        time.sleep(0.05)
    raise RuntimeError(f"postgres on {port} did not start in {timeout}s")


class PgServer:
    """One postmaster on a data folder, started directly (not through pg_ctl) so its pid,
    and from it its backends, are known. Its log goes to `log` (kept after the data goes)."""

    def __init__(self, bindir: Path, data: Path, port: int, user: str | None,
                 options: dict[str, str], log: Path) -> None:
        self.bindir, self.data, self.port, self.user = bindir, data, port, user
        self.options = options
        self.proc: subprocess.Popen | None = None
        self.log = log

    def _account(self) -> dict:
        return {"user": self.user, "group": self.user, "extra_groups": []} if self.user else {}

    def run(self, program: str, *args: str, timeout: float = 120) -> str:
        out = subprocess.run([str(self.bindir / program), *args], capture_output=True, text=True,
                             timeout=timeout, **self._account())
        if out.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(args)} failed:\n{out.stderr[-3000:]}")
        return out.stdout

    def start(self, timeout: float = 60) -> None:
        args = [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        for key, value in self.options.items():
            args += ["-c", f"{key}={value}"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log, preexec_fn=_die_with_parent,
                                         **self._account())
        _wait_accepting(self.bindir, self.port, self.proc, self.log, timeout)

    def pids(self) -> list[int]:
        """The postmaster and its children (each of which postgres makes a session leader of
        its own, so a signal to the postmaster's process group reaches none of them)."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        found = [self.proc.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            if ppid == self.proc.pid:
                found.append(int(stat.parent.name))
        return found

    def kill(self) -> None:
        """SIGKILL the whole server at once, postmaster and every backend, as if its machine
        went away: no backend lingers to answer, or to send a last FATAL to its client."""
        if self.proc is None:
            return
        self.signal_all(signal.SIGKILL)
        self.proc.wait(30)
        self.proc = None

    def signal_all(self, sig: int) -> None:
        """A signal to the postmaster and every backend (SIGSTOP: the server freezes whole)."""
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        """Immediate shutdown (SIGQUIT): no checkpoint, nothing to keep."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None


class PgPair:
    """A synchronous primary/hot-standby pair in a temporary folder. Use as a context manager
    (or call `stop_all` in a finally): both servers and their data go, also on failure; their
    logs stay in `base`."""

    def __init__(self, base: Path) -> None:
        self.bindir = pg_bindir()
        # initdb and postgres refuse to run as root: as root, the servers run as the
        # `postgres` account, in a folder of their own it can reach (pytest's tmp_path is
        # root's, mode 0700).
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            self.root = Path(tempfile.mkdtemp(prefix="teke-pgpair-"))
            pw = pwd.getpwnam(self.user)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        else:
            self.root = Path(base) / "data"
            self.root.mkdir(parents=True, exist_ok=True)
        common = {
            "listen_addresses": "127.0.0.1", "unix_socket_directories": "",
            # We kill processes, not the machine: the OS keeps what was written, so syncing
            # to disk only slows a shared test machine down. Replication is what is tested.
            "fsync": "off", "full_page_writes": "off",
            "shared_buffers": "32MB", "max_connections": "200",
        }
        logs = Path(base)
        logs.mkdir(parents=True, exist_ok=True)
        self.primary = PgServer(self.bindir, self.root / "primary", free_port(), self.user,
                                {**common, "synchronous_standby_names": STANDBY_NAME,
                                 "synchronous_commit": "on"}, logs / "primary.log")
        # cluster_name is the name the standby's WAL receiver gives the primary.
        self.standby = PgServer(self.bindir, self.root / "standby", free_port(), self.user,
                                {**common, "cluster_name": STANDBY_NAME, "hot_standby": "on"},
                                logs / "standby.log")
        self.promote_seconds: float | None = None

    @property
    def ports(self) -> tuple[int, int]:
        return self.primary.port, self.standby.port

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        """One URL for both servers: the client tries each and keeps the writable one."""
        hosts = "&".join(f"host=127.0.0.1:{p}" for p in self.ports)
        return f"{driver}://postgres@/{database}?{hosts}&target_session_attrs=read-write"

    def server_url(self, server: PgServer, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{server.port}/{database}"

    def start(self) -> PgPair:
        p = self.primary
        p.run("initdb", "-D", str(p.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
              "--locale=C", "--no-sync")
        p.start()
        # -R writes standby.signal and primary_conninfo; -X stream takes the WAL with it.
        self.standby.run("pg_basebackup", "-D", str(self.standby.data), "-h", "127.0.0.1",
                         "-p", str(p.port), "-U", "postgres", "-R", "-X", "stream",
                         "-c", "fast", "--no-sync")
        self.standby.start()
        self.wait_synchronous()
        return self

    def psql(self, server: PgServer, sql: str, database: str = "postgres") -> str:
        return server.run("psql", "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres",
                          "-d", database, "-v", "ON_ERROR_STOP=1", "-Atc", sql).strip()

    def wait_synchronous(self, timeout: float = 60) -> None:
        """Until the primary counts the standby as synchronous (it streams as 'async' for a
        moment after connecting)."""
        deadline = time.monotonic() + timeout
        while (state := self.psql(self.primary, "SELECT sync_state FROM pg_stat_replication "
                                                f"WHERE application_name = '{STANDBY_NAME}'")) != "sync":
            if time.monotonic() > deadline:
                raise RuntimeError(f"standby not synchronous in {timeout}s (state {state!r})")
            time.sleep(0.1)

    def create_databases(self, names: list[str]) -> None:
        for name in names:
            self.psql(self.primary, f'CREATE DATABASE "{name}"')

    def stop_all(self) -> None:
        for server in (self.standby, self.primary):
            try:
                server.stop()
            except Exception:
                server.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def kill_primary(self) -> None:
        self.primary.kill()

    def promote_standby(self, timeout: float = 60) -> float:
        """`pg_ctl promote` and wait until it takes writes; returns the seconds it took."""
        t0 = time.monotonic()
        self.standby.run("pg_ctl", "promote", "-D", str(self.standby.data), "-w",
                         "-t", str(int(timeout)), timeout=timeout + 10)
        self.promote_seconds = time.monotonic() - t0
        return self.promote_seconds

    def __enter__(self) -> PgPair:
        try:
            return self.start()
        except BaseException:
            self.stop_all()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop_all()
