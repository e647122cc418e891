# The imported fixtures are shadowed by the tests' parameters, as pytest intends.
# ruff: noqa: F811
"""End-to-end encrypted rooms (issue 17), against a real Synapse: the human is a
matrix-nio client with its own crypto store (`tests.support.matrix_peer`), Tocsin the
whole application with encryption on (the default)."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import vodozemac
from PIL import Image
from sqlalchemy import func, select

from alerts.clock import ManualClock
from bot.app import build
from config.loader import ConfigError, LoadedConfig, Secrets
from relays.matrix.cross_signing import (
    CrossSigningKeys,
    canonical_json,
    public_key,
    sign,
    verify,
)
from relays.matrix.crypto import STORE_NAME, MatrixStoreError
from storage.database import open_database
from storage.models import Alert
from tests.support.matrix_app import (
    Scene,
    channel,
    matrix_of,
    new_scene,
    running,
    scene_config,
    wait_until,
)
from tests.support.matrix_peer import Peer, Seen
from tests.support.synapse import SynapseServer, synapse_server  # noqa: F401
from tests.telegram_api import BotApiServer

pytestmark = [
    pytest.mark.synapse,
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]

TOKEN = "777000444:AAH-tocsin_e2ee_bridge_token_abcdef"
TELEGRAM_ITALIE = -4_000_000_201


@pytest.fixture
async def telegram() -> Any:
    async with BotApiServer(TOKEN, limits=False, seed=17) as server:
        yield server


async def encrypted_rooms(
    server: SynapseServer, database_url: str, **settings: Any
) -> tuple[Scene, str, str, LoadedConfig]:
    """A scene with two encrypted rooms: "coordination" and the channel "italie"."""
    scene = await new_scene(server)
    coordination = await scene.room("coordination", encrypted=True)
    italie = await scene.room("italie", encrypted=True)
    channels = [channel("mx-italie", italie, ["franco-italienne"])]
    return (
        scene,
        coordination,
        italie,
        scene_config(scene, database_url, channels=channels, **settings),
    )


def choice(message: Seen, label: str) -> str:
    """The number of `label` in one of Tocsin's numbered lists."""
    for line in message.body.splitlines():
        found = re.match(r"(\d+)\. (.*)", line)
        if found and label in found.group(2):
            return found.group(1)
    raise AssertionError(f"no choice {label!r} in {message.body!r}")


async def test_an_alert_in_an_encrypted_room_reaches_an_encrypted_room_and_telegram(
    synapse_server: SynapseServer, telegram: BotApiServer, database_url: str
) -> None:
    scene = await new_scene(synapse_server)
    coordination = await scene.room("coordination", encrypted=True)
    italie = await scene.room("italie", encrypted=True)
    telegram.add_chat(TELEGRAM_ITALIE, title="Vigie Roya")
    channels = [
        channel("mx-italie", italie, ["franco-italienne"]),
        {
            **channel("tg-italie", str(TELEGRAM_ITALIE), ["franco-italienne"]),
            "platform": "telegram",
        },
    ]
    base = scene_config(
        scene,
        database_url,
        channels=channels,
        extra={"telegram": {"base_url": telegram.api_url, "poll_timeout": 1}},
    )
    secrets = Secrets(
        telegram_token=TOKEN,
        matrix_access_token=scene.bot.access_token,
        matrix_store_key=scene.store_key,
    )
    config = LoadedConfig(
        settings=base.settings, secrets=secrets, source=base.source, embedded=False
    )
    bot = scene.bot.user_id
    async with running(config), Peer(synapse_server, scene.alice, "phone") as alice:
        await alice.say(coordination, "!alert 12 personnes refoulées à Menton dont 3 mineurs")
        [relayed] = await alice.wait_for(italie, bot)
        [receipt] = await alice.wait_for(coordination, bot)
        [copy] = await telegram.wait_for_sent(1, chat_id=TELEGRAM_ITALIE, within=20)
        await asyncio.sleep(0.5)

    assert relayed.decrypted
    assert receipt.decrypted
    assert "12 personnes refoulées à Menton" in relayed.body
    assert "<b>" in relayed.content["formatted_body"]
    assert receipt.body.startswith("✅ Alerte #1 relayée à 2 canal(aux)")
    assert copy.text is not None
    assert "12 personnes refoulées à Menton" in copy.text
    # The homeserver only ever held ciphertext from the bot in the encrypted rooms.
    for room in (italie, coordination):
        said = [
            event["type"]
            for event in await synapse_server.messages(scene.alice, room)
            if event["sender"] == bot
            and event["type"].startswith("m.room.")
            and "state_key" not in event
        ]
        assert said
        assert set(said) == {"m.room.encrypted"}


async def test_a_guided_alert_in_an_encrypted_direct_chat(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene = await new_scene(synapse_server)
    dm = await scene.room("direct", encrypted=True)
    italie = await scene.room("italie", encrypted=True)
    config = scene_config(
        scene, database_url, channels=[channel("mx-italie", italie, ["franco-italienne"])]
    )
    bot = scene.bot.user_id
    async with running(config), Peer(synapse_server, scene.alice, "phone") as alice:

        async def answer(text: str, expect: int = 1) -> Seen:
            before = len(alice.from_user(dm, bot))
            await alice.say(dm, text)
            return (await alice.wait_for(dm, bot, before + expect))[-1]

        border = await answer("!alert", expect=2)
        await answer(choice(border, "franco-italienne"))  # a bare number: the latest question
        await answer("Menton")
        people = await answer("Sept personnes refoulées, quatre enfants")
        minors = await answer("7")  # the count, not the 7th choice ("50")
        themes = await answer("4")  # the count, not the 4th choice ("3", after "Aucun")
        urgency = await answer(choice(themes, "Valider"))
        # The urgency by an (encrypted) reaction with the keycap of its number.
        before = len(alice.from_user(dm, bot))
        await alice.react(dm, urgency.event_id, choice(urgency, "Vitale") + "\ufe0f\u20e3")
        summary = (await alice.wait_for(dm, bot, before + 1))[-1]
        receipt = await answer(choice(summary, "Envoyer"))
        [relayed] = await alice.wait_for(italie, bot)

    assert border.body.startswith("(1/7) Quelle frontière ?")
    assert "Lieu : Menton" in summary.body
    assert {"Personnes : 7", "Mineur·es : 4"} <= set(summary.body.splitlines()), summary.body
    # Counts are listed unnumbered, as on the console: a number typed is the count.
    assert {"• 5", "• 50"} <= set(people.body.splitlines()), people.body
    assert not re.search(r"^\d+\. ", people.body, re.MULTILINE), people.body
    assert "• Aucun" in minors.body.splitlines(), minors.body
    assert "Urgence : VITAL" in summary.body  # chosen by the encrypted reaction
    assert receipt.body.startswith("✅ Alerte #1 relayée à 1 canal(aux)")
    assert relayed.decrypted
    assert "Sept personnes refoulées, quatre enfants" in relayed.body
    assert "7 personne(s) dont 4 mineur(s)" in relayed.body, relayed.body
    assert all(seen.decrypted for seen in alice.from_user(dm, bot))


async def test_after_a_restart_the_bot_keeps_its_device_and_still_decrypts(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene, coordination, italie, config = await encrypted_rooms(
        synapse_server, database_url, password=True
    )
    bot = scene.bot.user_id
    devices: list[str | None] = []
    async with Peer(synapse_server, scene.alice, "phone") as alice:
        for number in (1, 2):
            async with running(config) as wiring:
                devices.append(wiring.relays["matrix"].device_id)  # type: ignore[attr-defined]
                await alice.say(coordination, f"!alert contrôle numéro {number} à Menton")
                await alice.wait_for(italie, bot, number)
                await alice.wait_for(coordination, bot, number)
        relayed = alice.from_user(italie, bot)

    assert devices[0] is not None
    assert devices == [devices[0], devices[0]]
    assert [("contrôle numéro 1" in s.body, "contrôle numéro 2" in s.body) for s in relayed] == [
        (True, False),
        (False, True),
    ]
    assert all(s.decrypted for s in relayed)
    # One device only on the account: no new device per start.
    listed = await synapse_server.request(
        "GET", "/_matrix/client/v3/devices", access_token=scene.bot.access_token
    )
    assert sorted(d["device_id"] for d in listed["devices"]) == sorted(
        {devices[0], scene.bot.device_id}
    )


async def test_a_new_device_of_the_human_gets_the_keys_under_tofu(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene, coordination, italie, config = await encrypted_rooms(synapse_server, database_url)
    bot = scene.bot.user_id
    async with running(config), Peer(synapse_server, scene.alice, "phone") as phone:
        await phone.say(coordination, "!alert premier contrôle à Menton")
        await phone.wait_for(italie, bot)
        async with Peer(synapse_server, scene.alice, "laptop") as laptop:
            await phone.say(coordination, "!alert second contrôle à Menton")
            second = await wait_until(lambda: _decrypted(laptop, italie, "second contrôle"))

    assert second.sender == bot
    assert second.content["msgtype"] == "m.notice"


async def _decrypted(peer: Peer, room_id: str, words: str) -> Seen | None:
    await peer.sync()
    found = [s for s in peer.seen if s.room_id == room_id and s.decrypted and words in s.body]
    return found[0] if found else None


async def test_an_encrypted_photo_is_relayed_as_an_encrypted_photo_without_its_gps(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene, coordination, italie, config = await encrypted_rooms(synapse_server, database_url)
    exif = Image.Exif()
    exif[0x0110] = "Pixel 7"
    exif[0x8825] = {1: "N", 2: (43.0, 46.0, 30.0), 3: "E", 4: (7.0, 30.0, 5.0)}
    raw = io.BytesIO()
    Image.new("RGB", (32, 24), (180, 20, 20)).save(raw, format="JPEG", exif=exif)
    bot = scene.bot.user_id
    async with running(config), Peer(synapse_server, scene.alice, "phone") as alice:
        await alice.send_photo(coordination, raw.getvalue(), "!alert photo à Vintimille")
        text, image = await alice.wait_for(italie, bot, 2)
        relayed = await alice.open_file(image.content["file"])

    assert "photo à Vintimille" in text.body
    assert image.decrypted
    assert image.content["msgtype"] == "m.image"
    assert "url" not in image.content  # an encrypted file, not a public one
    assert b"Pixel 7" not in relayed
    photo = Image.open(io.BytesIO(relayed))
    assert photo.size == (32, 24)
    assert len(photo.getexif()) == 0


# -- bad input ----------------------------------------------------------------------------


async def test_a_message_whose_key_never_comes_gets_one_notice_never_silence(
    synapse_server: SynapseServer, database_url: str
) -> None:
    """Encrypted for other devices only: the bot asks for the key, waits, then says so."""
    scene = await new_scene(synapse_server)
    coordination = await scene.room("coordination", encrypted=True)
    clock = ManualClock()
    bot = scene.bot.user_id
    config = scene_config(scene, database_url)
    async with (
        running(config, clock=clock) as wiring,
        Peer(synapse_server, scene.alice, "phone") as alice,
    ):
        relay = matrix_of(wiring)
        await alice.say_with_unsent_key(coordination, "!alert contrôle à Menton")
        await wait_until(lambda: _true(relay.undecrypted == 1))
        await asyncio.sleep(1.0)
        assert alice.from_user(coordination, bot) == []  # still waiting for the key
        clock.advance(timedelta(minutes=2))
        # Any event ends the bot's long poll (this one means nothing to it).
        await synapse_server.send_event(scene.alice, coordination, "org.example.ping", {})
        [notice] = await alice.wait_for(coordination, bot)
        await wait_until(lambda: _true(relay.undecrypted == 0))
        await asyncio.sleep(1.0)

    assert notice.decrypted
    assert notice.body.startswith("🔒 Tocsin n'a pas pu déchiffrer un message de ce salon")
    assert len(alice.from_user(coordination, bot)) == 1  # one notice per hour and room
    assert await count(database_url, Alert) == 0


async def test_a_room_key_that_comes_after_its_message_still_raises_the_alert(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene, coordination, italie, config = await encrypted_rooms(synapse_server, database_url)
    bot = scene.bot.user_id
    async with running(config) as wiring, Peer(synapse_server, scene.alice, "phone") as alice:
        relay = matrix_of(wiring)
        deliver_key = await alice.say_with_late_key(
            coordination, "!alert 5 personnes refoulées à Menton"
        )
        await wait_until(lambda: _true(relay.undecrypted == 1))
        await asyncio.sleep(1.0)
        assert alice.from_user(coordination, bot) == []  # waiting, not told yet
        await deliver_key()
        [relayed] = await alice.wait_for(italie, bot)
        [receipt] = await alice.wait_for(coordination, bot)

    assert "5 personnes refoulées à Menton" in relayed.body
    assert receipt.body.startswith("✅ Alerte #1 relayée")
    assert await count(database_url, Alert) == 1


async def test_a_device_whose_keys_change_is_refused_and_reported(
    synapse_server: SynapseServer, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    scene, coordination, italie, config = await encrypted_rooms(synapse_server, database_url)
    bot = scene.bot.user_id
    caplog.set_level(logging.WARNING, logger="relays.matrix.crypto")
    async with running(config), Peer(synapse_server, scene.alice, "phone") as alice:
        await alice.say(coordination, "!alert premier contrôle à Menton")
        await alice.wait_for(italie, bot)
        # Someone replaces the phone's identity keys on the homeserver.
        await _replace_device_keys(synapse_server, alice)
        await wait_until(lambda: _true("changed since first seen" in caplog.text))
        await alice.say(coordination, "!alert second contrôle à Menton")
        relayed = await alice.wait_for(italie, bot, 2)

    assert relayed[0].decrypted
    assert not relayed[1].decrypted
    assert f"device {alice.device_id} of {scene.alice.user_id}" in caplog.text


async def test_a_missing_store_starts_a_new_device_and_says_so(
    synapse_server: SynapseServer, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    scene = await new_scene(synapse_server)
    coordination = await scene.room("coordination", encrypted=True)
    config = scene_config(scene, database_url, password=True)
    bot = scene.bot.user_id
    caplog.set_level(logging.INFO)
    devices: list[str | None] = []
    async with Peer(synapse_server, scene.alice, "phone") as alice:
        for number in (1, 2):
            async with running(config) as wiring:
                devices.append(matrix_of(wiring).device_id)
                await alice.say(coordination, f"!help {number}")
                await alice.wait_for(coordination, bot, number)
            if number == 1:
                (scene.store_path / STORE_NAME).unlink()
        answers = alice.from_user(coordination, bot)

    assert devices[0] != devices[1]
    assert f"the crypto store holds no keys for device {devices[0]}" in caplog.text
    assert "logging in on a new device" in caplog.text
    assert all(answer.decrypted for answer in answers)


@pytest.mark.parametrize("damage", ["garbage", "wrong key", "missing"])
async def test_a_store_that_cannot_serve_stops_the_start_with_one_clear_line(
    synapse_server: SynapseServer, database_url: str, damage: str
) -> None:
    scene = await new_scene(synapse_server)
    config = scene_config(scene, database_url)
    async with running(config):
        pass
    store = scene.store_path / STORE_NAME
    kept = store.read_bytes()
    garbage = b"this is not a database" * 100
    if damage == "garbage":
        store.write_bytes(garbage)
        config_after = config
    elif damage == "missing":  # the access token names a device whose keys are gone
        store.unlink()
        config_after = config
    else:
        secrets = replace(config.secrets, matrix_store_key="another key")
        config_after = replace(config, secrets=secrets)
    with pytest.raises(MatrixStoreError) as refused:
        async with running(config_after):
            pass

    message = str(refused.value)
    assert "\n" not in message
    assert str(store) in message
    if damage == "garbage":
        assert "is damaged" in message
        assert store.read_bytes() == garbage
    elif damage == "missing":
        assert "already has end-to-end keys on the homeserver" in message
        assert "a new access token" in message
    else:
        assert "TOCSIN_MATRIX_STORE_KEY does not open" in message
        assert store.read_bytes() == kept  # nothing rewritten with the wrong key


async def test_encryption_without_a_store_key_is_refused_and_a_worker_leaves_matrix_alone(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene = await new_scene(synapse_server)
    config = scene_config(scene, database_url)
    keyless = replace(config, secrets=replace(config.secrets, matrix_store_key=None))
    # build() opens its database, and closes it again when it refuses (a warning would
    # fail the test otherwise: filterwarnings = error).
    with pytest.raises(ConfigError, match="TOCSIN_MATRIX_STORE_KEY must be set"):
        await build(keyless)
    worker = await build(config, worker=True)
    try:
        assert "matrix" not in worker.relays  # Matrix deliveries stay with `tocsin run`
    finally:
        await worker.database.close()


async def _true(value: bool) -> bool:
    return value


async def count(database_url: str, model: Any) -> int:
    database = await open_database(database_url)
    try:
        async with database.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        await database.close()


async def _replace_device_keys(server: SynapseServer, peer: Peer) -> None:
    """Upload new identity keys, validly self-signed, for the peer's existing device."""
    account = vodozemac.Account()
    device = peer.device_id
    keys: dict[str, Any] = {
        "user_id": peer.user.user_id,
        "device_id": device,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": {
            f"curve25519:{device}": account.curve25519_key.to_base64(),
            f"ed25519:{device}": account.ed25519_key.to_base64(),
        },
    }
    signature = account.sign(canonical_json(keys).encode()).to_base64()
    keys["signatures"] = {peer.user.user_id: {f"ed25519:{device}": signature}}
    await server.request(
        "POST",
        "/_matrix/client/v3/keys/upload",
        access_token=peer.client.access_token,
        json_body={"device_keys": keys},
    )


# -- cross-signing ------------------------------------------------------------------------


async def test_the_bot_cross_signs_its_device_and_keeps_its_keys_across_restarts(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene = await new_scene(synapse_server)
    config = scene_config(scene, database_url, password=True)
    published: list[tuple[str, str, str]] = []
    for _ in (1, 2):
        async with running(config) as wiring:
            device = matrix_of(wiring).device_id
            assert device is not None
            found = await wait_until(
                lambda device=device: _cross_signed(synapse_server, scene, device)  # type: ignore[misc]
            )
            published.append((device, *found))

    assert published[0] == published[1]  # same device, same master and self-signing keys


async def test_cross_signing_keys_made_elsewhere_are_left_alone_and_said(
    synapse_server: SynapseServer, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The account was cross-signed from another client: Tocsin neither replaces its keys
    nor pretends; the log says the device stays unsigned and what an admin can do."""
    scene = await new_scene(synapse_server)
    elsewhere = CrossSigningKeys.generate()
    user_id = scene.bot.user_id
    await synapse_server.request(
        "POST",
        "/_matrix/client/v3/keys/device_signing/upload",
        access_token=scene.bot.access_token,
        json_body={
            f"{usage}_key": elsewhere.key_object(user_id, usage)
            for usage in ("master", "self_signing", "user_signing")
        },
    )
    caplog.set_level(logging.WARNING, logger="relays.matrix.cross_signing")
    async with running(scene_config(scene, database_url)) as wiring:
        device = matrix_of(wiring).device_id
        await wait_until(lambda: _true("cross-signing keys that Tocsin does" in caplog.text))

    answer = await synapse_server.request(
        "POST",
        "/_matrix/client/v3/keys/query",
        access_token=scene.alice.access_token,
        json_body={"device_keys": {user_id: []}},
    )
    [master] = answer["master_keys"][user_id]["keys"].values()
    assert master == public_key(elsewhere.master)  # not replaced
    assert device is not None
    assert list(answer["device_keys"][user_id][device]["signatures"][user_id]) == [
        f"ed25519:{device}"  # self-signed only
    ]
    assert "an admin can sign it from a client" in caplog.text


async def _cross_signed(server: SynapseServer, scene: Scene, device: str) -> tuple[str, str] | None:
    """(master, self-signing) public keys when the bot's device is validly signed."""
    bot = scene.bot.user_id
    answer = await server.request(
        "POST",
        "/_matrix/client/v3/keys/query",
        access_token=scene.alice.access_token,
        json_body={"device_keys": {bot: []}},
    )
    master_obj = answer.get("master_keys", {}).get(bot)
    ssk_obj = answer.get("self_signing_keys", {}).get(bot)
    device_obj = answer["device_keys"].get(bot, {}).get(device)
    if not master_obj or not ssk_obj or not device_obj:
        return None
    [master] = master_obj["keys"].values()
    [ssk] = ssk_obj["keys"].values()
    assert master_obj["usage"] == ["master"]
    assert ssk_obj["usage"] == ["self_signing"]
    assert verify(master, ssk_obj, ssk_obj["signatures"][bot][f"ed25519:{master}"])
    signature = device_obj.get("signatures", {}).get(bot, {}).get(f"ed25519:{ssk}")
    if signature is None:
        return None
    assert verify(ssk, device_obj, signature)
    return master, ssk


# -- trust --------------------------------------------------------------------------------


async def test_under_cross_signed_trust_only_devices_their_owner_signed_get_the_keys(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene, coordination, italie, config = await encrypted_rooms(
        synapse_server, database_url, matrix={"trust": "cross-signed"}
    )
    bot = scene.bot.user_id
    async with running(config), Peer(synapse_server, scene.alice, "phone") as alice:
        await alice.say(coordination, "!alert premier contrôle à Menton")
        [unsigned] = await alice.wait_for(italie, bot)
        await _cross_sign(synapse_server, alice)
        await asyncio.sleep(1.0)  # the bot learns of the signature at its next sync
        await alice.say(coordination, "!alert second contrôle à Menton")
        relayed = await alice.wait_for(italie, bot, 2)

    assert not unsigned.decrypted  # the phone was not cross-signed: no room key for it
    assert relayed[1].decrypted
    assert "second contrôle à Menton" in relayed[1].body


async def _cross_sign(server: SynapseServer, peer: Peer) -> None:
    """The person sets up cross-signing and signs their phone (as Element does)."""
    user_id, device = peer.user.user_id, peer.device_id
    keys = CrossSigningKeys.generate()
    token = peer.client.access_token
    await server.request(
        "POST",
        "/_matrix/client/v3/keys/device_signing/upload",
        access_token=token,
        json_body={
            "master_key": keys.key_object(user_id, "master"),
            "self_signing_key": keys.key_object(user_id, "self_signing"),
            "user_signing_key": keys.key_object(user_id, "user_signing"),
        },
    )
    answer = await server.request(
        "POST",
        "/_matrix/client/v3/keys/query",
        access_token=token,
        json_body={"device_keys": {user_id: [device]}},
    )
    body = {k: v for k, v in answer["device_keys"][user_id][device].items() if k != "unsigned"}
    body.pop("signatures")
    ssk = public_key(keys.self_signing)
    body["signatures"] = {user_id: {f"ed25519:{ssk}": sign(keys.self_signing, body)}}
    await server.request(
        "POST",
        "/_matrix/client/v3/keys/signatures/upload",
        access_token=token,
        json_body={user_id: {device: body}},
    )
