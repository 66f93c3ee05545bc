"""The embedded default's mail catcher, and the mailbox endpoint where no catcher is configured
(the endpoint with a catcher is exercised by tests/test_make_run.py, through `make run`)."""

from __future__ import annotations

import email
import smtplib
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest

from deploy.embedded import MailCatcher
from tests.comms.helpers import client


def test_catcher_keeps_each_message_whole_in_the_folder(tmp_path):
    catcher = MailCatcher(tmp_path / "mail")
    (tmp_path / "mail").mkdir()
    (tmp_path / "mail" / ".0-dead.tmp").write_bytes(b"half")  # left by a crash mid-write
    catcher.start()
    try:
        for n in range(3):
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "a@example.fi", f"b{n}@example.fi", f"Hei {n} äö"
            msg.set_content(f"Rivi {n}: ääkköset pysyvät")
            with smtplib.SMTP("127.0.0.1", catcher.port, timeout=10) as smtp:
                smtp.send_message(msg)
        with smtplib.SMTP("127.0.0.1", catcher.port, timeout=10) as smtp, \
                pytest.raises(smtplib.SMTPException):
            smtp.sendmail("a@example.fi", ["big@example.fi"], b"x" * (MailCatcher.MAX_MESSAGE + 10))
    finally:
        catcher.stop()
    files = sorted((tmp_path / "mail").iterdir())
    assert [f.suffix for f in files] == [".eml"] * 3  # no temporary file is left, none too big
    read = [email.message_from_bytes(f.read_bytes(), policy=default_policy) for f in files]
    assert [m["To"] for m in read] == ["b0@example.fi", "b1@example.fi", "b2@example.fi"]  # by arrival
    assert read[2]["Subject"] == "Hei 2 äö"
    assert read[2].get_content().strip() == "Rivi 2: ääkköset pysyvät"
    assert catcher.comms_env()["COMMS_MAILBOX_DIR"] == str(tmp_path / "mail")


async def test_no_mailbox_without_a_catcher(stack):
    """The suite's comms sends to a real SMTP peer (as compose and production do): no mailbox."""
    async with client(stack, "admin") as admin:
        for path in ("/admin/comms/mailbox", "/admin/comms/mailbox/01796473568962216601-cd0056a2"):
            r = await admin.get(path)
            assert r.status_code == 404, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
    async with client(stack, "coordinator") as coordinator:
        assert (await coordinator.get("/admin/comms/mailbox")).status_code == 403
