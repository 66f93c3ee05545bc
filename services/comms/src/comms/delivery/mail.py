"""Building the e-mails: Message-ID per delivery (receivers can dedupe), RFC 8058 unsubscribe."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate
from typing import Any


def build(sender: str, delivery_id: str, to: str, subject: str, text: str,
          html: str | None, unsubscribe_url: str | None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    # The same delivery always has the same Message-ID, so a resend after a crash is dedupable.
    msg["Message-ID"] = f"<{delivery_id}@teke.fi>"
    msg["X-Teke-Delivery-Id"] = delivery_id
    if unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        text = f"{text}\n\n--\nUnsubscribe / Peru tilaus: {unsubscribe_url}\n"
        if html:
            html = f'{html}<hr><p><a href="{unsubscribe_url}">Unsubscribe / Peru tilaus</a></p>'
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    return msg


# Plain tokens: the header parsers accept them and they survive rendering unchanged.
_TO, _ID, _UNSUB = "tekeplaceholderto", "tekeplaceholderid", "https://tekeplaceholder.invalid/unsub"


def template(sender: str, subject: str, text: str, html: str | None) -> bytes:
    """A newsletter rendered once with placeholders (8bit parts, so they stay verbatim)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = _TO
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = f"<{_ID}@teke.fi>"
    msg["X-Teke-Delivery-Id"] = _ID
    msg["List-Unsubscribe"] = f"<{_UNSUB}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(f"{text}\n\n--\nUnsubscribe / Peru tilaus: {_UNSUB}\n", cte="8bit")
    if html:
        msg.add_alternative(f'{html}<hr><p><a href="{_UNSUB}">Unsubscribe / Peru tilaus</a></p>',
                            subtype="html", cte="8bit")
    return msg.as_bytes(policy=SMTP_POLICY)


def fill(tpl: bytes, to: str, delivery_id: str, unsubscribe_url: str) -> bytes:
    """One recipient's copy: their address, their Message-ID, their unsubscribe link."""
    return (tpl.replace(_TO.encode(), to.encode()).replace(_ID.encode(), delivery_id.encode())
            .replace(_UNSUB.encode(), unsubscribe_url.encode()))


def newsletter_parts(item: dict[str, Any], language: str) -> tuple[str, str, str]:
    """(subject, text, html) of a published item in one language (Finnish if missing)."""
    title = item["title"].get(language) or item["title"]["fi"]
    text = item["body"].get(language) or item["body"].get("fi") or ""
    html = item["body_html"].get(language) or item["body_html"].get("fi") or ""
    return title, text, f"<h1>{_esc(title)}</h1>{html}"


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
