"""The Matrix relay, on matrix-nio: a supervised sync loop in, idempotent sends out.

Receiving: one long-polling `/sync` at a time. Its events are handed to the sink all at
once, in order (so the router writes a burst in one transaction), and its `next_batch`
token is stored once they are handled, so a crash re-reads at most one batch, which the
router recognises by event id; a restart neither loses nor replays. The very first sync (no
stored token) only learns the rooms and pending invites: old history is not replayed. A
gap longer than the timeline limit (a long stop) is filled from `/messages`.

Sending: each delivery's stored transaction id is the Matrix `txn_id`, on the same device
every time, so the homeserver answers a resend with the event it already has. The relay
reports 429s, refusals and failures; the dispatcher decides what follows. nio is told never
to retry a 429 itself (`max_limit_exceeded=0`), which would hide rate limits for ever.

No matrix-nio type leaves this module and `relays.matrix_session`.
"""

from __future__ import annotations

import asyncio
import io
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

import nio
from nio.crypto.attachments import decrypt_attachment

from alerts.clock import Clock
from alerts.messages import (
    Button,
    ButtonPress,
    DeliveryResult,
    InboundMessage,
    OutboundMessage,
    SendContext,
)
from alerts.notices import DM_STATE_PREFIX
from relays.base import (
    ChatClass,
    InboundSink,
    RelayHealth,
    hand_over_together,
    replace_lone_surrogates,
)
from relays.choices import answer_of, choice_number, choices_of, has_counts
from relays.images import ImageError, PhotoSource, PhotoUnavailable, strip_metadata
from relays.matrix_content import (
    CHOICES_KEY,
    DEFAULT_CHOICE_HINT,
    PLATFORM,
    RoomView,
    caption_of,
    event_choices,
    event_kind,
    image_content,
    inbound_message,
    invite_details,
    message_content,
    reaction_target,
    redacted_event_id,
    split_file_ref,
)
from relays.matrix_crypto import E2EE, MatrixStoreError
from relays.matrix_session import (
    TRANSPORT_ERRORS,
    MatrixAccount,
    MatrixLoginError,
    MatrixUnavailable,
    SessionKeeper,
)
from storage import queries
from storage.database import Database

log = logging.getLogger(__name__)

NEXT_BATCH_KEY = "matrix.next_batch"
LATEST_CHOICES_PREFIX = "matrix.choices:"
Event = Mapping[str, Any]


@dataclass(frozen=True)
class MatrixOptions:
    auto_join: Literal["members", "never"] = "members"
    decline_strangers: bool = False
    sync_timeout_ms: int = 30_000
    timeline_limit: int = 50  # per room and sync; a longer gap is paged from /messages
    backfill_pages: int = 50  # at most this many pages of 100 events per room and gap
    request_timeout: float = 30.0
    first_backoff: float = 1.0
    max_backoff: float = 60.0
    choice_hint: str = DEFAULT_CHOICE_HINT
    max_photo_bytes: int = 25 * 1024 * 1024


class MatrixRelay:
    platform = PLATFORM

    def __init__(
        self,
        account: MatrixAccount,
        *,
        database: Database,
        clock: Clock,
        options: MatrixOptions | None = None,
        photo_sources: Mapping[str, PhotoSource] | None = None,
        rng: random.Random | None = None,
        crypto: E2EE | None = None,
    ) -> None:
        self._account = account
        self._db = database
        self._clock = clock
        self._options = options or MatrixOptions()
        self._session = SessionKeeper(account, database, clock)
        self.photo_sources: dict[str, PhotoSource] = dict(photo_sources or {})
        self._rng = rng or random.Random()
        self._crypto = crypto  # None: rooms are read and written unencrypted only
        self._client: nio.AsyncClient | None = None
        self._login_lock = asyncio.Lock()
        self._receiver: asyncio.Task[None] | None = None
        self._next_batch: str | None = None
        self._next_batch_loaded = False
        self._caught_up = False
        self._choices: OrderedDict[str, tuple[Button, ...]] = OrderedDict()
        self._dm_rooms: dict[str, str] = {}
        self.synced = asyncio.Event()  # set after each completed sync (tests wait on it)
        self._answered_at: float | None = None  # monotonic time of the last sync answer

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def user_id(self) -> str:
        return self._account.user_id

    @property
    def device_id(self) -> str | None:
        return self._client.device_id if self._client else None

    def _new_client(self) -> nio.AsyncClient:
        config = nio.AsyncClientConfig(
            max_limit_exceeded=0,  # report 429s; never sleep on them silently
            max_timeouts=0,  # a timeout is reported too: the dispatcher or loop retries
            request_timeout=self._options.request_timeout,
            store_sync_tokens=False,  # the token lives in our database
            **(self._crypto.client_settings() if self._crypto else {"encryption_enabled": False}),
        )
        return nio.AsyncClient(
            self._account.homeserver,
            self._account.user_id,
            device_id=self._account.device_id or "",
            config=config,
        )

    @property
    def undecrypted(self) -> int:
        """Encrypted messages waiting for their room key."""
        return self._crypto.waiting if self._crypto is not None else 0

    async def start(self, sink: InboundSink | None) -> None:
        """Sign in (an unreachable homeserver is retried in the background), then sync.

        A crypto store that cannot be used (damaged, wrong key) stops the start at once.
        """
        if self._crypto is not None:
            self._crypto.check_store(self._account.user_id)
        self._client = self._client or self._new_client()
        try:
            await self._ready_client()
        except MatrixLoginError as error:
            log.error("Matrix: %s; the relay keeps retrying", error)
        except MatrixUnavailable as error:
            log.warning("Matrix: homeserver not ready yet (%s); retrying", error)
        except TRANSPORT_ERRORS as error:
            log.warning("Matrix: homeserver not reachable yet (%s); retrying", _describe(error))
        if sink is not None:
            self._receiver = asyncio.create_task(self._receive(sink), name="matrix-sync")

    async def stop(self) -> None:
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def _ready_client(self) -> nio.AsyncClient:
        if self._client is None:
            self._client = self._new_client()
        client = self._client
        if not client.access_token:
            async with self._login_lock:
                if not client.access_token:
                    await self._session.connect(client, usable_device=self._usable_device)
        if self._crypto is not None and client.olm is None:
            async with self._login_lock:
                await self._crypto.open(client)
        return client

    def _usable_device(self, device_id: str) -> bool:
        return self._crypto is None or self._crypto.usable_device(self.user_id, device_id)

    async def _renew(self, client: nio.AsyncClient, refused: str) -> None:
        """The homeserver forgot our token: take the stored one or sign in again."""
        async with self._login_lock:
            if client.access_token == refused:
                client.access_token = ""
                await self._session.connect(
                    client, refused_token=refused, usable_device=self._usable_device
                )

    def chat_class(self, address: str) -> ChatClass:
        return self._chat_type(address)

    async def health(self) -> RelayHealth:
        """Signed in and, when receiving, a sync answered within twice its timeout."""
        client = self._client
        if client is None or not client.access_token:
            return RelayHealth(False, "not signed in")
        if self._receiver is None:
            return RelayHealth(True)  # sending only (a worker): no sync to judge by
        window = 2 * self._options.sync_timeout_ms / 1000
        if self._answered_at is None or time.monotonic() - self._answered_at > window:
            return RelayHealth(False, "no sync answered lately")
        return RelayHealth(True)

    def _chat_type(self, room_id: str) -> ChatClass:
        room = self._client.rooms.get(room_id) if self._client else None
        return "private" if room is not None and 0 < room.member_count <= 2 else "group"

    # -- receiving ---------------------------------------------------------------------

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
                log.warning("Matrix sync: %s; retrying in %.1fs", _describe(error), delay)
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
            if _code(answer) == "M_UNKNOWN_TOKEN":
                await self._renew(client, client.access_token)
                return
            raise _unavailable(answer, "sync")
        self._answered_at = time.monotonic()
        await self._handle_invites(client, answer.rooms.invite)
        if since is None:
            log.info("Matrix: first sync; earlier room history is not replayed")
        else:
            inbounds: list[InboundMessage] = []
            for room_id, room in answer.rooms.join.items():
                inbounds.extend(await self._room_inbounds(client, room_id, room, since))
            if self._crypto is not None:
                inbounds.extend(await self._released(client, self._crypto))
            # The whole batch at once (the router writes it in one transaction). If any
            # could not be recorded, the batch is not stored: the sync is retried and the
            # router recognises what it already has.
            failed = await hand_over_together(sink, inbounds)
            if failed:
                if self._crypto is not None:
                    self._crypto.forget_unsaved()
                raise failed[0][1]
            if self._crypto is not None:
                await self._crypto.save_held()
        for room_id in answer.rooms.leave:
            log.info("Matrix: no longer in room %s", room_id)
        await self._store_batch(answer.next_batch)
        self._caught_up = True
        self.synced.set()

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
                log.info("Matrix: invite to %s ignored (auto_join = never)", room_id)
                continue
            if not inviter or not await self._is_member(inviter):
                await self._refuse_invite(client, room_id)
                continue
            answer = await client.join(room_id)
            if not isinstance(answer, nio.JoinResponse):
                if _code(answer) in ("M_FORBIDDEN", "M_NOT_FOUND"):
                    log.warning("Matrix: could not join %s (%s)", room_id, _code(answer))
                    continue
                raise _unavailable(answer, "join")  # the sync is retried, invite included
            log.info("Matrix: joined %s on a member's invitation", room_id)
            if direct:
                await self._remember_dm(inviter, room_id, explicit=True)

    async def _refuse_invite(self, client: nio.AsyncClient, room_id: str) -> None:
        if not self._options.decline_strangers:
            log.info("Matrix: invite to %s from a non-member ignored", room_id)
            return
        answer = await client.room_leave(room_id)
        if isinstance(answer, nio.RoomLeaveResponse):
            log.info("Matrix: invite to %s from a non-member declined", room_id)
        else:
            log.warning("Matrix: could not decline the invite to %s (%s)", room_id, _code(answer))

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
        events = [event_source(event) for event in room.timeline.events if _has_source(event)]
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
                raise _unavailable(answer, "backfill")
            found.extend(event_source(event) for event in answer.chunk if _has_source(event))
            if not answer.chunk or not answer.end or answer.end == token:
                break
            token = answer.end
        else:
            log.warning(
                "Matrix: more than %d pages missed in %s; older ones skipped",
                self._options.backfill_pages,
                room_id,
            )
        log.info("Matrix: %d missed events fetched for %s", len(found), room_id)
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
            inbound = inbound_message(event, view)
            if inbound is None:
                return None
            if (
                inbound.chat_type == "private"
                and sender not in self._dm_rooms
                and await self._is_member(sender)
            ):
                await self._remember_dm(sender, room_id, explicit=False)
            return await self._as_choice(client, inbound)
        if kind in ("encrypted", "encryption_enabled"):
            if self._crypto is None:
                return self._undecryptable(room_id, event)
            if kind == "encrypted":  # its room key has not come (yet): wait and ask
                await self._crypto.hold(client, room_id, event)
            return None
        if kind in ("redaction", "redacted"):
            target = redacted_event_id(event) if kind == "redaction" else None
            return _event_message(view, sender, event_id, reply_to=target, event="redacted")
        if kind == "reaction":
            answer = await self._reaction_answer(client, room_id, event)
            if isinstance(answer, ButtonPress):
                return _event_message(view, sender, event_id, button=answer)
            if answer is not None:  # a count: as if typed in reply to the question
                reaction = reaction_target(event)
                question = reaction[0] if reaction else None
                return _event_message(view, sender, event_id, text=answer, reply_to=question)
        # Edits are not re-read (an edited "!alert" must not raise a second alert); notices
        # come from other bots, which by Matrix convention are never answered.
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

    # -- sending -----------------------------------------------------------------------

    async def send(
        self, address: str, message: OutboundMessage, context: SendContext
    ) -> DeliveryResult:
        try:
            client = await self._ready_client()
            content = message_content(
                message,
                reply_to=context.reply_to_message_id,
                edit_of=context.edit_message_id,
                choice_hint=self._options.choice_hint,
            )
            answer = await self._room_send(client, address, content, context.txn_id)
            result = await self._send_result(client, answer)
            if result.outcome != "sent":
                return result
            if message.photo is not None and not context.edit_message_id:
                photo_failure = await self._send_photo(client, address, message, context)
                if photo_failure is not None:
                    return photo_failure
        except MatrixLoginError as error:
            return DeliveryResult.retry(f"not signed in to Matrix: {error}")
        except MatrixUnavailable as error:
            limited = error.retry_after is not None
            return DeliveryResult.retry(str(error), after=error.retry_after, rate_limited=limited)
        except TRANSPORT_ERRORS as error:
            return DeliveryResult.retry(f"homeserver unreachable ({_describe(error)})")
        if CHOICES_KEY in content and result.platform_message_id:
            await self._record_choices(address, result.platform_message_id, choices_of(message))
        return result

    async def _room_send(
        self, client: nio.AsyncClient, room_id: str, content: dict[str, Any], tx_id: str
    ) -> Any:
        """Send an `m.room.message`, encrypted when the room is (never in clear by mistake)."""
        if client.olm is None:
            return await client.room_send(room_id, "m.room.message", content, tx_id=tx_id)
        if room_id not in client.rooms:
            # nio encrypts only for rooms it has synced: ask the homeserver first.
            state = await client.room_get_state_event(room_id, "m.room.encryption")
            if isinstance(state, nio.RoomGetStateEventResponse):
                raise MatrixUnavailable("encrypted room not synced yet")
            if _code(state) not in ("M_NOT_FOUND", "M_FORBIDDEN"):
                raise _unavailable(state, "room state")
            method, path, data = nio.Api.room_send(
                client.access_token, room_id, "m.room.message", content, tx_id
            )
            return await client._send(nio.RoomSendResponse, method, path, data, (room_id,))
        try:
            # Every device of the room's members gets the keys, but those the trust policy
            # refused (see relays.matrix_crypto).
            return await client.room_send(
                room_id, "m.room.message", content, tx_id=tx_id, ignore_unverified_devices=True
            )
        except (nio.LocalProtocolError, nio.EncryptionError) as error:
            raise MatrixUnavailable(f"encryption: {_describe(error)}") from error

    async def _send_result(self, client: nio.AsyncClient, answer: Any) -> DeliveryResult:
        if isinstance(answer, nio.RoomSendResponse):
            return DeliveryResult.sent(answer.event_id)
        code = _code(answer)
        status = _http_status(answer)
        if code == "M_LIMIT_EXCEEDED" or status == 429:
            retry_after_ms = getattr(answer, "retry_after_ms", None) or 5000
            return DeliveryResult.retry(
                "rate limited by the homeserver (M_LIMIT_EXCEEDED)",
                after=retry_after_ms / 1000,
                rate_limited=True,
            )
        if code == "M_UNKNOWN_TOKEN":
            await self._renew(client, client.access_token)
            return DeliveryResult.retry("access token refused; signed in again", after=0)
        if code in ("M_FORBIDDEN", "M_NOT_FOUND"):
            return DeliveryResult.failed(
                f"the bot is not in this room or may not post there ({code}: {answer.message})",
                channel_gone=True,
            )
        if status is None or status >= 500 or code == "unknown":
            return DeliveryResult.retry(f"homeserver error ({code}, HTTP {status})")
        return DeliveryResult.failed(f"refused by the homeserver ({code}: {answer.message})")

    async def _record_choices(self, room_id: str, event_id: str, choices: Sequence[Button]) -> None:
        self._remember_choices(event_id, choices)
        async with self._db.transaction() as session:
            await queries.set_state(
                session, LATEST_CHOICES_PREFIX + room_id, event_id, self._clock.now()
            )

    async def _send_photo(
        self,
        client: nio.AsyncClient,
        room_id: str,
        message: OutboundMessage,
        context: SendContext,
    ) -> DeliveryResult | None:
        """The alert's photo after its text, metadata stripped; None when done or skipped."""
        photo = message.photo
        assert photo is not None
        try:
            raw = await self._fetch_photo(photo.platform, photo.ref)
            clean = strip_metadata(raw, max_bytes=self._options.max_photo_bytes)
        except (PhotoUnavailable, ImageError) as error:
            log.warning("delivery %s: photo left out (%s)", context.delivery_id, error)
            return None
        except (MatrixUnavailable, MatrixLoginError):
            raise
        except Exception as error:  # another platform's passing failure: try again later
            raise MatrixUnavailable(f"photo from {photo.platform}: {_describe(error)}") from error
        encrypt = client.olm is not None and self._is_encrypted(room_id)
        uploaded, file_keys = await client.upload(
            io.BytesIO(clean.data),
            content_type="application/octet-stream" if encrypt else clean.mime_type,
            filename=f"photo.{clean.extension}",
            encrypt=encrypt,
            filesize=clean.size,
        )
        if not isinstance(uploaded, nio.UploadResponse):
            if _code(uploaded) == "M_TOO_LARGE":
                log.warning("delivery %s: photo too large for the homeserver", context.delivery_id)
                return None
            raise _unavailable(uploaded, "upload")
        content = image_content(
            url=uploaded.content_uri,
            mime_type=clean.mime_type,
            size=clean.size,
            width=clean.width,
            height=clean.height,
            filename=f"photo.{clean.extension}",
            caption=caption_of(message),
            file_keys=file_keys if encrypt else None,
        )
        answer = await self._room_send(client, room_id, content, f"{context.txn_id}-photo")
        result = await self._send_result(client, answer)
        return None if result.outcome == "sent" else result

    async def _fetch_photo(self, platform: str, ref: str) -> bytes:
        if platform == PLATFORM:
            return await self.fetch_photo(ref)
        source = self.photo_sources.get(platform)
        if source is None:
            raise PhotoUnavailable(f"no way to fetch a {platform} photo from Matrix")
        return await source(ref)

    async def fetch_photo(self, ref: str) -> bytes:
        """Download an `mxc://` URI (a `PhotoSource` for the other relays)."""
        if not ref.startswith("mxc://"):
            raise PhotoUnavailable("not an mxc:// URI")
        url, file_keys = split_file_ref(ref)
        client = await self._ready_client()
        answer = await client.download(mxc=url)
        if isinstance(answer, nio.MemoryDownloadResponse):
            if len(answer.body) > self._options.max_photo_bytes:
                raise PhotoUnavailable(f"photo too large ({len(answer.body)} bytes)")
            if file_keys is None:
                return bytes(answer.body)
            try:  # an encrypted file (sent in an encrypted room)
                return bytes(
                    decrypt_attachment(
                        answer.body, file_keys["k"], file_keys["sha256"], file_keys["iv"]
                    )
                )
            except (nio.EncryptionError, ValueError) as error:
                raise PhotoUnavailable("the encrypted photo does not open") from error
        if _code(answer) in ("M_NOT_FOUND", "M_TOO_LARGE", "M_FORBIDDEN"):
            raise PhotoUnavailable(f"the homeserver refused the download ({_code(answer)})")
        raise _unavailable(answer, "download")


# -- helpers ------------------------------------------------------------------------------


def _has_source(event: object) -> bool:
    return isinstance(getattr(event, "source", None), dict)


def event_source(event: Any) -> Event:
    """An event's JSON, every string well formed before the relay reads, queries or
    stores anything of it."""
    return replace_lone_surrogates(cast(Event, event.source))


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


def _code(answer: object) -> str:
    code = getattr(answer, "status_code", None)
    return str(code) if code else "unknown"


def _http_status(answer: object) -> int | None:
    transport = getattr(answer, "transport_response", None)
    status = getattr(transport, "status", None)
    return status if isinstance(status, int) else None


def _unavailable(answer: object, what: str) -> MatrixUnavailable:
    retry_after_ms = getattr(answer, "retry_after_ms", None)
    after = retry_after_ms / 1000 if isinstance(retry_after_ms, int) else None
    return MatrixUnavailable(f"{what}: {_code(answer)} (HTTP {_http_status(answer)})", after)


def _describe(error: BaseException) -> str:
    return type(error).__name__


def _event_message(view: RoomView, sender: str, event_id: str, **fields: Any) -> InboundMessage:
    """A neutral message for a non-text event (a redaction, a reaction) in a room."""
    return InboundMessage(
        platform=PLATFORM,
        update_id=event_id,
        chat=view.room_id,
        chat_type=view.chat_type,
        sender=sender,
        sender_name=view.sender_name,
        message_id=event_id,
        **fields,
    )
