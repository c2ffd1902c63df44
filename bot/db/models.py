"""The tables, as typed SQLAlchemy models.

Every change here needs a migration in ``bot/db/migrations/versions`` (the
tests compare the models with the migrated schema).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.db.types import UTCDateTime, utcnow


class Base(DeclarativeBase):
    pass


class UnansweredQuestion(Base):
    """A buyer's question the knowledge base did not answer well.

    ``reason``: ``no_answer`` (nothing plausible), ``suggested`` (only "did you
    mean" buttons), ``not_understood`` (the NLU fallback found no confident
    entry either) or ``not_helpful`` (answered, and the buyer said it did not
    help; ``entry_id`` is the entry that was answered). Admins read these,
    grouped by similarity, to see which entry to add or improve next.
    """

    __tablename__ = "unanswered_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    conversation_id: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(16))
    entry_id: Mapped[str | None] = mapped_column(String(80), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_unanswered_questions_created_at", "created_at"),)


class AnswerFeedback(Base):
    """A buyer's reply to "Did this help?" after a knowledge-base answer."""

    __tablename__ = "answer_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128))
    entry_id: Mapped[str] = mapped_column(String(80))
    language: Mapped[str] = mapped_column(String(8))
    question: Mapped[str] = mapped_column(Text, default="")
    helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_answer_feedback_entry_id", "entry_id"),
        Index("ix_answer_feedback_created_at", "created_at"),
    )


class StaffMember(Base):
    """A person of the seller's team: agent, manager (looks after VIP customers) or admin.

    ``password_hash`` is scrypt (bot/staff/passwords.py); ``team`` names the
    business hours that apply (data/service.yml); ``last_seen_at`` is refreshed
    while their console is open, so "online" means seen in the last minutes.
    """

    __tablename__ = "staff_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # agent | manager | admin
    languages: Mapped[str] = mapped_column(String(64), default="")  # "en es", what they read
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    team: Mapped[str] = mapped_column(String(32), default="support")
    #: The staff member's own switch: "I am taking conversations" (within their hours).
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    customers: Mapped[list[Customer]] = relationship(back_populates="manager", lazy="raise_on_sql")


class Customer(Base):
    """A buyer the store knows (from its order export or the demo data)."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The store's own customer id (what the signed customer token carries).
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    preferred_language: Mapped[str | None] = mapped_column(String(8), default=None)
    tier: Mapped[str] = mapped_column(String(8), default="standard")  # standard | vip
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    manager: Mapped[StaffMember | None] = relationship(back_populates="customers", lazy="raise_on_sql")
    orders: Mapped[list[Order]] = relationship(back_populates="customer", lazy="raise_on_sql")


class Order(Base):
    """An order as the store exported it. ``number`` is normalised (see bot/orders/numbers.py)."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True, default=None)
    #: The email the order was placed with, lower-case (checked for anonymous buyers).
    email: Mapped[str] = mapped_column(String(254))
    #: The shipping postcode, upper-case without spaces (the alternative check).
    shipping_postcode: Mapped[str] = mapped_column(String(16), default="")
    shipping_country: Mapped[str] = mapped_column(String(2), default="")
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    shipping_total: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    tax_total: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    status: Mapped[str] = mapped_column(String(20))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer | None] = relationship(back_populates="orders", lazy="raise_on_sql")
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", lazy="raise_on_sql", order_by="OrderItem.id"
    )
    shipments: Mapped[list[Shipment]] = relationship(
        back_populates="order", cascade="all, delete-orphan", lazy="raise_on_sql", order_by="Shipment.id"
    )


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(64), default="")
    name: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))

    order: Mapped[Order] = relationship(back_populates="items", lazy="raise_on_sql")


class Shipment(Base):
    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    carrier: Mapped[str] = mapped_column(String(64))
    tracking_number: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    estimated_delivery: Mapped[date | None] = mapped_column(Date, default=None)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    order: Mapped[Order] = relationship(back_populates="shipments", lazy="raise_on_sql")
    checkpoints: Mapped[list[Checkpoint]] = relationship(
        back_populates="shipment",
        cascade="all, delete-orphan",
        lazy="raise_on_sql",
        order_by="Checkpoint.happened_at",
    )


class Checkpoint(Base):
    """One scan of a parcel: when, where, what (the carrier's words, in English)."""

    __tablename__ = "shipment_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    happened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    place: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="in_transit")

    shipment: Mapped[Shipment] = relationship(back_populates="checkpoints", lazy="raise_on_sql")


class Conversation(Base):
    """One buyer's chat, by the widget's conversation id."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True, default=None)
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ConversationMessage(Base):
    """Everything said in a conversation, by the buyer, the bot or a person."""

    __tablename__ = "conversation_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    sender: Mapped[str] = mapped_column(String(8))  # buyer | bot | staff
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # buttons, payloads
    client_msg_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: A buyer message's progress: pending (claimed, being answered), answered, failed
    #: (the assistant was unavailable: a retry claims it again). None: not a buyer message.
    state: Mapped[str | None] = mapped_column(String(10), default=None)
    #: When the pending claim was taken (a claim older than the assistant's timeout is stale).
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: The buyer message a bot reply answers.
    reply_to_id: Mapped[int | None] = mapped_column(Integer, default=None)

    __table_args__ = (
        Index("ix_conversation_messages_conversation", "conversation_id", "id"),
        UniqueConstraint("conversation_id", "client_msg_id", name="uq_conversation_messages_client_msg"),
    )


class LookupAttempt(Base):
    """An order lookup by an anonymous buyer; failures count towards the lockout."""

    __tablename__ = "lookup_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128))
    client_address: Mapped[str] = mapped_column(String(64), default="")
    order_number: Mapped[str] = mapped_column(String(32), default="")
    succeeded: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_lookup_attempts_conversation", "conversation_id", "created_at"),
        Index("ix_lookup_attempts_client", "client_address", "created_at"),
    )


class LookupGuard(Base):
    """One row per conversation and per client address that has looked up an order.

    A lookup takes this row's lock (an upsert) before it counts the failures and
    records its own, so concurrent guesses queue behind each other and the lockout
    counts every one of them: on PostgreSQL the row lock, on SQLite the write lock.
    """

    __tablename__ = "lookup_guards"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # "conversation:…" | "address:…"
    touched_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StaffSession(Base):
    """A signed-in console. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie token
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    staff: Mapped[StaffMember] = relationship(lazy="raise_on_sql")


class Escalation(Base):
    """A conversation handed to a person, with the context they need.

    ``status``: queued (waiting), claimed (a person has it), resolved. ``assigned_to``
    is who it was routed to (a VIP's manager, or any on-duty manager); the general
    queue has nobody. ``due_at`` is the first-response target for the tier.
    """

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), default=None)
    tier: Mapped[str] = mapped_column(String(8), default="standard")
    language: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(32))
    order_number: Mapped[str | None] = mapped_column(String(32), default=None)
    #: The order number was proven: looked up with its proof in this conversation, or
    #: the signed-in customer's own order. Otherwise it is only what the buyer typed.
    order_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    route: Mapped[str] = mapped_column(String(10), default="queue")  # manager | managers | queue
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"), default=None)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"), default=None)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    contact_email: Mapped[str | None] = mapped_column(String(254), default=None)
    buyer_time_zone: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    __table_args__ = (Index("ix_escalations_queue", "status", "priority", "due_at"),)


class EscalationNote(Base):
    """An internal note on an escalation: seen by staff, never by the buyer."""

    __tablename__ = "escalation_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Rating(Base):
    """A buyer's 1-5 stars (and optional comment) after a resolved conversation."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalations.id"), default=None)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"), default=None)
    stars: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8))
    tier: Mapped[str] = mapped_column(String(8), default="standard")
    #: What the conversation was about: a knowledge-base topic or the escalation's reason.
    topic: Mapped[str] = mapped_column(String(32), default="general")
    #: The rating request (the bot's rating prompt) this answers: one rating per request.
    request_key: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    __table_args__ = (
        UniqueConstraint("conversation_id", "request_key", name="uq_ratings_conversation_request"),
    )
