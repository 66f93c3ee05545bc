"""Real local peers for the comms channels: an SMTP server (aiosmtpd) and a webhook receiver."""

from __future__ import annotations

import asyncio
import email
import json
import threading
from email.message import Message
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer  # noqa: N811

from comms.delivery.signing import verify
from deploy.embedded import free_port


class SmtpSink:
    """Accepts mail on 127.0.0.1; keeps every message; can refuse chosen recipients."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refuse: set[str] = set()
        self.delay = 0.0  # seconds per message, to make a fan-out last long enough to interrupt
        self.lock = threading.Lock()
        self.port = free_port()
        sink = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
                if address.lower() in sink.refuse:
                    return "550 5.1.1 no such user"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                if sink.delay:
                    await asyncio.sleep(sink.delay)
                msg = email.message_from_bytes(envelope.content, policy=default_policy)
                with sink.lock:
                    sink.messages.append(msg)
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     server_kwargs={"data_size_limit": 10_000_000})

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


def text_of(msg: Message) -> str:
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part else ""


class WebhookReceiver:
    """HTTP on 127.0.0.1: /hooks/<name> verifies the HMAC signature with that name's secret."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.fail_next: dict[str, int] = {}  # name -> how many requests to answer 503
        self.fail_every: dict[str, int] = {}  # name -> answer 503 to every n-th request
        self.received: list[dict] = []
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        self.port = free_port()
        recv = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):  # noqa: N802
                name = self.path.rstrip("/").split("/")[-1]
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with recv.lock:
                    recv.counts[name] = recv.counts.get(name, 0) + 1
                    n = recv.counts[name]
                    secret = recv.secrets.get(name)
                    ok = secret is not None and verify(secret, headers, body)
                    fail = recv.fail_next.get(name, 0) > 0
                    if fail:
                        recv.fail_next[name] -= 1
                    every = recv.fail_every.get(name)
                    if every and n % every == 0:
                        fail = True
                    if ok and not fail:
                        recv.received.append({"name": name, "headers": headers, "body": json.loads(body)})
                status = 401 if not ok else (503 if fail else 200)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()

    def got(self, name: str) -> list[dict]:
        with self.lock:
            return [r for r in self.received if r["name"] == name]


def comms_env(smtp: SmtpSink, hooks: WebhookReceiver) -> dict[str, str]:
    """Test settings for the comms process: local peers, fast retries, loopback allowed."""
    return {
        "COMMS_SMTP_HOST": "127.0.0.1", "COMMS_SMTP_PORT": str(smtp.port),
        "COMMS_PUBLIC_BASE_URL": "https://teke.test",
        "COMMS_WEBHOOK_ALLOW_NETWORKS": '["127.0.0.1/32"]',
        "COMMS_WEBHOOK_BACKOFF_SECONDS": "[0.2, 0.4, 0.8]",
        "COMMS_EMAIL_BACKOFF_SECONDS": "[0.2, 0.4]",
        "COMMS_DELIVERY_POLL_SECONDS": "0.2", "COMMS_SCHEDULER_POLL_SECONDS": "0.3",
        "COMMS_CONFIRM_MAILS_PER_CLIENT_HOUR": "1000",
        "COMMS_MINISTRY_ADDRESSES": '["kirjaamo@tem.test", "kirjaamo@stm.test"]',
    }


_ = SMTPServer
