"""Whatever follows a command — control characters, lone surrogates, very long words,
markup — every chat command the router knows answers without an internal error.

The commands come from the router's own table, so a new command is covered the day it
is added. The sender is an admin (every command runs), in a private chat and in a group,
on each platform's prefix; the router runs on SQLite and on PostgreSQL. Feed addresses are
resolved by a resolver that knows no host, so nothing leaves this machine.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Sequence
from itertools import count
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from alerts.messages import InboundMessage
from bot.app import Wiring, build
from storage.models import Delivery
from tests.support.console import config_from, demo_raw

APOLOGIES = ("erreur interne", "internal error")
ACCOUNTS = {  # platform → (admin account, its private chat, a group chat)
    "console": ("local", "local", "vigie-italie"),
    "telegram": ("424242", "424242", "-1001234567890"),
    "matrix": ("@admin:example.org", "!dm:example.org", "!room:example.org"),
}


async def no_dns(_host: str, _port: int) -> Sequence[str]:
    raise socket.gaierror(socket.EAI_NONAME, "no name resolution in this test")


@pytest.fixture
async def wiring(database_url: str) -> AsyncIterator[Wiring]:
    raw = demo_raw()
    raw["members"] = [
        {"platform": platform, "user": user, "organisation": "demo", "role": "admin"}
        for platform, (user, _, _) in ACCOUNTS.items()
    ]
    built = await build(config_from(raw, database_url), feed_resolver=no_dns)
    await built.directory.warm()
    yield built
    await built.directory.stop()
    if built.feeds is not None:
        await built.feeds.close()
    await built.database.close()


def command_names(wiring: Wiring) -> list[str]:
    return sorted({name for c in wiring.router.commands for name in (c.name, *c.aliases)})


SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
ANY_CHARACTER = st.characters(codec=None, exclude_categories=())
PIECES = st.one_of(
    st.text(ANY_CHARACTER, max_size=40),
    st.text(st.one_of(SURROGATES, st.characters(max_codepoint=0x1F)), max_size=10),
    st.text(st.characters(codec="ascii"), min_size=300, max_size=5000).map(
        lambda word: word.replace(" ", "x")
    ),  # one very long word
    st.sampled_from(
        [
            "<b>gras</b>",
            "<a href='javascript:alert(1)'>x</a>",
            "&amp; &lt;",
            "**md** _it_ `code` ```",
            "[lien](http://127.0.0.1/)",
            "#franco-italienne",
            "#nulle-part",
            "!urgent",
            "!vital",
            "*",
            "2h",
            "0s",
            "-5m",
            "99999999999999999999d",
            "http://127.0.0.1:1/feed",
            "https://feeds.invalid/rss",
            "fr",
            "en",
            "\u202e\u2066",
            "\ud800",
            "\udfff\ud800",
            "\x00",
            "\r\n",
            "@tocsin_bot",
            "Menton",
            "1",
        ]
    ),
)
ARGUMENTS = st.lists(PIECES, max_size=6).map(" ".join)


async def apologies(wiring: Wiring) -> int:
    async with wiring.database.sessions() as session:
        payloads = await session.scalars(select(Delivery.payload))
        return sum(any(words in payload for words in APOLOGIES) for payload in payloads)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    command=st.integers(min_value=0),
    platform=st.sampled_from(sorted(ACCOUNTS)),
    group=st.booleans(),
    arguments=ARGUMENTS,
)
async def test_no_argument_makes_any_command_fail(
    wiring: Wiring, command: int, platform: str, group: bool, arguments: str
) -> None:
    names = command_names(wiring)
    assert {"alert", "lang", "help", "subscribe", "feed"} <= set(names)
    name = names[command % len(names)]
    user, private_chat, group_chat = ACCOUNTS[platform]
    prefix = "!" if platform == "matrix" else "/"
    number = next(UPDATES)
    inbound = InboundMessage(
        platform=platform,
        update_id=f"fuzz-{number}",
        chat=group_chat if group else private_chat,
        chat_type="group" if group else "private",
        sender=user,
        sender_name=arguments[:64],
        text=f"{prefix}{name} {arguments}",
        message_id=str(number),
    )
    await wiring.router(inbound)  # raises if even the apology could not be written
    assert await apologies(wiring) == 0, f"{prefix}{name} {arguments!r} failed"


UPDATES = count(1)


@pytest.mark.parametrize("platform", sorted(ACCOUNTS))
async def test_a_plain_private_message_gets_a_hint_on_how_to_raise_an_alert(
    wiring: Wiring, platform: str
) -> None:
    user, private_chat, group_chat = ACCOUNTS[platform]
    chats: tuple[tuple[str, Literal["private", "group"]], ...] = (
        (private_chat, "private"),
        (group_chat, "group"),
    )
    for chat, chat_type in chats:
        number = next(UPDATES)
        await wiring.router(
            InboundMessage(
                platform=platform,
                update_id=f"plain-{number}",
                chat=chat,
                chat_type=chat_type,
                sender=user,
                text="bonjour, il y a du monde à la gare",
                message_id=str(number),
            )
        )
    async with wiring.database.sessions() as session:
        rows = (await session.execute(select(Delivery.address, Delivery.payload))).all()
    prefix = "!" if platform == "matrix" else "/"
    assert [address for address, _ in rows] == [private_chat]  # a group is not answered
    assert f"Pour lancer une alerte, tapez {prefix}alert et répondez" in rows[0][1]
