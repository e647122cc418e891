# The imported fixture is shadowed by the tests' parameters, as pytest intends.
# ruff: noqa: F811
"""Smoke tests of the real-Synapse fixture, and of the facts the Matrix relay relies on:
how matrix-nio reports a 429, and that a transaction id makes a send idempotent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nio
import pytest

from tests.support.synapse import (
    MatrixRequestError,
    RegisteredUser,
    SynapseServer,
    SynapseStartError,
    synapse_server,  # noqa: F401
    unique_localpart,
)

pytestmark = pytest.mark.synapse


@asynccontextmanager
async def nio_client(server: SynapseServer, user: RegisteredUser) -> AsyncIterator[nio.AsyncClient]:
    """A nio client using the registered token and device (no login), that gives up on 429."""
    config = nio.AsyncClientConfig(
        max_limit_exceeded=0, max_timeouts=2, request_timeout=30, store_sync_tokens=False
    )
    client = nio.AsyncClient(server.base_url, user.user_id, device_id=user.device_id, config=config)
    client.access_token = user.access_token
    client.user_id = user.user_id
    client.device_id = user.device_id
    try:
        yield client
    finally:
        await client.close()


def notice(body: str, html: str) -> dict[str, str]:
    return {
        "msgtype": "m.notice",
        "body": body,
        "format": "org.matrix.custom.html",
        "formatted_body": html,
    }


def test_a_bad_configuration_fails_with_synapse_own_words() -> None:
    server = SynapseServer(extra_config={"database": {"name": "nosuchdb"}})
    try:
        with pytest.raises(SynapseStartError) as failure:
            server.start()
    finally:
        server.stop()
    assert "Synapse exited with status 1" in str(failure.value)
    assert "Unsupported database type 'nosuchdb'" in str(failure.value)
    assert not server.running


async def test_helpers_create_users_rooms_and_messages(synapse_server: SynapseServer) -> None:
    alice = await synapse_server.register_user(unique_localpart("alice"))
    bob = await synapse_server.register_user(unique_localpart("bob"))
    assert alice.user_id == f"@{alice.localpart}:{synapse_server.server_name}"
    assert (await synapse_server.whoami(alice))["device_id"] == alice.device_id

    room_id = await synapse_server.create_room(
        alice, "Frontière franco-italienne", invite=[bob.user_id]
    )
    assert await synapse_server.join(bob, room_id) == room_id
    first = await synapse_server.send_text(alice, room_id, "Refoulement à Menton")
    second = await synapse_server.send_text(
        bob, room_id, "En route", formatted_body="<b>En route</b>", msgtype="m.notice"
    )
    await synapse_server.redact(alice, room_id, first, reason="erreur")

    messages = await synapse_server.room_messages(bob, room_id)
    assert [event["event_id"] for event in messages] == [first, second]
    assert messages[0]["content"] == {}  # redacted
    assert messages[1]["content"]["formatted_body"] == "<b>En route</b>"

    outsider = await synapse_server.register_user(unique_localpart("outsider"))
    with pytest.raises(MatrixRequestError) as refused:
        await synapse_server.send_text(outsider, room_id, "intrus")
    assert refused.value.status == 403
    assert refused.value.errcode == "M_FORBIDDEN"


async def test_nio_sends_an_html_notice_with_a_registered_token(
    synapse_server: SynapseServer,
) -> None:
    bot = await synapse_server.register_user(unique_localpart("bot"))
    room_id = await synapse_server.create_room(bot, "Alertes Manche")
    content = notice(
        "URGENT — Calais: 12 personnes",
        "<p><strong>URGENT</strong> — Calais&nbsp;: 12 personnes</p>",
    )

    async with nio_client(synapse_server, bot) as client:
        response = await client.room_send(room_id, "m.room.message", content)

    assert isinstance(response, nio.RoomSendResponse), response
    events = await synapse_server.room_messages(bot, room_id)
    assert [event["event_id"] for event in events] == [response.event_id]
    assert events[0]["sender"] == bot.user_id
    assert events[0]["content"] == content


async def test_nio_reports_a_429_as_room_send_error_with_retry_after_ms(
    synapse_server: SynapseServer,
) -> None:
    # Default limits: rc_message burst 10, then 0.2 message/s per user.
    sender = await synapse_server.register_user(
        unique_localpart("hasty"), exempt_from_ratelimit=False
    )
    room_id = await synapse_server.create_room(sender, "Rafale")

    async with nio_client(synapse_server, sender) as client:
        sent: list[str] = []
        for number in range(40):
            response = await client.room_send(
                room_id,
                "m.room.message",
                notice(f"n°{number}", f"<em>n°{number}</em>"),
                tx_id=f"burst-{number}",
            )
            if not isinstance(response, nio.RoomSendResponse):
                break
            sent.append(response.event_id)
        else:
            pytest.fail("40 quick sends were never rate limited")

        assert isinstance(response, nio.RoomSendError), response
        assert response.status_code == "M_LIMIT_EXCEEDED"
        assert isinstance(response.retry_after_ms, int)
        assert response.retry_after_ms > 0
        assert response.transport_response is not None
        assert response.transport_response.status == 429
        retry_after_header = response.transport_response.headers.get("Retry-After")
        assert retry_after_header is not None
        assert int(retry_after_header) * 1000 >= response.retry_after_ms
        print(
            f"\n{len(sent)} sends accepted, then: {response!r}\n"
            f"str: {response}\nHTTP {response.transport_response.status}, "
            f"Retry-After: {retry_after_header}"
        )

        # A 429 is not remembered under its transaction id: once the user may send again,
        # the same txn id goes through, once.
        await synapse_server.set_ratelimit_override(sender.user_id)
        retried = await client.room_send(
            room_id, "m.room.message", notice("retry", "<em>retry</em>"), tx_id=f"burst-{len(sent)}"
        )
        assert isinstance(retried, nio.RoomSendResponse), retried

    events = await synapse_server.room_messages(sender, room_id)
    assert [event["event_id"] for event in events] == [*sent, retried.event_id]


async def test_same_txn_id_from_same_device_yields_one_event(
    synapse_server: SynapseServer,
) -> None:
    bot = await synapse_server.register_user(unique_localpart("bot"))
    room_id = await synapse_server.create_room(bot, "Idempotence")
    txn_id = f"delivery-{unique_localpart('txn')}"
    original = notice("Mobilisation Hendaye", "<b>Mobilisation Hendaye</b>")

    async with nio_client(synapse_server, bot) as client:
        first = await client.room_send(room_id, "m.room.message", original, tx_id=txn_id)
        again = await client.room_send(room_id, "m.room.message", original, tx_id=txn_id)
    # A new client object with the same token/device, as after a crash and restart; the
    # content differs, and Synapse still answers with the first event.
    async with nio_client(synapse_server, bot) as restarted:
        changed = await restarted.room_send(
            room_id, "m.room.message", notice("autre", "<i>autre</i>"), tx_id=txn_id
        )
    by_helper = await synapse_server.send_event(bot, room_id, "m.room.message", original, txn_id)

    assert isinstance(first, nio.RoomSendResponse), first
    assert isinstance(again, nio.RoomSendResponse), again
    assert isinstance(changed, nio.RoomSendResponse), changed
    assert again.event_id == changed.event_id == by_helper == first.event_id

    events = await synapse_server.room_messages(bot, room_id)
    assert [event["event_id"] for event in events] == [first.event_id]
    assert events[0]["content"] == original
    # The sending device sees its own transaction id on the event (how echoes are recognised).
    assert events[0]["unsigned"]["transaction_id"] == txn_id

    # Another user may use the same txn id: transactions are scoped per user and device.
    other = await synapse_server.register_user(unique_localpart("other"))
    await synapse_server.invite(bot, room_id, other.user_id)
    await synapse_server.join(other, room_id)
    own = await synapse_server.send_event(other, room_id, "m.room.message", original, txn_id)
    assert own != first.event_id
