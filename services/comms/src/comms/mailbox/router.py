"""`GET /admin/comms/mailbox`: the mail the embedded default's local catcher received.

`make run` starts an SMTP catcher that writes each message as `<id>.eml` into the data folder
and sets COMMS_MAILBOX_DIR; comms only reads that folder. Without the setting (compose,
production: a real relay) the endpoints answer 404. Admins only: mail holds personal data.
"""

from __future__ import annotations

import datetime as dt
import email
import re
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from pydantic import BaseModel

from shared.errors import NotFound, Unprocessable, problem_responses
from shared.identity import require_roles
from shared.pagination import Cursor, Limit, decode_cursor, encode_cursor

router = APIRouter(prefix="/admin/comms/mailbox", tags=["admin"],
                   dependencies=[require_roles("admin")],
                   responses=problem_responses(401, 403, 404))

# The catcher names files <nanoseconds>-<random hex>.eml: sorting by name is by arrival.
ID_PATTERN = r"^[0-9]{19,20}-[0-9a-f]{8}$"
MessageId = Annotated[str, PathParam(pattern=ID_PATTERN, max_length=40)]
MAX_TEXT = 200_000  # characters of a body returned; the catcher takes at most 1 MB a message
HEADER = 998  # the longest header line RFC 5322 allows


class MailSummary(BaseModel):
    id: str
    to: str
    sender: str
    subject: str
    date: dt.datetime | None


class MailPage(BaseModel):
    items: list[MailSummary]
    total: int
    next_cursor: str | None = None


class Mail(MailSummary):
    message_id: str | None
    text: str
    html: str | None
    truncated: bool


def _folder(request: Request) -> Path:
    folder = request.state.settings.mailbox_dir
    if not folder:
        raise NotFound("no mailbox: this system sends mail through a real SMTP relay")
    return Path(folder)


def _ids(folder: Path) -> list[str]:
    """Every message's id, newest first."""
    if not folder.is_dir():
        return []
    ids = [p.stem for p in folder.iterdir() if p.suffix == ".eml" and re.match(ID_PATTERN, p.stem)]
    return sorted(ids, reverse=True)


def _read(path: Path, headers_only: bool) -> EmailMessage:
    with path.open("rb") as f:
        if headers_only:
            from email.parser import BytesHeaderParser

            return BytesHeaderParser(policy=default_policy).parse(f)
        return email.message_from_binary_file(f, policy=default_policy)


def _header(msg: EmailMessage, name: str) -> str:
    return str(msg.get(name, ""))[:HEADER]


def _summary(mail_id: str, msg: EmailMessage) -> dict:
    try:
        date = parsedate_to_datetime(msg["Date"]) if msg["Date"] else None
    except (TypeError, ValueError):
        date = None
    return {"id": mail_id, "to": _header(msg, "To"), "sender": _header(msg, "From"),
            "subject": _header(msg, "Subject"), "date": date}


def _body(msg: EmailMessage, kind: str) -> str | None:
    part = msg.get_body(preferencelist=(kind,))
    if part is None:
        return None
    try:
        return part.get_content()
    except (LookupError, ValueError):  # an unknown charset: show what can be shown
        return part.get_payload(decode=True).decode("utf-8", "replace")


@router.get("", summary="Mail the local catcher received", response_model=MailPage,
            name="list_comms_mailbox")
async def list_mailbox(request: Request, limit: Limit = 50, cursor: Cursor = None) -> MailPage:
    """Newest first. Only on the embedded default (`make run`), where no mail leaves the machine."""
    folder = _folder(request)
    ids = _ids(folder)
    after = decode_cursor(cursor)
    start = 0
    if after:
        if len(after) != 1 or not isinstance(after[0], str):
            raise Unprocessable("invalid cursor", errors=[
                {"field": "query/cursor", "type": "value_error", "message": "malformed cursor"}])
        start = next((i for i, x in enumerate(ids) if x < after[0]), len(ids))
    page = ids[start:start + limit]
    items = []
    for mail_id in page:
        try:
            items.append(MailSummary(**_summary(mail_id, _read(folder / f"{mail_id}.eml", True))))
        except FileNotFoundError:  # removed by hand meanwhile
            continue
    more = start + limit < len(ids)
    return MailPage(items=items, total=len(ids),
                    next_cursor=encode_cursor([page[-1]]) if more and page else None)


@router.get("/{mail_id}", summary="One received mail with its text", response_model=Mail,
            name="read_comms_mailbox_mail")
async def read_mail(request: Request, mail_id: MessageId) -> Mail:
    """Headers, the plain-text body (and the HTML one, if any), as the recipient would see them."""
    path = _folder(request) / f"{mail_id}.eml"
    try:
        msg = _read(path, False)
    except FileNotFoundError:
        raise NotFound(f"no mail {mail_id}") from None
    text = _body(msg, "plain") or ""
    html = _body(msg, "html")
    truncated = len(text) > MAX_TEXT or (html is not None and len(html) > MAX_TEXT)
    return Mail(**_summary(mail_id, msg), message_id=_header(msg, "Message-ID") or None,
                text=text[:MAX_TEXT], html=html[:MAX_TEXT] if html is not None else None,
                truncated=truncated)
