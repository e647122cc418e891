"""The Matrix relay, on matrix-nio: signing in, health, and idempotent sends out; the
sync loop it runs to receive is `relays.matrix.sync`.

Sending: each delivery's stored transaction id is the Matrix `txn_id`, on the same device
every time, so the homeserver answers a resend with the event it already has. The relay
reports 429s, refusals and failures (`relays.matrix.errors`); the dispatcher decides what
follows. nio is told never to retry a 429 itself (`max_limit_exceeded=0`), which would
hide rate limits for ever.

No matrix-nio type leaves the `relays.matrix` package.
"""

from __future__ import annotations

import asyncio
import io
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import nio
from nio.crypto.attachments import decrypt_attachment

from alerts.clock import Clock
from alerts.messages import Button, DeliveryResult, OutboundMessage, SendContext
from relays.base import ChatClass, InboundSink, RelayHealth
from relays.choices import choices_of
from relays.images import ImageError, PhotoSource, PhotoUnavailable, strip_metadata
from relays.matrix.crypto import E2EE
from relays.matrix.errors import delivery_result, describe, error_code, unavailable
from relays.matrix.inbound import PLATFORM, split_file_ref
from relays.matrix.outbound import (
    CHOICES_KEY,
    DEFAULT_CHOICE_HINT,
    caption_of,
    image_content,
    message_content,
)
from relays.matrix.session import (
    TRANSPORT_ERRORS,
    MatrixAccount,
    MatrixLoginError,
    MatrixUnavailable,
    SessionKeeper,
)
from relays.matrix.sync import LATEST_CHOICES_PREFIX, SyncLoop
from storage import queries
from storage.database import Database

log = logging.getLogger(__name__)


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


class MatrixRelay(SyncLoop):
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
        # Read at each send, never copied: the root's view over the relays of the process.
        self._photo_sources: Mapping[str, PhotoSource] = (
            {} if photo_sources is None else photo_sources
        )
        self._rng = rng or random.SystemRandom()
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
            log.warning("Matrix: homeserver not reachable yet (%s); retrying", describe(error))
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
            return DeliveryResult.retry(f"homeserver unreachable ({describe(error)})")
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
            if error_code(state) not in ("M_NOT_FOUND", "M_FORBIDDEN"):
                raise unavailable(state, "room state")
            method, path, data = nio.Api.room_send(
                client.access_token, room_id, "m.room.message", content, tx_id
            )
            return await client._send(nio.RoomSendResponse, method, path, data, (room_id,))
        try:
            # Every device of the room's members gets the keys, but those the trust policy
            # refused (see relays.matrix.crypto).
            return await client.room_send(
                room_id, "m.room.message", content, tx_id=tx_id, ignore_unverified_devices=True
            )
        except (nio.LocalProtocolError, nio.EncryptionError) as error:
            raise MatrixUnavailable(f"encryption: {describe(error)}") from error

    async def _send_result(self, client: nio.AsyncClient, answer: Any) -> DeliveryResult:
        result = delivery_result(answer)
        if result is None:  # M_UNKNOWN_TOKEN
            await self._renew(client, client.access_token)
            return DeliveryResult.retry("access token refused; signed in again", after=0)
        return result

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
        if photo is None:
            raise ValueError("a photo message without its photo")
        try:
            raw = await self._fetch_photo(photo.platform, photo.ref)
            clean = strip_metadata(raw, max_bytes=self._options.max_photo_bytes)
        except (PhotoUnavailable, ImageError) as error:
            log.warning("delivery %s: photo left out (%s)", context.delivery_id, error)
            return None
        except (MatrixUnavailable, MatrixLoginError):
            raise
        except Exception as error:  # another platform's passing failure: try again later
            raise MatrixUnavailable(f"photo from {photo.platform}: {describe(error)}") from error
        encrypt = client.olm is not None and self._is_encrypted(room_id)
        uploaded, file_keys = await client.upload(
            io.BytesIO(clean.data),
            content_type="application/octet-stream" if encrypt else clean.mime_type,
            filename=f"photo.{clean.extension}",
            encrypt=encrypt,
            filesize=clean.size,
        )
        if not isinstance(uploaded, nio.UploadResponse):
            if error_code(uploaded) == "M_TOO_LARGE":
                log.warning("delivery %s: photo too large for the homeserver", context.delivery_id)
                return None
            raise unavailable(uploaded, "upload")
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
        source = self._photo_sources.get(platform)
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
        if error_code(answer) in ("M_NOT_FOUND", "M_TOO_LARGE", "M_FORBIDDEN"):
            raise PhotoUnavailable(f"the homeserver refused the download ({error_code(answer)})")
        raise unavailable(answer, "download")
