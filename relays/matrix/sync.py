"""The Matrix sync loop: a supervised long-polling `/sync` in, neutral messages out.

One `/sync` at a time. Its events are handed to the sink all at once, in order (so the
router writes a burst in one transaction), and its `next_batch` token is stored once they
are handled, so a crash re-reads at most one batch, which the router recognises by event
id; a restart neither loses nor replays. The very first sync (no stored token) only learns
the rooms and pending invites: old history is not replayed. A gap longer than the timeline
limit (a long stop) is filled from `/messages`. Invites are answered here, and typed or
reacted answers to a question are read as its choices (`relays.choices`).

`SyncLoop` is the receiving half of `MatrixRelay` (relays.matrix.relay), which holds the
state declared below and signs in.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

import nio

from alerts.clock import Clock
from alerts.messages import Button, ButtonPress, InboundMessage
from alerts.notices import DM_STATE_PREFIX
from relays.base import ChatClass, InboundSink, hand_over_together, replace_lone_surrogates
from relays.choices import answer_of, choice_number, has_counts
from relays.matrix.crypto import E2EE, MatrixStoreError
from relays.matrix.errors import describe, error_code, unavailable
from relays.matrix.inbound import (
    PLATFORM,
    Event,
    RoomView,
    event_kind,
    event_message,
    event_source,
    has_source,
    inbound_message,
    invite_details,
    reaction_target,
    redaction_message,
)
from relays.matrix.outbound import event_choices
from relays.matrix.session import TRANSPORT_ERRORS, MatrixLoginError, MatrixUnavailable
from storage import queries
from storage.database import Database

if TYPE_CHECKING:
    from relays.matrix.relay import MatrixOptions

log = logging.getLogger(__name__)

NEXT_BATCH_KEY = "matrix.next_batch"
LATEST_CHOICES_PREFIX = "matrix.choices:"


class SyncLoop:
    """Receiving for `MatrixRelay`: the state it keeps, then the sync and its events."""

    _db: Database
    _clock: Clock
    _options: MatrixOptions
    _rng: random.Random
    _crypto: E2EE | None
    _client: nio.AsyncClient | None
    _next_batch: str | None
    _next_batch_loaded: bool
    _caught_up: bool
    _choices: OrderedDict[str, tuple[Button, ...]]
    _dm_rooms: dict[str, str]
    synced: asyncio.Event
    _answered_at: float | None

    async def _ready_client(self) -> nio.AsyncClient:
        raise NotImplementedError  # signing in is the relay's

    async def _renew(self, client: nio.AsyncClient, refused: str) -> None:
        raise NotImplementedError

    def _chat_type(self, room_id: str) -> ChatClass:
        room = self._client.rooms.get(room_id) if self._client else None
        return "private" if room is not None and 0 < room.member_count <= 2 else "group"

    async def _receive(self, sink: InboundSink) -> None:
        """Sync for ever; every failure waits with exponential backoff and jitter."""
        failures = 0
        while True:
            try:
                client = await self._ready_client()
                await self._sync_once(client, sink)
                failures = 0
                continue
            except asyncio.CancelledError:
                raise
            except (MatrixLoginError, MatrixStoreError) as error:
                failures += 1
                log.error("Matrix: %s", error)
                delay = self._options.max_backoff
            except MatrixUnavailable as error:
                failures += 1
                delay = error.retry_after or self._backoff(failures)
                log.warning("Matrix sync: %s; retrying in %.1fs", error, delay)
            except TRANSPORT_ERRORS as error:
                failures += 1
                delay = self._backoff(failures)
                log.warning("Matrix sync: %s; retrying in %.1fs", describe(error), delay)
            except Exception:
                failures += 1
                delay = self._backoff(failures)
                log.exception("Matrix sync failed; retrying in %.1fs", delay)
            await asyncio.sleep(delay)

    def _backoff(self, failures: int) -> float:
        base = min(self._options.max_backoff, self._options.first_backoff * 2.0 ** (failures - 1))
        return base * self._rng.uniform(0.5, 1.0)

    def _sync_filter(self) -> dict[str, Any]:
        nothing = {"not_types": ["*"]}
        return {
            "presence": nothing,
            "account_data": nothing,
            "room": {
                "timeline": {"limit": self._options.timeline_limit},
                "ephemeral": nothing,
                "account_data": nothing,
                "state": {"lazy_load_members": False},
            },
        }

    async def _sync_once(self, client: nio.AsyncClient, sink: InboundSink) -> None:
        since = await self._stored_batch()
        if self._crypto is not None:
            await self._crypto.exchange_keys(client)
        if since is None:
            client.next_batch = None  # nio must not substitute a token of its own
        # The first sync of a run catches up at once; later ones wait for news (long poll).
        answer = await client.sync(
            timeout=self._options.sync_timeout_ms if since and self._caught_up else 0,
            sync_filter=self._sync_filter(),
            since=since,
            # With encryption, the first sync of a run learns every joined room's state
            # and members (nio keeps no room list across restarts): sending to a quiet
            # encrypted room needs them. Its timeline still starts at `since`.
            full_state=self._crypto is not None and not self._caught_up and since is not None,
        )
        if not isinstance(answer, nio.SyncResponse):
            if error_code(answer) == "M_UNKNOWN_TOKEN":
                await self._renew(client, client.access_token)
                return
            raise unavailable(answer, "sync")
        self._answered_at = time.monotonic()
        await self._handle_invites(client, answer.rooms.invite)
        if since is None:
            log.info("Matrix: first sync; earlier room history is not replayed")
        else:
            await self._hand_over_batch(client, sink, answer, since)
        if answer.rooms.leave:
            log.info("Matrix: no longer in %d room(s)", len(answer.rooms.leave))
        await self._store_batch(answer.next_batch)
        self._caught_up = True
        self.synced.set()

    async def _hand_over_batch(
        self, client: nio.AsyncClient, sink: InboundSink, answer: nio.SyncResponse, since: str
    ) -> None:
        """The whole batch at once (the router writes it in one transaction). If any could
        not be recorded, this raises and the batch is not stored: the sync is retried and
        the router recognises what it already has."""
        inbounds: list[InboundMessage] = []
        for room_id, room in answer.rooms.join.items():
            inbounds.extend(await self._room_inbounds(client, room_id, room, since))
        if self._crypto is not None:
            inbounds.extend(await self._released(client, self._crypto))
        failed = await hand_over_together(sink, inbounds)
        if failed:
            if self._crypto is not None:
                self._crypto.forget_unsaved()
            raise failed[0][1]
        if self._crypto is not None:
            await self._crypto.save_held()

    async def _stored_batch(self) -> str | None:
        if not self._next_batch_loaded:
            async with self._db.sessions() as session:
                self._next_batch = await queries.get_state(session, NEXT_BATCH_KEY)
            self._next_batch_loaded = True
        return self._next_batch

    async def _store_batch(self, token: str) -> None:
        if token == self._next_batch:
            return
        async with self._db.transaction() as session:
            await queries.set_state(session, NEXT_BATCH_KEY, token, self._clock.now())
        self._next_batch = token

    # invites

    async def _handle_invites(self, client: nio.AsyncClient, invites: Mapping[str, Any]) -> None:
        for room_id, invite in invites.items():
            state = replace_lone_surrogates(_invite_state(invite.invite_state))
            inviter, direct = invite_details(state, client.user_id)
            if self._options.auto_join == "never":
                log.info("Matrix: an invite ignored (auto_join = never)")
                continue
            if not inviter or not await self._is_member(inviter):
                await self._refuse_invite(client, room_id)
                continue
            answer = await client.join(room_id)
            if not isinstance(answer, nio.JoinResponse):
                if error_code(answer) in ("M_FORBIDDEN", "M_NOT_FOUND"):
                    log.warning("Matrix: could not join %s (%s)", room_id, error_code(answer))
                    continue
                raise unavailable(answer, "join")  # the sync is retried, invite included
            log.info("Matrix: joined a room on a member's invitation")
            if direct:
                await self._remember_dm(inviter, room_id, explicit=True)

    async def _refuse_invite(self, client: nio.AsyncClient, room_id: str) -> None:
        if not self._options.decline_strangers:
            log.info("Matrix: an invite from a non-member ignored")
            return
        answer = await client.room_leave(room_id)
        if isinstance(answer, nio.RoomLeaveResponse):
            log.info("Matrix: an invite from a non-member declined")
        else:
            log.warning(
                "Matrix: could not decline the invite to %s (%s)", room_id, error_code(answer)
            )

    async def _is_member(self, user_id: str) -> bool:
        async with self._db.sessions() as session:
            return await queries.member_by_account(session, PLATFORM, user_id) is not None

    async def _remember_dm(self, user_id: str, room_id: str, *, explicit: bool) -> None:
        """Where admins on Matrix are told things (see `alerts.notices.private_address`).

        An invite marked `is_direct` names the direct room; a room where the member and the
        bot are alone only serves when no direct room is known yet.
        """
        if self._dm_rooms.get(user_id) == room_id:
            return
        key = f"{PLATFORM}.{DM_STATE_PREFIX}{user_id}"
        async with self._db.transaction() as session:
            known = await queries.get_state(session, key)
            if explicit or known is None:
                await queries.set_state(session, key, room_id, self._clock.now())
                known = room_id
        self._dm_rooms[user_id] = known

    # rooms and events

    async def _room_inbounds(
        self, client: nio.AsyncClient, room_id: str, room: Any, since: str
    ) -> list[InboundMessage]:
        events = [event_source(event) for event in room.timeline.events if has_source(event)]
        joined = _own_join(events, client.user_id)
        log.debug(
            "Matrix: %s: %d events, new join: %s, limited: %s",
            room_id,
            len(events),
            joined is not None,
            room.timeline.limited,
        )
        inbounds: list[InboundMessage] = []
        if joined is not None:
            # Newly joined: what was said before the bot arrived is not for it.
            join_event, events = events[joined], events[joined + 1 :]
            if self._is_encrypted(room_id) and self._crypto is None:
                inbounds.append(self._undecryptable(room_id, join_event))
        elif room.timeline.limited and room.timeline.prev_batch:
            missed = await self._backfill(client, room_id, room.timeline.prev_batch, since)
            known = {event.get("event_id") for event in events}
            events = [event for event in missed if event.get("event_id") not in known] + events
        for event in events:
            inbound = await self._event_inbound(client, room_id, event)
            if inbound is not None:
                inbounds.append(inbound)
        return inbounds

    async def _backfill(
        self, client: nio.AsyncClient, room_id: str, prev_batch: str, since: str
    ) -> list[Event]:
        """Events between our last sync and the start of a limited timeline, oldest first."""
        found: list[Event] = []
        token = prev_batch
        for _ in range(self._options.backfill_pages):
            answer = await client.room_messages(
                room_id, start=token, end=since, direction=nio.MessageDirection.back, limit=100
            )
            if not isinstance(answer, nio.RoomMessagesResponse):
                raise unavailable(answer, "backfill")
            found.extend(event_source(event) for event in answer.chunk if has_source(event))
            if not answer.chunk or not answer.end or answer.end == token:
                break
            token = answer.end
        else:
            log.warning(
                "Matrix: more than %d pages missed in %s; older ones skipped",
                self._options.backfill_pages,
                room_id,
            )
        log.info("Matrix: %d missed events fetched for a room", len(found))
        return list(reversed(found))

    def _is_encrypted(self, room_id: str) -> bool:
        room = self._client.rooms.get(room_id) if self._client else None
        return bool(room and room.encrypted)

    def _room_view(self, room_id: str, sender: str) -> RoomView:
        room = self._client.rooms.get(room_id) if self._client else None
        name = room.user_name(sender) if room is not None else None
        return RoomView(room_id, self._chat_type(room_id), name)

    async def _released(self, client: nio.AsyncClient, crypto: E2EE) -> list[InboundMessage]:
        """Messages whose room key came late, and those whose key never came."""
        inbounds: list[InboundMessage] = []
        for item in await crypto.release(client):
            if item.decrypted:
                inbound = await self._event_inbound(client, item.room_id, item.event)
            else:
                inbound = self._undecryptable(item.room_id, item.event, "keys_missing")
            if inbound is not None:
                inbounds.append(inbound)
        return inbounds

    def _undecryptable(
        self,
        room_id: str,
        event: Event,
        why: Literal["undecryptable", "keys_missing"] = "undecryptable",
    ) -> InboundMessage:
        return InboundMessage(
            platform=PLATFORM,
            update_id=str(event.get("event_id", "")),
            chat=room_id,
            chat_type=self._chat_type(room_id),
            sender=str(event.get("sender", "")),
            message_id=str(event.get("event_id", "")),
            event=why,
        )

    async def _event_inbound(
        self, client: nio.AsyncClient, room_id: str, event: Event
    ) -> InboundMessage | None:
        """What an event means for the router, if anything."""
        sender, event_id = event.get("sender"), event.get("event_id")
        if not isinstance(sender, str) or not isinstance(event_id, str):
            return None
        if sender == client.user_id:
            return None  # our own echo
        kind = event_kind(event)
        view = self._room_view(room_id, sender)
        if kind == "message":
            return await self._message_inbound(client, event, view, sender)
        if kind in ("encrypted", "encryption_enabled"):
            if self._crypto is None:
                return self._undecryptable(room_id, event)
            if kind == "encrypted":  # its room key has not come (yet): wait and ask
                await self._crypto.hold(client, room_id, event)
            return None
        if kind in ("redaction", "redacted"):
            return redaction_message(event, view)
        if kind == "reaction":
            return await self._reaction_inbound(client, event, view, (sender, event_id))
        # Edits are not re-read (an edited "!alert" must not raise a second alert); notices
        # come from other bots, which by Matrix convention are never answered.
        return None

    async def _message_inbound(
        self, client: nio.AsyncClient, event: Event, view: RoomView, sender: str
    ) -> InboundMessage | None:
        inbound = inbound_message(event, view)
        if inbound is None:
            return None
        if (
            inbound.chat_type == "private"
            and sender not in self._dm_rooms
            and await self._is_member(sender)
        ):
            await self._remember_dm(sender, view.room_id, explicit=False)
        return await self._as_choice(client, inbound)

    async def _reaction_inbound(
        self, client: nio.AsyncClient, event: Event, view: RoomView, ids: tuple[str, str]
    ) -> InboundMessage | None:
        """A reaction to a question: a button press, or a count typed as a reply."""
        sender, event_id = ids
        answer = await self._reaction_answer(client, view.room_id, event)
        if isinstance(answer, ButtonPress):
            return event_message(view, sender, event_id, button=answer)
        if answer is not None:  # a count: as if typed in reply to the question
            reaction = reaction_target(event)
            question = reaction[0] if reaction else None
            return event_message(view, sender, event_id, text=answer, reply_to=question)
        return None

    # numbered choices (Telegram's buttons)

    async def _as_choice(self, client: nio.AsyncClient, inbound: InboundMessage) -> InboundMessage:
        """A typed answer to a question (a reply to it, or in a direct room to the latest
        one), read as on the console (`relays.choices.answer_of`): a number names a choice,
        or is the count itself when the choices are counts, whose other choices ("I don't
        know") are listed unnumbered and so may be typed out."""
        if not inbound.text:
            return inbound
        target = inbound.reply_to
        if target is None and inbound.chat_type == "private":
            async with self._db.sessions() as session:
                target = await queries.get_state(session, LATEST_CHOICES_PREFIX + inbound.chat)
        if target is None:
            return inbound
        choices = await self._question_choices(client, inbound.chat, target)
        if choice_number(inbound.text) is None and not has_counts(choices):
            return inbound  # words answer only a question of counts: it has no numbers
        answer = answer_of(choices, inbound.text)
        if isinstance(answer, str):
            return replace(inbound, text=answer)  # the count
        if answer is None:
            return inbound
        press = ButtonPress(data=answer.data, press_id=inbound.update_id, message_id=target)
        return replace(inbound, text="", button=press)

    async def _reaction_answer(
        self, client: nio.AsyncClient, room_id: str, event: Event
    ) -> ButtonPress | str | None:
        """A keycap reaction to a question: the choice pressed, or the count it means."""
        reaction = reaction_target(event)
        if reaction is None or choice_number(reaction[1]) is None:
            return None
        choices = await self._question_choices(client, room_id, reaction[0])
        answer = answer_of(choices, reaction[1])
        if not isinstance(answer, Button):
            return answer
        return ButtonPress(
            data=answer.data, press_id=str(event["event_id"]), message_id=reaction[0]
        )

    async def _question_choices(
        self, client: nio.AsyncClient, room_id: str, event_id: str
    ) -> tuple[Button, ...]:
        """The choices our question `event_id` offered (none for any other event)."""
        choices = self._choices.get(event_id)
        if choices is None:
            answer = await client.room_get_event(room_id, event_id)
            if not isinstance(answer, nio.RoomGetEventResponse):
                return ()
            event = answer.event
            if isinstance(event, nio.MegolmEvent) and client.olm is not None:
                event.room_id = room_id  # our own question in an encrypted room
                try:
                    event = client.decrypt_event(event)
                except nio.EncryptionError:
                    return ()
            source = event.source
            content = source.get("content", {})
            mine = source.get("sender") == client.user_id and isinstance(content, Mapping)
            choices = event_choices(content) if mine else ()
            self._remember_choices(event_id, choices)
        return choices

    def _remember_choices(self, event_id: str, choices: Sequence[Button]) -> None:
        self._choices[event_id] = tuple(choices)
        while len(self._choices) > 512:
            self._choices.popitem(last=False)


def _invite_state(events: Sequence[Any]) -> list[Event]:
    """nio keeps invite membership events as attributes (their `source` loses `content`)."""
    return [
        {
            "type": "m.room.member",
            "state_key": event.state_key,
            "sender": event.sender,
            "content": event.content,
        }
        for event in events
        if isinstance(getattr(event, "membership", None), str)
    ]


def _own_join(events: Sequence[Event], user_id: str) -> int | None:
    """Index of the bot's own join in a timeline (a real join, not a profile change)."""
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.get("type") != "m.room.member" or event.get("state_key") != user_id:
            continue
        content = event.get("content") or {}
        unsigned = event.get("unsigned") or {}
        previous = (unsigned.get("prev_content") or {}).get("membership")
        if content.get("membership") == "join" and previous != "join":
            return index
    return None
