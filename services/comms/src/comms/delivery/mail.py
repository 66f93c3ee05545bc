"""Building the e-mails: Message-ID per delivery (receivers can dedupe), RFC 8058 unsubscribe."""

from __future__ import annotations

from email.message import EmailMessage
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


def newsletter_parts(item: dict[str, Any], language: str) -> tuple[str, str, str]:
    """(subject, text, html) of a published item in one language (Finnish if missing)."""
    title = item["title"].get(language) or item["title"]["fi"]
    text = item["body"].get(language) or item["body"].get("fi") or ""
    html = item["body_html"].get(language) or item["body_html"].get("fi") or ""
    return title, text, f"<h1>{_esc(title)}</h1>{html}"


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
