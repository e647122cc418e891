"""Writing to the outbox: every message leaves through a delivery row written in the
same transaction as the fact that caused it, so a crash never loses an accepted alert."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.messages import Button, OutboundMessage, Paragraph, Span
from alerts.platforms import PlatformCatalogue
from alerts.splitting import split_message
from alerts.text import clean_user_text
from storage import delivery_buffer
from storage.after_commit import after_commit


@dataclass(frozen=True)
class Target:
    platform: str
    address: str
    channel_id: str | None = None


@dataclass(frozen=True)
class FactRef:
    fact_type: str  # alert | feed_item | digest | notice
    fact_id: int | None
    kind: str


NOTICE = FactRef("notice", None, "notice")


class OutboxSignal:
    """Wakes the in-process dispatcher when a transaction that wrote outbox rows commits
    (`Outbox` registers that); other processes poll. Nobody else rings it by hand, except
    the dispatcher for its own loop (stopping, claiming again once a chat may send)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()

    async def wait(self, at_most: float) -> bool:
        """Until rung, or `at_most` seconds; True when it was rung (then it is reset)."""
        if not self._event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), at_most)
        rung = self._event.is_set()
        self._event.clear()
        return rung


def cleaned(message: OutboundMessage) -> OutboundMessage:
    """The message without control characters, bidi overrides or lone surrogates in any
    text it shows (`clean_user_text`). Every message leaves through the outbox, so a
    user's words repeated in an answer (an unknown border typed in a command, a feed's
    address, a name) are cleaned here whatever built the answer."""
    shown = [s.text for p in message.paragraphs for s in p.spans]
    shown += [b.label for row in message.buttons for b in row]
    if all(clean_user_text(text) is text for text in shown):
        return message
    paragraphs = tuple(
        Paragraph(tuple(Span(clean_user_text(s.text), s.style, s.href) for s in p.spans))
        for p in message.paragraphs
    )
    buttons = tuple(
        tuple(Button(clean_user_text(b.label), b.data) for b in row) for row in message.buttons
    )
    return dataclasses.replace(message, paragraphs=paragraphs, buttons=buttons)


class Outbox:
    def __init__(
        self, platforms: PlatformCatalogue | None = None, *, signal: OutboxSignal | None = None
    ) -> None:
        """`platforms`: the catalogue the composition root builds from the relays' traits;
        a message for a platform not in it is never split (tests that do not care)."""
        self.platforms: PlatformCatalogue = platforms or {}
        # Rung by the commit of any transaction that wrote rows: the dispatcher waits on it.
        self.signal = signal or OutboxSignal()
        # A fan-out enqueues one message for many chats: split and serialise it once.
        self._payloads = functools.lru_cache(maxsize=64)(self._split_and_serialise)

    def split(self, message: OutboundMessage, platform: str) -> list[OutboundMessage]:
        """The parts `message` becomes on `platform`, each within its text budget."""
        traits = self.platforms.get(platform)
        return split_message(message, traits.text_budget) if traits else [message]

    def _split_and_serialise(self, message: OutboundMessage, platform: str) -> list[str]:
        return [part.to_json() for part in self.split(cleaned(message), platform)]

    def enqueue(
        self,
        session: AsyncSession,
        target: Target,
        message: OutboundMessage,
        *,
        fact: FactRef,
        priority: int,
        now: datetime,
        deliver_at: datetime | None = None,
        reply_to_delivery_id: int | None = None,
        edit_of_delivery_id: int | None = None,
    ) -> int:
        """Add the delivery rows (one per part, in order) to the transaction; the caller
        commits. Returns how many parts the message became."""
        rows = self._rows(
            target,
            message,
            fact=fact,
            priority=priority,
            now=now,
            deliver_at=deliver_at,
            reply_to_delivery_id=reply_to_delivery_id,
            edit_of_delivery_id=edit_of_delivery_id,
        )
        delivery_buffer.add(session.sync_session, rows)
        after_commit(session.sync_session, self.signal.wake, once=True)
        return len(rows)

    async def enqueue_now(
        self,
        session: AsyncSession,
        target: Target,
        message: OutboundMessage,
        *,
        fact: FactRef,
        priority: int,
        now: datetime,
        edit_of_delivery_id: int | None = None,
    ) -> list[int]:
        """`enqueue`, written at once: the ids of the rows (to edit the message later)."""
        rows = self._rows(
            target,
            message,
            fact=fact,
            priority=priority,
            now=now,
            edit_of_delivery_id=edit_of_delivery_id,
        )
        after_commit(session.sync_session, self.signal.wake, once=True)
        return await session.run_sync(delivery_buffer.write_returning_ids, rows)

    def _rows(
        self,
        target: Target,
        message: OutboundMessage,
        *,
        fact: FactRef,
        priority: int,
        now: datetime,
        deliver_at: datetime | None = None,
        reply_to_delivery_id: int | None = None,
        edit_of_delivery_id: int | None = None,
    ) -> list[delivery_buffer.Row]:
        # An edit replaces one message: it is never split.
        parts = self._payloads(message, "" if edit_of_delivery_id else target.platform)
        return [
            {
                "platform": target.platform,
                "address": target.address,
                "channel_id": target.channel_id,
                "fact_type": fact.fact_type,
                "fact_id": fact.fact_id,
                "kind": fact.kind,
                "priority": priority,
                "part": index,
                "payload": part,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": deliver_at or now,
                "claimed_by": None,
                "claimed_until": None,
                "txn_id": uuid.uuid4().hex,
                "reply_to_delivery_id": reply_to_delivery_id if index == 0 else None,
                "edit_of_delivery_id": edit_of_delivery_id,
                "created_at": now,
            }
            for index, part in enumerate(parts)
        ]
