"""End-to-end encryption for the Matrix relay: the crypto store, keys, trust, late keys.

matrix-nio (its `e2e` extra, on vodozemac) does the Olm/Megolm work; this module decides
what the relay needs around it:

- **The store.** One SQLite file (`tocsin-crypto.db`) in `[matrix] store_path`, its keys
  pickled with `TOCSIN_MATRIX_STORE_KEY`. It is checked before the relay signs in: a
  corrupted file or a wrong key stops the start with one clear line; a missing file (or
  one without this device's account) means a new device, said in the log.
- **Key traffic.** After each sync: pending to-device messages, key upload, key query,
  one-time key claims — what nio's own `sync_forever` would do, in our sync loop.
- **Trust.** `tofu`: every device of a room's members gets the room keys; each device's
  keys are pinned on first sight, and a known device whose keys change is refused
  (blacklisted: it gets no more room keys) and reported. `cross-signed`: only devices
  signed by their owner's self-signing key get the keys.
- **Late keys.** A message whose room key is missing is held (in the database, so a crash
  loses nothing), its key is requested from the sender's devices, and it is retried after
  every sync; if the key has not come within `key_wait`, the room is told.

No matrix-nio type leaves `relays/`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import nio
import vodozemac
from nio.crypto.sessions import derive_pickle_key
from nio.store import SqliteStore

from alerts.clock import Clock
from relays.matrix.api import MatrixApiError, matrix_api
from relays.matrix.cross_signing import (
    CrossSigning,
    CrossSigningError,
    CrossSigningStore,
    cross_signed_devices,
)
from storage import queries
from storage.database import Database

log = logging.getLogger(__name__)

STORE_NAME = "tocsin-crypto.db"
HELD_STATE_KEY = "matrix.undecrypted"
Event = Mapping[str, Any]
Trust = Literal["tofu", "cross-signed"]


class MatrixStoreError(Exception):
    """The crypto store cannot be used as it is: an operator must act (one clear line)."""


@dataclass(frozen=True)
class CryptoOptions:
    store_path: Path
    store_key: str = field(repr=False)
    trust: Trust = "tofu"
    key_wait: timedelta = timedelta(seconds=60)  # how long a message waits for its key
    max_held: int = 500  # undecrypted messages kept waiting at most (oldest told first)

    @property
    def store_file(self) -> Path:
        return self.store_path / STORE_NAME


@dataclass(frozen=True)
class HeldEvent:
    room_id: str
    event: dict[str, Any]
    since: datetime

    def to_json(self) -> dict[str, Any]:
        return {"room": self.room_id, "event": self.event, "since": self.since.isoformat()}

    @classmethod
    def from_json(cls, data: Any) -> HeldEvent | None:
        try:
            since = datetime.fromisoformat(data["since"])
            return cls(str(data["room"]), dict(data["event"]), since)
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Released:
    """A held message: decrypted at last (`event` is the clear event) or given up on."""

    room_id: str
    event: dict[str, Any]
    decrypted: bool


def stored_account(options: CryptoOptions, user_id: str, device_id: str | None) -> bool:
    """Whether the store holds `device_id`'s account; raises when the store is unusable.

    Opened read-only with sqlite3 (nothing is created), so a damaged file is reported
    instead of being half-repaired by the store's own start, and a wrong key is found
    before the bot signs in. Without `device_id`, checks the user's accounts only.
    """
    path = options.store_file
    if not path.exists():
        return False
    try:
        rows = _stored_accounts(path, user_id)
    except sqlite3.DatabaseError as error:
        raise MatrixStoreError(
            f"the Matrix crypto store {path} is damaged ({error}): restore it from a backup, "
            "or move it away to start on a new device"
        ) from error
    for _, pickle in rows:
        text = pickle.decode() if isinstance(pickle, bytes) else str(pickle)
        try:
            vodozemac.Account.from_pickle(text, derive_pickle_key(options.store_key))
        except (vodozemac.PickleException, ValueError) as error:
            raise MatrixStoreError(
                f"TOCSIN_MATRIX_STORE_KEY does not open the Matrix crypto store {path}: "
                "give the key it was created with"
            ) from error
    return device_id is not None and any(row[0] == device_id for row in rows)


def _stored_accounts(path: Path, user_id: str) -> list[Any]:
    """The (device_id, pickled account) rows of `user_id`; raises sqlite3.DatabaseError
    when the file fails its integrity check or is not a database."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        if connection.execute("PRAGMA quick_check").fetchone() != ("ok",):
            raise sqlite3.DatabaseError("integrity check failed")
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        if "accounts" not in tables:
            return []
        return connection.execute(
            "SELECT device_id, account FROM accounts WHERE user_id = ?", (user_id,)
        ).fetchall()


class E2EE:
    """What the relay does around nio's Olm machine; one per relay and process."""

    def __init__(
        self,
        options: CryptoOptions,
        *,
        database: Database,
        clock: Clock,
        password: str | None = None,
    ) -> None:
        self.options = options
        self._cross_signing = CrossSigning(
            CrossSigningStore(options.store_file, options.store_key), password
        )
        self._cross_signed = False
        self._db = database
        self._clock = clock
        self._held: dict[str, HeldEvent] = {}
        self._held_loaded = False
        self._held_dirty = False
        self._requested: set[str] = set()
        self._refused: set[tuple[str, str]] = set()

    def client_settings(self) -> dict[str, Any]:
        """Fields of nio's `AsyncClientConfig` for an encrypting client."""
        return {
            "encryption_enabled": True,
            "store": SqliteStore,
            "store_name": STORE_NAME,
            "pickle_key": self.options.store_key,
        }

    def check_store(self, user_id: str) -> None:
        """Before signing in: a damaged store or a wrong key stops the start."""
        stored_account(self.options, user_id, None)

    def usable_device(self, user_id: str, device_id: str) -> bool:
        """Whether `device_id`'s keys are in the store (else it cannot be used again)."""
        return stored_account(self.options, user_id, device_id)

    async def open(self, client: nio.AsyncClient) -> None:
        """Load the store for the signed-in device (nothing to do when already loaded)."""
        if client.olm is not None:
            return
        known = stored_account(self.options, client.user_id, client.device_id)
        if not known and await _has_server_keys(client):
            raise MatrixStoreError(
                f"device {client.device_id} already has end-to-end keys on the homeserver "
                f"but the crypto store {self.options.store_file} does not hold them: restore "
                "the store, or give Tocsin a new device (a new access token, or "
                "TOCSIN_MATRIX_PASSWORD without matrix.device_id)"
            )
        self.options.store_path.mkdir(parents=True, exist_ok=True)
        client.store_path = str(self.options.store_path)
        try:
            client.load_store()
        except (vodozemac.PickleException, vodozemac.LibolmPickleException) as error:
            raise MatrixStoreError(
                "TOCSIN_MATRIX_STORE_KEY does not open the Matrix crypto store "
                f"{self.options.store_file}: give the key it was created with"
            ) from error
        if known:
            log.info("Matrix: end-to-end keys of device %s loaded", client.device_id)
        else:
            log.info("Matrix: new end-to-end keys made for device %s", client.device_id)

    # -- key traffic -------------------------------------------------------------------

    async def exchange_keys(self, client: nio.AsyncClient) -> None:
        """Send what nio queued and fetch what it lacks (once per sync)."""
        if client.olm is None:
            return
        if client.outgoing_to_device_messages:
            await client.send_to_device_messages()
        if client.should_upload_keys:
            _check(await client.keys_upload(), "keys upload")
        if not self._cross_signed:
            try:
                self._cross_signed = await self._cross_signing.ensure(client)
            except (MatrixApiError, CrossSigningError) as error:
                log.warning(
                    "Matrix: cross-signing not set up (%s); the device stays unsigned", error
                )
                self._cross_signed = True  # not again at every sync: at the next start
        if client.should_query_keys:
            before = _pins(client)
            answer = await client.keys_query()
            _check(answer, "keys query")
            self._refuse_changed(client, before, answer)
            if self.options.trust == "cross-signed" and isinstance(answer, nio.KeysQueryResponse):
                await self._apply_cross_signing(client, list(answer.device_keys))
        if client.should_claim_keys:
            _check(await client.keys_claim(client.get_users_for_key_claiming()), "keys claim")

    def _refuse_changed(
        self, client: nio.AsyncClient, before: dict[tuple[str, str], tuple[str, str]], answer: Any
    ) -> None:
        """Trust on first use: a device seen before must keep the keys it had."""
        device_keys = getattr(answer, "device_keys", None)
        if not isinstance(device_keys, Mapping):
            return
        for user_id, devices in device_keys.items():
            for device_id, payload in devices.items():
                pinned = before.get((user_id, device_id))
                keys = payload.get("keys", {}) if isinstance(payload, Mapping) else {}
                seen = (keys.get(f"ed25519:{device_id}"), keys.get(f"curve25519:{device_id}"))
                if pinned is None or seen == pinned or (user_id, device_id) in self._refused:
                    continue
                self._refused.add((user_id, device_id))
                _withhold(client, user_id, device_id)
                log.warning(
                    "Matrix: the keys of device %s of %s changed since first seen; "
                    "it is refused (no room keys) until an admin checks it",
                    device_id,
                    user_id,
                )

    async def _apply_cross_signing(self, client: nio.AsyncClient, users: list[str]) -> None:
        """`trust = "cross-signed"`: room keys only for devices their owner signed."""
        if not users:
            return
        published = await matrix_api(
            client, "POST", "keys/query", {"device_keys": {user: [] for user in users}}
        )
        for user_id in users:
            signed = cross_signed_devices(published, user_id)
            for device in list(client.device_store.active_user_devices(user_id)):
                if user_id == client.user_id and device.id == client.device_id:
                    continue
                if (user_id, device.id) in self._refused:
                    continue
                if device.id in signed:
                    if client.olm.is_device_blacklisted(device):
                        client.unblacklist_device(device)
                    if not client.olm.is_device_verified(device):
                        client.verify_device(device)
                elif not client.olm.is_device_blacklisted(device):
                    log.info(
                        "Matrix: device %s of %s is not cross-signed: no room keys for it",
                        device.id,
                        user_id,
                    )
                    _withhold(client, user_id, device.id)

    # -- messages whose key is missing ---------------------------------------------------

    async def hold(self, client: nio.AsyncClient, room_id: str, event: Event) -> None:
        """Keep an undecryptable event until its key comes; ask the sender's devices."""
        await self._load_held()
        event_id = str(event.get("event_id", ""))
        if not event_id or event_id in self._held:
            return
        self._held[event_id] = HeldEvent(room_id, dict(event), self._clock.now())
        self._held_dirty = True
        log.info("Matrix: a message waits for its room key")  # no room id at INFO
        await self._request_key(client, room_id, event)

    async def release(self, client: nio.AsyncClient) -> list[Released]:
        """Held events that can now be read, or whose wait is over, oldest first."""
        await self._load_held()
        released: list[Released] = []
        now = self._clock.now()
        overflow = len(self._held) - self.options.max_held
        for event_id, held in sorted(self._held.items(), key=lambda item: item[1].since):
            clear = self._decrypt(client, held)
            if clear is not None:
                released.append(Released(held.room_id, clear, True))
            elif overflow > 0 or now - held.since >= self.options.key_wait:
                overflow -= 1
                log.info("Matrix: no room key came for a held message")
                released.append(Released(held.room_id, held.event, False))
            else:
                continue
            del self._held[event_id]
            self._held_dirty = True
        return released

    async def save_held(self) -> None:
        """Store the waiting events with the sync token (so a crash loses none)."""
        if not self._held_dirty:
            return
        text = json.dumps([held.to_json() for held in self._held.values()])
        async with self._db.transaction() as session:
            await queries.set_state(session, HELD_STATE_KEY, text, self._clock.now())
        self._held_dirty = False

    def forget_unsaved(self) -> None:
        """The batch was not recorded: what is held is read again from the database."""
        self._held.clear()
        self._held_loaded = False
        self._held_dirty = False

    @property
    def waiting(self) -> int:
        return len(self._held)

    async def _load_held(self) -> None:
        if self._held_loaded:
            return
        async with self._db.sessions() as session:
            text = await queries.get_state(session, HELD_STATE_KEY)
        try:
            items = json.loads(text) if text else []
        except ValueError:
            items = []
        for item in items if isinstance(items, list) else []:
            held = HeldEvent.from_json(item)
            if held is not None:
                self._held.setdefault(str(held.event.get("event_id", "")), held)
        self._held_loaded = True

    def _decrypt(self, client: nio.AsyncClient, held: HeldEvent) -> dict[str, Any] | None:
        megolm = _megolm(held.room_id, held.event)
        if megolm is None or client.olm is None:
            return None
        try:
            clear = client.decrypt_event(megolm)
        except nio.EncryptionError:
            return None
        source = getattr(clear, "source", None)
        if isinstance(clear, nio.BadEvent | nio.UnknownBadEvent) or not isinstance(source, dict):
            return None
        return source

    async def _request_key(self, client: nio.AsyncClient, room_id: str, event: Event) -> None:
        megolm = _megolm(room_id, event)
        if megolm is None or megolm.session_id in self._requested:
            return
        self._requested.add(megolm.session_id)
        try:
            answer = await client.request_room_key(megolm)
        except nio.LocalProtocolError:
            return  # already asked for this session
        if not isinstance(answer, nio.RoomKeyRequestResponse):
            log.warning("Matrix: could not ask for a room key (%s)", _code(answer))


async def _has_server_keys(client: nio.AsyncClient) -> bool:
    """Whether the homeserver already knows identity keys for the client's device."""
    answer = await matrix_api(
        client, "POST", "keys/query", {"device_keys": {client.user_id: [client.device_id]}}
    )
    devices = answer.get("device_keys", {}).get(client.user_id, {})
    return isinstance(devices, dict) and client.device_id in devices


def _megolm(room_id: str, event: Event) -> nio.MegolmEvent | None:
    parsed = nio.MegolmEvent.from_dict(dict(event))
    if not isinstance(parsed, nio.MegolmEvent):
        return None
    parsed.room_id = room_id
    return parsed


def _withhold(client: nio.AsyncClient, user_id: str, device_id: str) -> None:
    """No more room keys for a device; the keys it already holds stay with it, so every
    encrypted room it shares with us gets a new room key for the next message."""
    device = client.device_store[user_id].get(device_id)
    if device is not None and not client.olm.is_device_blacklisted(device):
        if client.olm.is_device_verified(device):
            client.unverify_device(device)
        client.blacklist_device(device)
    for room_id, room in client.rooms.items():
        if room.encrypted and user_id in room.users:
            client.invalidate_outbound_session(room_id)


def _pins(client: nio.AsyncClient) -> dict[tuple[str, str], tuple[str, str]]:
    return {
        (device.user_id, device.id): (device.ed25519, device.curve25519)
        for device in client.device_store
    }


def _code(answer: object) -> str:
    code = getattr(answer, "status_code", None)
    return str(code) if code else "unknown"


def _check(answer: object, what: str) -> None:
    if isinstance(answer, nio.ErrorResponse):
        log.warning("Matrix: %s failed (%s)", what, _code(answer))
