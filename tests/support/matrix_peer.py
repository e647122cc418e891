"""A person's Matrix app with end-to-end encryption: matrix-nio with its own crypto store.

This is the peer, not Tocsin: it logs in on a device of its own (a phone), keeps its keys
in a temporary folder, encrypts what it sends and decrypts what it receives. Events it
could not decrypt are kept too, so a test sees anything that stayed ciphertext; state and
membership events are left out.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nio
from nio.crypto.attachments import decrypt_attachment

from tests.support.synapse import RegisteredUser, SynapseServer


@dataclass(frozen=True)
class Seen:
    room_id: str
    sender: str
    type: str
    content: dict[str, Any]
    decrypted: bool
    event_id: str

    @property
    def body(self) -> str:
        return str(self.content.get("body", ""))


class Peer:
    def __init__(self, server: SynapseServer, user: RegisteredUser, device_name: str) -> None:
        self.server = server
        self.user = user
        self.device_name = device_name
        self.folder = Path(tempfile.mkdtemp(prefix="tocsin-peer-"))
        config = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
        self.client = nio.AsyncClient(
            server.base_url, user.user_id, store_path=str(self.folder), config=config
        )
        self.seen: list[Seen] = []
        self.client.add_event_callback(self._on_event, nio.Event)

    @property
    def device_id(self) -> str:
        return str(self.client.device_id)

    async def __aenter__(self) -> Peer:
        answer = await self.client.login(self.user.password, device_name=self.device_name)
        assert isinstance(answer, nio.LoginResponse), answer
        await self.sync()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()

    def _on_event(self, room: nio.MatrixRoom, event: nio.Event) -> None:
        source = event.source if isinstance(event.source, dict) else {}
        if source.get("type") not in ("m.room.message", "m.room.encrypted"):
            return  # state and membership events are not what a test reads
        self.seen.append(
            Seen(
                room_id=room.room_id,
                sender=event.sender,
                type=str(source.get("type", "")),
                content=dict(source.get("content") or {}),
                decrypted=bool(getattr(event, "decrypted", False)),
                event_id=event.event_id,
            )
        )

    async def sync(self) -> None:
        """One sync, then the key traffic a real app does after it."""
        client = self.client
        answer = await client.sync(timeout=0, full_state=client.next_batch is None)
        assert isinstance(answer, nio.SyncResponse), answer
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    async def join(self, room_id: str) -> None:
        answer = await self.client.join(room_id)
        assert isinstance(answer, nio.JoinResponse), answer
        await self.sync()

    async def say(self, room_id: str, text: str, **content: Any) -> str:
        """Write in a room (encrypted when the room is), as an app does."""
        await self.sync()
        client = self.client
        room = client.rooms[room_id]
        if room.encrypted:
            await client.joined_members(room_id)
            if client.should_query_keys:
                await client.keys_query()
        body = {"msgtype": "m.text", "body": text, **content}
        answer = await client.room_send(
            room_id, "m.room.message", body, ignore_unverified_devices=True
        )
        assert isinstance(answer, nio.RoomSendResponse), answer
        return str(answer.event_id)

    async def say_with_unsent_key(self, room_id: str, text: str, *, fresh: bool = True) -> str:
        """Write with a new room key that reaches nobody (lost, or meant for another device)."""
        await self.sync()
        olm = self.client.olm
        if fresh:
            olm.create_outbound_group_session(room_id)
        olm.outbound_group_sessions[room_id].shared = True  # pretend: nobody got it
        content = olm.group_encrypt(
            room_id, {"type": "m.room.message", "content": {"msgtype": "m.text", "body": text}}
        )
        return await self.server.send_event(self.user, room_id, "m.room.encrypted", content)

    async def say_with_late_key(self, room_id: str, text: str) -> Callable[[], Awaitable[None]]:
        """Write with a new room key whose to-device messages are held back; the returned
        function sends them (the key arrives after its message)."""
        await self.sync()
        client = self.client
        await client.joined_members(room_id)
        if client.should_query_keys:
            await client.keys_query()
        missing = client.get_missing_sessions(room_id)
        if missing:
            await client.keys_claim(missing)
        client.olm.create_outbound_group_session(room_id)
        batches = [
            payload
            for _, payload in client.olm.share_group_session_parallel(
                room_id, list(client.rooms[room_id].users), ignore_unverified_devices=True
            )
        ]
        await self.say_with_unsent_key(room_id, text, fresh=False)

        async def deliver() -> None:
            for payload in batches:
                await self.server.request(
                    "PUT",
                    f"/_matrix/client/v3/sendToDevice/m.room.encrypted/{uuid.uuid4().hex}",
                    access_token=client.access_token,
                    json_body=payload,
                )

        return deliver

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        """An encrypted reaction (Element encrypts them; matrix-nio alone would not)."""
        await self.sync()
        client = self.client
        if client.olm.should_share_group_session(room_id):
            await client.joined_members(room_id)
            if client.should_query_keys:
                await client.keys_query()
            await client.share_group_session(room_id, ignore_unverified_devices=True)
        relation = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
        content = client.olm.group_encrypt(
            room_id, {"type": "m.reaction", "content": {"m.relates_to": relation}}
        )
        return await self.server.send_event(self.user, room_id, "m.room.encrypted", content)

    async def send_photo(self, room_id: str, data: bytes, caption: str) -> str:
        """An encrypted `m.image` with a caption, as Element sends in an encrypted room."""
        answer, keys = await self.client.upload(
            io.BytesIO(data),
            content_type="image/jpeg",
            filename="photo.jpg",
            encrypt=True,
            filesize=len(data),
        )
        assert isinstance(answer, nio.UploadResponse), answer
        return await self.say(
            room_id,
            caption,
            msgtype="m.image",
            filename="photo.jpg",
            info={"mimetype": "image/jpeg", "size": len(data)},
            file={**keys, "url": answer.content_uri},
        )

    async def open_file(self, file: dict[str, Any]) -> bytes:
        """Download and decrypt an encrypted file someone sent."""
        answer = await self.client.download(mxc=file["url"])
        assert isinstance(answer, nio.MemoryDownloadResponse), answer
        return bytes(
            decrypt_attachment(answer.body, file["key"]["k"], file["hashes"]["sha256"], file["iv"])
        )

    def from_user(self, room_id: str, user_id: str) -> list[Seen]:
        return [s for s in self.seen if s.room_id == room_id and s.sender == user_id]

    async def wait_for(
        self, room_id: str, user_id: str, count: int = 1, within: float = 30.0
    ) -> list[Seen]:
        """Sync until `user_id` has sent `count` events in the room; returns them all."""
        async with asyncio.timeout(within):
            while True:
                found = self.from_user(room_id, user_id)
                if len(found) >= count:
                    return found
                await asyncio.sleep(0.2)
                await self.sync()
