"""A three-node NATS JetStream cluster of real nats-server processes, for fault tests.

Each node is the pinned nats-server (`deploy.embedded.nats_server_binary()`) with its own
client, route and monitoring ports and its own store under the given folder; every node lists
every route, so any one can be killed (SIGKILL) and started again on the same ports and store,
and it rejoins. Who leads what is read from the cluster itself: the JetStream meta leader from
a node's monitoring endpoint (/jsz), a stream's leader and replicas from the JetStream API
(`$JS.API.STREAM.INFO.<stream>`), a durable consumer's from `$JS.API.CONSUMER.INFO`.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nats
from nats.js.api import ClusterInfo, StreamInfo

from deploy.embedded import _die_with_parent, free_port, nats_server_binary

CLUSTER_NAME = "teke"


@dataclass
class NatsNode:
    """One nats-server of the cluster: fixed name, ports and store across restarts."""

    name: str
    folder: Path
    client_port: int = field(default_factory=free_port)
    route_port: int = field(default_factory=free_port)
    monitor_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def config(self, routes: list[str]) -> str:
        route_list = ", ".join(f'"{r}"' for r in routes)
        return (
            f'server_name: "{self.name}"\n'
            f"listen: 127.0.0.1:{self.client_port}\n"
            f"http: 127.0.0.1:{self.monitor_port}\n"
            f'jetstream {{ store_dir: "{self.folder / "store"}" }}\n'
            f'cluster {{ name: "{CLUSTER_NAME}", listen: 127.0.0.1:{self.route_port}, '
            f"routes: [{route_list}] }}\n"
        )


class NatsCluster:
    """Three (by default) clustered nats-servers with JetStream; start, kill, restart, stop."""

    def __init__(self, folder: Path, size: int = 3) -> None:
        self.folder = Path(folder)
        self.nodes = [NatsNode(f"n{i}", self.folder / f"n{i}") for i in range(size)]

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    @property
    def url(self) -> str:
        """All client URLs, comma-separated: what a service's *_NATS_URL takes."""
        return ",".join(self.urls)

    def node(self, name: str) -> NatsNode:
        return next(n for n in self.nodes if n.name == name)

    # --- processes ---

    def start(self, timeout: float = 30.0, attempts: int = 3) -> None:
        """Start every node. A port from `free_port()` can be taken by another process before
        nats-server binds it (tests run in parallel here): then all start again on new ports."""
        for attempt in range(attempts):
            for node in self.nodes:
                self._spawn(node)
            try:
                for node in self.nodes:
                    self._wait_listening(node, timeout)
                return
            except RuntimeError:
                self.stop()
                if attempt == attempts - 1:
                    raise
                for node in self.nodes:  # a half-formed cluster's state goes with its ports
                    shutil.rmtree(node.folder, ignore_errors=True)
                self.nodes = [NatsNode(n.name, n.folder) for n in self.nodes]

    def _spawn(self, node: NatsNode) -> None:
        node.folder.mkdir(parents=True, exist_ok=True)
        routes = [f"nats-route://127.0.0.1:{n.route_port}" for n in self.nodes]
        conf = node.folder / "nats.conf"
        conf.write_text(node.config(routes))
        log = open(node.folder / "nats.log", "ab")  # noqa: SIM115
        node.proc = subprocess.Popen([nats_server_binary(), "-c", str(conf)], stdout=log,
                                     stderr=log, preexec_fn=_die_with_parent)

    @staticmethod
    def _wait_listening(node: NatsNode, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if node.proc is None or node.proc.poll() is not None:
                log = (node.folder / "nats.log").read_text(errors="replace")[-800:]
                raise RuntimeError(f"nats-server {node.name} exited:\n{log}")
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", node.client_port), timeout=0.5):
                return
            time.sleep(0.05)
        raise RuntimeError(f"nats-server {node.name} did not listen in {timeout}s")

    def kill(self, name: str) -> None:
        """SIGKILL one node: no goodbye to its peers, nothing flushed."""
        node = self.node(name)
        if node.proc is not None:
            node.proc.send_signal(signal.SIGKILL)
            node.proc.wait(10)
            node.proc = None

    def restart(self, name: str, timeout: float = 30.0) -> None:
        """Start a killed node again on its ports and store; it rejoins and catches up."""
        node = self.node(name)
        if node.running:
            raise RuntimeError(f"{name} is still running")
        self._spawn(node)
        self._wait_listening(node, timeout)

    def stop(self) -> None:
        for node in self.nodes:
            if node.running:
                node.proc.send_signal(signal.SIGTERM)
        for node in self.nodes:
            if node.proc is not None:
                try:
                    node.proc.wait(10)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait()
                node.proc = None

    # --- who leads ---

    async def meta_leader(self) -> str | None:
        """The JetStream meta leader's server name as a running node sees it, or None."""
        async with httpx.AsyncClient(timeout=2) as client:
            for node in self.nodes:
                if not node.running:
                    continue
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    r = await client.get(f"http://127.0.0.1:{node.monitor_port}/jsz")
                    leader = (r.json().get("meta_cluster") or {}).get("leader")
                    if leader:
                        return leader
        return None

    async def stream_info(self, stream: str) -> StreamInfo | None:
        """`$JS.API.STREAM.INFO.<stream>` (config, state, cluster), or None if none answers."""
        return await self._ask(lambda js: js.stream_info(stream))

    async def stream_cluster(self, stream: str) -> ClusterInfo | None:
        """The stream's leader and followers, or None."""
        info = await self.stream_info(stream)
        return info.cluster if info is not None else None

    async def consumer_cluster(self, stream: str, durable: str) -> ClusterInfo | None:
        info = await self._ask(lambda js: js.consumer_info(stream, durable))
        return info.cluster if info is not None else None

    async def stream_leader(self, stream: str) -> str | None:
        info = await self.stream_cluster(stream)
        return info.leader if info is not None else None

    async def _ask(self, call):
        urls = [n.url for n in self.nodes if n.running]
        if not urls:
            return None
        nc = None
        try:
            nc = await nats.connect(urls, connect_timeout=2, allow_reconnect=False)
            return await call(nc.jetstream(timeout=3))
        except Exception:  # no leader yet, or not found yet: the caller waits and asks again
            return None
        finally:
            if nc is not None:
                with contextlib.suppress(Exception):
                    await nc.close()

    async def wait_current(self, stream: str, durables: tuple[str, ...] = (),
                           replicas: int = 3, timeout: float = 120.0) -> str:
        """Wait until there is a meta leader, and the stream (and each named durable consumer)
        has a leader and `replicas - 1` followers that are all online and current. Returns
        the stream's leader."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            last = "no meta leader"
            if await self.meta_leader():
                last = await self.stream_cluster(stream)
                if _all_current(last, replicas):
                    consumers = [await self.consumer_cluster(stream, d) for d in durables]
                    if all(_all_current(c, replicas) for c in consumers):
                        return last.leader
                    last = consumers
            await asyncio.sleep(0.5)
        raise AssertionError(f"{stream} not led and current in {timeout}s (last: {last!r})")


def _all_current(info: ClusterInfo | None, replicas: int) -> bool:
    if info is None or not info.leader:
        return False
    followers = info.replicas or []
    return (len(followers) == replicas - 1
            and all(p.current and not p.offline for p in followers))
