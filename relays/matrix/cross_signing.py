"""Cross-signing for the bot's own account (matrix-nio has none).

Clients are moving to refuse devices their owner did not cross-sign. At the first start
with encryption the bot makes its three Ed25519 keys (master, self-signing, user-signing),
keeps their private halves in the crypto store (encrypted with a key derived from
`TOCSIN_MATRIX_STORE_KEY`), publishes the public halves (`/keys/device_signing/upload`,
with the account's password through user-interactive auth when the homeserver asks), and
signs its own device with the self-signing key (`/keys/signatures/upload`). Later starts
reuse the stored keys and sign a new device if there is one.

Signatures follow the Matrix spec: Ed25519 over the canonical JSON of the object without
its `signatures` and `unsigned`, unpadded base64.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nio
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from relays.matrix.api import UiaRequired, matrix_api

log = logging.getLogger(__name__)

# One table in the crypto store's SQLite file, beside nio's own.
_CREATE = "CREATE TABLE IF NOT EXISTS tocsin_cross_signing (user_id TEXT PRIMARY KEY, sealed BLOB)"
_LOAD = "SELECT sealed FROM tocsin_cross_signing WHERE user_id = ?"
_SAVE = "INSERT OR REPLACE INTO tocsin_cross_signing (user_id, sealed) VALUES (?, ?)"
USAGES = ("master", "self_signing", "user_signing")


class CrossSigningError(Exception):
    """Cross-signing could not be set up; the relay keeps working without it."""


def unpadded_b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def canonical_json(value: Any) -> str:
    """The Matrix canonical JSON of a value (what signatures cover)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def signed_part(obj: Mapping[str, Any]) -> bytes:
    return canonical_json(
        {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    ).encode()


def public_key(private: Ed25519PrivateKey) -> str:
    return unpadded_b64(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def sign(private: Ed25519PrivateKey, obj: Mapping[str, Any]) -> str:
    return unpadded_b64(private.sign(signed_part(obj)))


def verify(public: str, obj: Mapping[str, Any], signature: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(b64decode(public)).verify(
            b64decode(signature), signed_part(obj)
        )
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class CrossSigningKeys:
    master: Ed25519PrivateKey
    self_signing: Ed25519PrivateKey
    user_signing: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> CrossSigningKeys:
        return cls(
            Ed25519PrivateKey.generate(),
            Ed25519PrivateKey.generate(),
            Ed25519PrivateKey.generate(),
        )

    def seeds(self) -> bytes:
        return b"".join(
            key.private_bytes_raw() for key in (self.master, self.self_signing, self.user_signing)
        )

    @classmethod
    def from_seeds(cls, seeds: bytes) -> CrossSigningKeys:
        parts = [Ed25519PrivateKey.from_private_bytes(seeds[i : i + 32]) for i in (0, 32, 64)]
        return cls(*parts)

    def key_object(self, user_id: str, usage: str) -> dict[str, Any]:
        """The published form of one key, signed by the master key unless it is the master."""
        private = {"master": self.master, "self_signing": self.self_signing}.get(
            usage, self.user_signing
        )
        public = public_key(private)
        obj: dict[str, Any] = {
            "user_id": user_id,
            "usage": [usage],
            "keys": {f"ed25519:{public}": public},
        }
        if usage != "master":
            master = public_key(self.master)
            obj["signatures"] = {user_id: {f"ed25519:{master}": sign(self.master, obj)}}
        return obj


class CrossSigningStore:
    """The private keys, in a table of the crypto store's SQLite file, sealed with AES-GCM."""

    def __init__(self, path: Path, store_key: str) -> None:
        self._path = path
        self._store_key = store_key

    def _key(self, salt: bytes) -> bytes:
        kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=200_000)
        return kdf.derive(self._store_key.encode())

    def load(self, user_id: str) -> CrossSigningKeys | None:
        with sqlite3.connect(self._path) as connection:
            connection.execute(_CREATE)
            row = connection.execute(_LOAD, (user_id,)).fetchone()
        if row is None:
            return None
        sealed: bytes = row[0]
        salt, nonce, box = sealed[:16], sealed[16:28], sealed[28:]
        try:
            seeds = AESGCM(self._key(salt)).decrypt(nonce, box, user_id.encode())
        except InvalidTag as error:
            raise CrossSigningError(
                "the stored cross-signing keys do not open with this key"
            ) from error
        return CrossSigningKeys.from_seeds(seeds)

    def save(self, user_id: str, keys: CrossSigningKeys) -> None:
        salt, nonce = os.urandom(16), os.urandom(12)
        box = AESGCM(self._key(salt)).encrypt(nonce, keys.seeds(), user_id.encode())
        with sqlite3.connect(self._path) as connection:
            connection.execute(_CREATE)
            connection.execute(_SAVE, (user_id, salt + nonce + box))


class CrossSigning:
    """Makes sure the bot's account is cross-signed and its device signed."""

    def __init__(self, store: CrossSigningStore, password: str | None) -> None:
        self._store = store
        self._password = password

    async def ensure(self, client: nio.AsyncClient) -> bool:
        """True when done (or when nothing more can be done until an admin acts)."""
        user_id, device_id = client.user_id, client.device_id
        published = await matrix_api(
            client, "POST", "keys/query", {"device_keys": {user_id: [device_id]}}
        )
        server_master = _only_key(published.get("master_keys", {}).get(user_id))
        keys = self._store.load(user_id)
        if keys is None:
            if server_master is not None:
                log.warning(
                    "Matrix: the account %s already has cross-signing keys that Tocsin does "
                    "not hold; its device stays unsigned (an admin can sign it from a client "
                    "that holds them, or reset cross-signing)",
                    user_id,
                )
                return True
            keys = CrossSigningKeys.generate()
            self._store.save(user_id, keys)  # before publishing: never lose published keys
        if server_master != public_key(keys.master):
            if server_master is not None:
                log.warning(
                    "Matrix: the cross-signing key of %s on the homeserver is not the one "
                    "Tocsin holds; its device stays unsigned",
                    user_id,
                )
                return True
            if not await self._publish(client, keys):
                return True
        device = published.get("device_keys", {}).get(user_id, {}).get(device_id)
        if not isinstance(device, dict):
            return False  # our device keys are not published yet: next time
        self_signing = public_key(keys.self_signing)
        signatures = device.get("signatures", {}).get(user_id, {})
        if f"ed25519:{self_signing}" not in signatures:
            body = {k: v for k, v in device.items() if k not in ("signatures", "unsigned")}
            body["signatures"] = {
                user_id: {f"ed25519:{self_signing}": sign(keys.self_signing, body)}
            }
            answer = await matrix_api(
                client, "POST", "keys/signatures/upload", {user_id: {device_id: body}}
            )
            if answer.get("failures"):
                raise CrossSigningError(f"signature refused: {answer['failures']}")
            log.info("Matrix: device %s signed with the account's self-signing key", device_id)
        return True

    async def _publish(self, client: nio.AsyncClient, keys: CrossSigningKeys) -> bool:
        user_id = client.user_id
        body: dict[str, Any] = {
            "master_key": keys.key_object(user_id, "master"),
            "self_signing_key": keys.key_object(user_id, "self_signing"),
            "user_signing_key": keys.key_object(user_id, "user_signing"),
        }
        try:
            await matrix_api(client, "POST", "keys/device_signing/upload", body)
        except UiaRequired as required:
            if not self._password:
                log.warning(
                    "Matrix: cross-signing not set up: the homeserver wants the account's "
                    "password to publish the keys and Tocsin signs in with an access token. "
                    "An admin must start Tocsin once with TOCSIN_MATRIX_PASSWORD set (the "
                    "keys are then made and kept in the crypto store), or sign the device "
                    "%s from another client",
                    client.device_id,
                )
                return False
            body["auth"] = {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user_id},
                "password": self._password,
                "session": required.session,
            }
            await matrix_api(client, "POST", "keys/device_signing/upload", body)
        log.info("Matrix: cross-signing keys of %s made and published", user_id)
        return True


def cross_signed_devices(published: Mapping[str, Any], user_id: str) -> set[str]:
    """Ids of `user_id`'s devices signed by their self-signing key, itself signed by the
    master key, in a `/keys/query` answer."""
    master = _only_key(published.get("master_keys", {}).get(user_id))
    ssk_obj = published.get("self_signing_keys", {}).get(user_id)
    ssk = _only_key(ssk_obj)
    if master is None or ssk is None or not isinstance(ssk_obj, Mapping):
        return set()
    ssk_signature = ssk_obj.get("signatures", {}).get(user_id, {}).get(f"ed25519:{master}")
    if not isinstance(ssk_signature, str) or not verify(master, ssk_obj, ssk_signature):
        return set()
    signed: set[str] = set()
    devices = published.get("device_keys", {}).get(user_id, {})
    for device_id, device in devices.items() if isinstance(devices, Mapping) else ():
        signatures = (
            device.get("signatures", {}).get(user_id, {}) if isinstance(device, Mapping) else {}
        )
        signature = signatures.get(f"ed25519:{ssk}")
        if isinstance(signature, str) and verify(ssk, device, signature):
            signed.add(str(device_id))
    return signed


def _only_key(obj: Any) -> str | None:
    if not isinstance(obj, Mapping):
        return None
    keys = obj.get("keys")
    if isinstance(keys, Mapping) and len(keys) == 1:
        return str(next(iter(keys.values())))
    return None
