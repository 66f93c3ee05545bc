"""Messages to the ministries (kind `ministry_message`): drafted from forwarded service needs,
read only by national roles and the ministries, never public. Publishing one sends it by e-mail
to the ministries' listed addresses (settings `ministry_addresses`) and to nobody else: no
`content.published` event, no newsletter, no webhooks, no feed."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from comms.delivery import mail, queue
from comms.models import ContentItem

KIND = "ministry_message"


def is_ministry(item: ContentItem) -> bool:
    return item.kind == KIND


async def send(session: AsyncSession, item: ContentItem, addresses: Sequence[str]) -> int:
    """One mail per listed address, in Finnish with the Swedish text after it when there is one."""
    view = {"title": item.title, "body": item.body, "body_html": item.body_html}
    subject, text, html = mail.newsletter_parts(view, "fi")
    if item.body.get("sv"):
        sv_subject, sv_text, sv_html = mail.newsletter_parts(view, "sv")
        text, html = f"{text}\n\n---\n\n{sv_subject}\n\n{sv_text}", f"{html}<hr>{sv_html}"
    for to in addresses:
        await queue.mail(session, KIND, to, subject, text, html=html, item_id=item.id)
    return len(addresses)
