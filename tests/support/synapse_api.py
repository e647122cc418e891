"""Client-server and admin API helpers for the test Synapse (tests/support/synapse.py),
in plain HTTP (httpx), independently of any Matrix SDK: a test checks what a relay did
without trusting the relay's own client."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

CLIENT_API = "/_matrix/client/v3"
ADMIN_API = "/_synapse/admin/v1"

_localpart_counter = itertools.count(1)


class MatrixRequestError(RuntimeError):
    """A client-server or admin API call answered with a non-2xx status."""

    def __init__(self, method: str, path: str, status: int, body: Mapping[str, Any]) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.body = dict(body)
        self.errcode: str | None = body.get("errcode")
        self.error: str | None = body.get("error")
        retry_after = body.get("retry_after_ms")
        self.retry_after_ms: int | None = retry_after if isinstance(retry_after, int) else None
        super().__init__(f"{method} {path} -> {status} {self.errcode}: {self.error}")


@dataclass(frozen=True)
class RegisteredUser:
    """A user created through the admin API, with a ready access token and device."""

    user_id: str
    access_token: str
    device_id: str
    password: str

    @property
    def localpart(self) -> str:
        return self.user_id[1:].split(":", 1)[0]


def unique_localpart(prefix: str = "user") -> str:
    """A localpart no other test in this session will use (lowercase, Matrix-safe)."""
    return f"{prefix.lower()}-{next(_localpart_counter)}-{uuid.uuid4().hex[:8]}"


class SynapseClient:
    """Mixed into `SynapseServer`: the calls tests make on its users' behalf."""

    # Kept by SynapseServer: its address, the shared secret and the admin made first.
    base_url: str
    registration_shared_secret: str
    _admin: RegisteredUser | None

    # ----------------------------------------------------------------- HTTP plumbing

    async def request(
        self,
        method: str,
        path: str,
        *,
        access_token: str | None = None,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> dict[str, Any]:
        """One JSON request; raises `MatrixRequestError` on a non-2xx answer."""
        headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30.0) as client:
            response = await client.request(
                method, path, headers=headers, json=json_body, params=params
            )
        try:
            body = response.json()
        except ValueError:
            body = {"error": response.text}
        if not isinstance(body, dict):
            body = {"body": body}
        if response.is_error:
            raise MatrixRequestError(method, path, response.status_code, body)
        return body

    # ----------------------------------------------------------------- users

    async def register_user(
        self,
        localpart: str | None = None,
        *,
        admin: bool = False,
        exempt_from_ratelimit: bool = True,
        displayname: str | None = None,
    ) -> RegisteredUser:
        """Create a user with the shared-secret admin API; no login needed afterwards.

        With `exempt_from_ratelimit` the user gets a per-user override that turns off every
        rate limiter for them (Synapse reads a zero `messages_per_second` override as
        "not rate-limited at all", not just for messages).
        """
        user = await self._register(localpart or unique_localpart(), admin, displayname)
        if exempt_from_ratelimit:
            await self.set_ratelimit_override(user.user_id, messages_per_second=0, burst_count=0)
        return user

    async def _register(
        self, localpart: str, admin: bool, displayname: str | None
    ) -> RegisteredUser:
        path = f"{ADMIN_API}/register"
        nonce = (await self.request("GET", path))["nonce"]
        password = secrets.token_urlsafe(16)
        mac = hmac.new(self.registration_shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(
            b"\x00".join(
                [
                    nonce.encode(),
                    localpart.encode(),
                    password.encode(),
                    b"admin" if admin else b"notadmin",
                ]
            )
        )
        body: dict[str, Any] = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        if displayname is not None:
            body["displayname"] = displayname
        answer = await self.request("POST", path, json_body=body)
        return RegisteredUser(
            user_id=answer["user_id"],
            access_token=answer["access_token"],
            device_id=answer["device_id"],
            password=password,
        )

    async def admin_user(self) -> RegisteredUser:
        """The internal admin, created on first use (exempt from rate limits itself)."""
        if self._admin is None:
            admin = await self._register(unique_localpart("tocsin-admin"), True, None)
            await self._post_ratelimit_override(admin, admin.user_id, 0, 0)
            # Two concurrent first calls just make one spare admin.
            self._admin = self._admin or admin
        return self._admin

    async def set_ratelimit_override(
        self, user_id: str, *, messages_per_second: int = 0, burst_count: int = 0
    ) -> None:
        """Per-user override; zero messages_per_second exempts the user from all limiters."""
        await self._post_ratelimit_override(
            await self.admin_user(), user_id, messages_per_second, burst_count
        )

    async def _post_ratelimit_override(
        self, admin: RegisteredUser, user_id: str, messages_per_second: int, burst_count: int
    ) -> None:
        await self.request(
            "POST",
            f"{ADMIN_API}/users/{quote(user_id, safe='')}/override_ratelimit",
            access_token=admin.access_token,
            json_body={"messages_per_second": messages_per_second, "burst_count": burst_count},
        )

    async def clear_ratelimit_override(self, user_id: str) -> None:
        """Put the user back under the server's default rate limits."""
        admin = await self.admin_user()
        await self.request(
            "DELETE",
            f"{ADMIN_API}/users/{quote(user_id, safe='')}/override_ratelimit",
            access_token=admin.access_token,
        )

    async def whoami(self, user: RegisteredUser) -> dict[str, Any]:
        return await self.request(
            "GET", f"{CLIENT_API}/account/whoami", access_token=user.access_token
        )

    # ----------------------------------------------------------------- rooms

    async def create_room(
        self,
        user: RegisteredUser,
        name: str | None = None,
        *,
        invite: Sequence[str] = (),
        encrypted: bool = False,
        preset: str = "private_chat",
        power_levels: Mapping[str, Any] | None = None,
    ) -> str:
        """Create a room owned by `user`; returns its room id."""
        body: dict[str, Any] = {"preset": preset, "invite": list(invite)}
        if name is not None:
            body["name"] = name
        if encrypted:
            body["initial_state"] = [
                {
                    "type": "m.room.encryption",
                    "state_key": "",
                    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
                }
            ]
        if power_levels is not None:
            body["power_level_content_override"] = dict(power_levels)
        answer = await self.request(
            "POST", f"{CLIENT_API}/createRoom", access_token=user.access_token, json_body=body
        )
        room_id: str = answer["room_id"]
        return room_id

    async def invite(self, user: RegisteredUser, room_id: str, user_id: str) -> None:
        await self.request(
            "POST",
            f"{CLIENT_API}/rooms/{quote(room_id, safe='')}/invite",
            access_token=user.access_token,
            json_body={"user_id": user_id},
        )

    async def join(self, user: RegisteredUser, room_id_or_alias: str) -> str:
        """Join (an invite is needed for private rooms); returns the room id."""
        answer = await self.request(
            "POST",
            f"{CLIENT_API}/join/{quote(room_id_or_alias, safe='')}",
            access_token=user.access_token,
            json_body={},
        )
        room_id: str = answer["room_id"]
        return room_id

    async def leave(self, user: RegisteredUser, room_id: str) -> None:
        await self.request(
            "POST",
            f"{CLIENT_API}/rooms/{quote(room_id, safe='')}/leave",
            access_token=user.access_token,
            json_body={},
        )

    async def kick(
        self, user: RegisteredUser, room_id: str, user_id: str, reason: str | None = None
    ) -> None:
        body: dict[str, Any] = {"user_id": user_id}
        if reason is not None:
            body["reason"] = reason
        await self.request(
            "POST",
            f"{CLIENT_API}/rooms/{quote(room_id, safe='')}/kick",
            access_token=user.access_token,
            json_body=body,
        )

    # ----------------------------------------------------------------- events

    async def send_event(
        self,
        user: RegisteredUser,
        room_id: str,
        event_type: str,
        content: Mapping[str, Any],
        txn_id: str | None = None,
    ) -> str:
        """PUT /send/{type}/{txn}; the same txn id from the same device is idempotent."""
        txn = txn_id or uuid.uuid4().hex
        answer = await self.request(
            "PUT",
            f"{CLIENT_API}/rooms/{quote(room_id, safe='')}/send/"
            f"{quote(event_type, safe='')}/{quote(txn, safe='')}",
            access_token=user.access_token,
            json_body=content,
        )
        event_id: str = answer["event_id"]
        return event_id

    async def send_text(
        self,
        user: RegisteredUser,
        room_id: str,
        body: str,
        formatted_body: str | None = None,
        msgtype: str = "m.text",
        txn_id: str | None = None,
    ) -> str:
        """Send an m.room.message (HTML when `formatted_body` is given); returns the event id."""
        content: dict[str, Any] = {"msgtype": msgtype, "body": body}
        if formatted_body is not None:
            content["format"] = "org.matrix.custom.html"
            content["formatted_body"] = formatted_body
        return await self.send_event(user, room_id, "m.room.message", content, txn_id)

    async def messages(
        self, user: RegisteredUser, room_id: str, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The latest `limit` timeline events (state events included), oldest first."""
        answer = await self.request(
            "GET",
            f"{CLIENT_API}/rooms/{quote(room_id, safe='')}/messages",
            access_token=user.access_token,
            params={"dir": "b", "limit": limit},
        )
        chunk: list[dict[str, Any]] = answer.get("chunk", [])
        return list(reversed(chunk))

    async def room_messages(
        self, user: RegisteredUser, room_id: str, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Only the m.room.message events of `messages()`, oldest first."""
        return [
            event
            for event in await self.messages(user, room_id, limit)
            if event.get("type") == "m.room.message"
        ]

    async def get_event(self, user: RegisteredUser, room_id: str, event_id: str) -> dict[str, Any]:
        return await self.request(
            "GET",
            f"{CLIENT_API}/rooms/{quote(room_id, safe='')}/event/{quote(event_id, safe='')}",
            access_token=user.access_token,
        )

    async def redact(
        self,
        user: RegisteredUser,
        room_id: str,
        event_id: str,
        reason: str | None = None,
        txn_id: str | None = None,
    ) -> str:
        """Redact an event; returns the redaction's event id."""
        body: dict[str, Any] = {} if reason is None else {"reason": reason}
        answer = await self.request(
            "PUT",
            f"{CLIENT_API}/rooms/{quote(room_id, safe='')}/redact/"
            f"{quote(event_id, safe='')}/{quote(txn_id or uuid.uuid4().hex, safe='')}",
            access_token=user.access_token,
            json_body=body,
        )
        redaction_id: str = answer["event_id"]
        return redaction_id
