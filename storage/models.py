"""SQLAlchemy 2 models. Columns hold plain values: the domain's types live in `alerts/`.

Times are stored as timezone-aware UTC. Lists (themes, subscription specs, payloads) are
JSON text, parsed by the domain so a row that no longer parses can be skipped alone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from typing_extensions import override

# SQLite cannot hold a 64-bit autoincrement BIGINT primary key; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @override
    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC)

    @override
    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Organisation(Base):
    __tablename__ = "organisations"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16), default="config")
    # What the organisation chose to publish in `/who` and `/org` (people: migration 0005).
    contact: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("platform", "user_ref"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    user_ref: Mapped[str] = mapped_column(String(255))
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    role: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(8))
    display_name: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16), default="config")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Loaded with the member in one query: every command needs the organisation's name.
    organisation: Mapped[Organisation] = relationship(lazy="joined")


class Channel(Base):
    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("platform", "address"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(255))
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    language: Mapped[str] = mapped_column(String(8), default="fr")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris")
    quiet: Mapped[str | None] = mapped_column(String(16))
    share_locations: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    inactive_reason: Mapped[str | None] = mapped_column(Text)
    muted_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    source: Mapped[str] = mapped_column(String(16), default="config")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Subscription(Base):
    __tablename__ = "subscriptions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    # JSON {"kinds": [...], "borders": [...], "themes": [...], "min_urgency": "..."}
    spec: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="config")


class Alert(Base):
    """A fact raised by a person: a field alert or a mobilisation call."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_place_created", "place_key", "created_at"),
        # The per-member intake limit counts a member's latest alerts.
        Index("ix_alerts_author_created", "author_member_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    border: Mapped[str | None] = mapped_column(String(64))
    themes: Mapped[str] = mapped_column(Text, default="[]")
    urgency: Mapped[str] = mapped_column(String(8))
    place: Mapped[str | None] = mapped_column(String(200))
    place_key: Mapped[str | None] = mapped_column(String(200))
    people: Mapped[int | None] = mapped_column(Integer)
    minors: Mapped[int | None] = mapped_column(Integer)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    photo: Mapped[str | None] = mapped_column(Text)  # JSON reference to a photo
    author_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    organisation_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    source_platform: Mapped[str | None] = mapped_column(String(16))
    source_chat: Mapped[str | None] = mapped_column(String(255))
    source_message_id: Mapped[str | None] = mapped_column(String(64))
    # `/close N <outcome>` (alerts and mobilisations): status "closed", kept for the digest.
    outcome: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Set by the retention purge, in the transaction that counted the alert and blanked
    # its content: a purge that resumes skips it, so nothing is counted twice.
    purged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AlertRefusal(Base):
    """Alerts a member sent over the per-member limit, until the member is told how many
    (in the receipt of their next relayed alert). No text: what was refused was not kept."""

    __tablename__ = "alert_refusals"
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    refused: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_at: Mapped[datetime] = mapped_column(UtcDateTime())
    told_at: Mapped[datetime] = mapped_column(UtcDateTime())  # the one refusal answer


class Mobilisation(Base):
    """What a mobilisation call adds to its `alerts` row (kind "mobilisation"): its start
    and its deadlines. Deadlines are rows so a restart restores them; `*_done_at` says a
    deadline fired, so it fires once."""

    __tablename__ = "mobilisations"
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    starts_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    escalate_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    remind_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    close_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The live count: edits are debounced; the next one is due at `count_due_at`.
    count_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class MobilisationNeed(Base):
    """One need of a call: a kind (observers, interpreter, lawyer, medical, transport,
    shelter, other) and how many people it takes."""

    __tablename__ = "mobilisation_needs"
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    need: Mapped[str] = mapped_column(String(16), primary_key=True)
    wanted: Mapped[int] = mapped_column(Integer)


class MobilisationAnswer(Base):
    """One person's current answer to a call (going for a need, cannot, withdrawn)."""

    __tablename__ = "mobilisation_answers"
    __table_args__ = (UniqueConstraint("alert_id", "member_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    # NULL once the member is removed or erased: the count survives, the person does not.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    answer: Mapped[str] = mapped_column(String(16))  # going | cannot | withdrawn
    need: Mapped[str | None] = mapped_column(String(16))  # the need a "going" covers
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # When the call's coordinator was told this answer; NULL again when it changes.
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Delivery(Base):
    """The outbox: one message for one chat, kept until the platform took it."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_target_queue", "platform", "address", "status", "priority", "id"),
        Index("ix_deliveries_fact", "fact_type", "fact_id"),
        # Each chat's queue of pending rows, best first: the claim reads chats' heads here.
        Index(
            "ix_deliveries_pending_queue",
            "status",
            "platform",
            "address",
            text("priority DESC"),
            "id",
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(255))
    channel_id: Mapped[str | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"))
    fact_type: Mapped[str] = mapped_column(String(16))  # alert | feed_item | digest | notice
    fact_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    part: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # A client-made unique value lets SQLite batch the fan-out INSERT (insertmanyvalues).
    txn_id: Mapped[str] = mapped_column(String(64), insert_sentinel=True)
    reply_to_delivery_id: Mapped[int | None] = mapped_column(BigInteger)
    edit_of_delivery_id: Mapped[int | None] = mapped_column(BigInteger)
    platform_message_id: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ChatPause(Base):
    """A chat the platform asked us to leave alone until `until` (a 429, a backoff): every
    pending delivery of it waits, those written after the pause too."""

    __tablename__ = "chat_pauses"
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    address: Mapped[str] = mapped_column(String(255), primary_key=True)
    until: Mapped[datetime] = mapped_column(UtcDateTime())


class InboundSeen(Base):
    """Platform update ids already handled: a redelivered update is ignored."""

    __tablename__ = "inbound_seen"
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PlatformState(Base):
    """Small durable values of the relays: Telegram offset, Matrix next_batch, device."""

    __tablename__ = "platform_state"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Conversation(Base):
    """A guided conversation in progress (e.g. the step-by-step alert), restart-safe."""

    __tablename__ = "conversations"
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_ref: Mapped[str] = mapped_column(String(255), primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Feed(Base):
    __tablename__ = "feeds"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(String(200))
    every_seconds: Mapped[int] = mapped_column(Integer)
    themes: Mapped[str] = mapped_column(Text, default="[]")
    borders: Mapped[str] = mapped_column(Text, default="[]")
    keywords: Mapped[str] = mapped_column(Text, default="[]")
    source: Mapped[str] = mapped_column(String(16), default="config")
    added_by: Mapped[str | None] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    pause_notified: Mapped[bool] = mapped_column(Boolean, default=False)
    initialised: Mapped[bool] = mapped_column(Boolean, default=False)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    next_poll_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class FeedItem(Base):
    __tablename__ = "feed_items"
    __table_args__ = (UniqueConstraint("feed_id", "item_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    feed_id: Mapped[str] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    item_key: Mapped[str] = mapped_column(String(512))
    title: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    borders: Mapped[str] = mapped_column(Text, default="[]")
    themes: Mapped[str] = mapped_column(Text, default="[]")
    announced: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Digest(Base):
    """One scheduled digest sent to one audience: a channel (`audience` = its id) or the
    network's archive (`audience` = "*"). The unique key (audience, scheduled_for) makes
    the scheduled job idempotent: a second firing or a second process inserts nothing."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("audience", "scheduled_for"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    audience: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[str | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"))
    scheduled_for: Mapped[datetime] = mapped_column(UtcDateTime())
    period_start: Mapped[datetime] = mapped_column(UtcDateTime())
    period_end: Mapped[datetime] = mapped_column(UtcDateTime())
    # The network row's counts (JSON) for the archive's index and feed; no text, no names.
    totals: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


# --- people (issue #15): invitations, audit log, anonymous counts ---------------------


class Invitation(Base):
    """A code that makes an account a member of an organisation. Only its SHA-256 is
    stored: the code is random and long, so the hash cannot be reversed by guessing."""

    __tablename__ = "invitations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    organisation_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(String(16))
    uses_left: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AuditEntry(Base):
    """Who did what and when. Never the text of an alert; `detail` is a short fact made
    by the code (a role, a count), never user input."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    action: Mapped[str] = mapped_column(String(32))
    # NULL once that member is erased (`/forget`): the entry stays, the person goes.
    actor_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    organisation_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(200))


class AlertCount(Base):
    """Anonymous counts that survive the retention purge: one row per week × border ×
    theme × urgency × kind. Each alert adds 1 to its theme "*" row (the total) and 1 to
    each of its themes' rows; border "" means none."""

    __tablename__ = "alert_counts"
    week_start: Mapped[date] = mapped_column(Date, primary_key=True)
    border: Mapped[str] = mapped_column(String(64), primary_key=True)
    theme: Mapped[str] = mapped_column(String(64), primary_key=True)
    urgency: Mapped[str] = mapped_column(String(8), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
