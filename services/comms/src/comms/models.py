"""Comms tables (its own database)."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import UTCDateTime, make_base, new_id, new_metadata, utcnow
from shared.events.tables import make_event_tables
from shared.projections import make_project_projection

metadata = new_metadata()
Base = make_base(metadata)
outbox_table, inbox_table, dead_letter_table = make_event_tables(metadata)
project_projection = make_project_projection(metadata)


_counter = itertools.count()


def next_seq() -> int:
    return time.time_ns() // 1000 * 1000 + next(_counter) % 1000


class Plan(Base):
    """A communication plan for the theme or one project."""

    __tablename__ = "plan"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    scope: Mapped[str] = mapped_column(String(20))  # theme | project
    project_id: Mapped[str | None] = mapped_column(String(36), index=True)
    title: Mapped[dict[str, Any]] = mapped_column(JSON)
    objectives: Mapped[list[Any]] = mapped_column(JSON, default=list)
    audiences: Mapped[list[Any]] = mapped_column(JSON, default=list)
    key_messages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    means: Mapped[list[Any]] = mapped_column(JSON, default=list)
    channels: Mapped[list[Any]] = mapped_column(JSON, default=list)
    audience_kind: Mapped[str] = mapped_column(String(20), default="external")
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    expected_results: Mapped[list[Any]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContentItem(Base):
    __tablename__ = "content_item"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True, default="draft")
    title: Mapped[dict[str, Any]] = mapped_column(JSON)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)  # Markdown per language
    body_html: Mapped[dict[str, Any]] = mapped_column(JSON)  # sanitised HTML per language
    project_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    practice_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    indicator_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    themes: Mapped[list[str]] = mapped_column(JSON, default=list)
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    target_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)  # web, email
    plan_id: Mapped[str | None] = mapped_column(String(36), index=True)
    event_id: Mapped[str | None] = mapped_column(String(36))
    organisation_id: Mapped[str | None] = mapped_column(String(36), index=True)
    source_event_id: Mapped[str | None] = mapped_column(String(80), unique=True)
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_content_item_due", "status", "scheduled_at"),)


class ContentTransition(Base):
    """Who moved an item along its workflow, and when."""

    __tablename__ = "content_transition"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    item_id: Mapped[str] = mapped_column(ForeignKey("content_item.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DraftRule(Base):
    """Data that decides which incoming events become draft items (coordinators edit it)."""

    __tablename__ = "draft_rule"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    event_type: Mapped[str] = mapped_column(String(200), index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    kind: Mapped[str] = mapped_column(String(30))
    # Payload field -> required value (all must match), e.g. {"to_status": "ended"}.
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    title_template: Mapped[dict[str, Any]] = mapped_column(JSON)
    body_template: Mapped[dict[str, Any]] = mapped_column(JSON)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(200), default="system")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Event(Base):
    """A regional workshop, national day or webinar."""

    __tablename__ = "event"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[dict[str, Any]] = mapped_column(JSON)
    description: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    place: Mapped[str | None] = mapped_column(String(300))
    online_url: Mapped[str | None] = mapped_column(String(500))
    region_code: Mapped[str | None] = mapped_column(String(2))
    capacity: Mapped[int] = mapped_column(Integer)
    plan_id: Mapped[str | None] = mapped_column(String(36), index=True)
    project_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Registration(Base):
    __tablename__ = "registration"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    language: Mapped[str] = mapped_column(String(2), default="fi")
    status: Mapped[str] = mapped_column(String(20))  # confirmed | waitlisted | cancelled
    seq: Mapped[int] = mapped_column(Integer)  # arrival order, for the waiting list
    cancel_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Subscriber(Base):
    """Personal data: never public; erased on request."""

    __tablename__ = "subscriber"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    language: Mapped[str] = mapped_column(String(2))
    themes: Mapped[list[str]] = mapped_column(JSON, default=list)
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    target_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), index=True)  # pending | confirmed | unsubscribed
    confirm_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    unsubscribe_token: Mapped[str] = mapped_column(String(64), unique=True)
    consent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    unsubscribed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RateMark(Base):
    """One confirmation mail sent for a key (address hash or client hash): abuse limits."""

    __tablename__ = "rate_mark"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(80), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ErasureCount(Base):
    """Anonymous counts kept after erasure (subscribers, registrations, deliveries)."""

    __tablename__ = "erasure_count"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    subscribers: Mapped[int] = mapped_column(Integer, default=0)
    confirmed_subscribers: Mapped[int] = mapped_column(Integer, default=0)
    registrations: Mapped[int] = mapped_column(Integer, default=0)
    deliveries: Mapped[int] = mapped_column(Integer, default=0)


class WebhookSubscription(Base):
    """A regional system's or publishing tool's endpoint, with the events it wants."""

    __tablename__ = "webhook_subscription"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(1000))
    secret: Mapped[str] = mapped_column(String(128))
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: all
    purpose: Mapped[str] = mapped_column(String(20), default="events")  # events | social
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    organisation_id: Mapped[str | None] = mapped_column(String(36))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SocialAccount(Base):
    __tablename__ = "social_account"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    platform: Mapped[str] = mapped_column(String(30))
    handle: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[str | None] = mapped_column(String(36))
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscription.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("platform", "handle"),)


class PlatformRule(Base):
    """Length and link rules per platform (data, not code)."""

    __tablename__ = "platform_rule"
    platform: Mapped[str] = mapped_column(String(30), primary_key=True)
    max_length: Mapped[int] = mapped_column(Integer)
    link_length: Mapped[int | None] = mapped_column(Integer)  # links count as this many chars
    max_links: Mapped[int] = mapped_column(Integer, default=1)
    links_allowed: Mapped[bool] = mapped_column(Boolean, default=True)


class SocialPost(Base):
    __tablename__ = "social_post"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("social_account.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(1000))
    item_id: Mapped[str | None] = mapped_column(String(36))
    scheduled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="scheduled")  # scheduled | handed_over
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (Index("ix_social_post_due", "status", "scheduled_at"),)


class Delivery(Base):
    """One message to one recipient over one channel; claimed and marked so none is sent twice."""

    __tablename__ = "delivery"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # Increasing arrival order: webhooks for one entity go out in this order.
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), index=True,
                                     default=next_seq)
    channel: Mapped[str] = mapped_column(String(20))  # email | webhook | social
    purpose: Mapped[str] = mapped_column(String(30))  # newsletter, confirm, event, registration ...
    item_id: Mapped[str | None] = mapped_column(String(36), index=True)
    recipient: Mapped[str] = mapped_column(String(1000))
    subscriber_id: Mapped[str | None] = mapped_column(String(36), index=True)
    webhook_id: Mapped[str | None] = mapped_column(String(36), index=True)
    entity_key: Mapped[str | None] = mapped_column(String(200))
    # The event a webhook delivery carries: a replayed stream does not send it again.
    source_id: Mapped[str | None] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))  # queued | sending | sent | retrying | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_delivery_due", "status", "next_attempt_at"),
                      Index("ix_delivery_source", "webhook_id", "source_id"),
                      # The in-order-per-entity check looks for older open rows of the same entity.
                      Index("ix_delivery_entity_order", "webhook_id", "entity_key", "seq"))
