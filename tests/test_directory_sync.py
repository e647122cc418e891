"""The sync of the configuration file's organisations, members and channels at each start
(upserts, on both databases): the file wins for its own rows, chat-made rows are kept, a
channel deactivated by the dispatcher stays inactive, and a restart writes nothing twice."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime

from sqlalchemy import select

from bot.config_sync import sync_config
from config.loader import build_settings
from storage.database import Database
from storage.models import Channel, Member, Organisation, Subscription

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

FIRST = """
[[organisations]]
id = "anafe"
name = "Anafé"
[[organisations]]
id = "cimade"
name = "La Cimade"
[[members]]
platform = "console"
user = "local"
organisation = "anafe"
role = "admin"
[[members]]
platform = "telegram"
user = "42"
organisation = "cimade"
language = "en"
[[members]]
platform = "telegram"
user = "43"
organisation = "cimade"
[[channels]]
id = "vigie"
platform = "console"
address = "vigie"
organisation = "anafe"
[[channels]]
id = "tg-menton"
platform = "telegram"
address = "-1001"
organisation = "anafe"
[[channels]]
id = "tg-calais"
platform = "telegram"
address = "-1003"
organisation = "cimade"
"""

# anafe renamed; 42 loses its language in the file; 43 dropped; @chat now in the file;
# vigie moved; tg-calais dropped.
SECOND = """
[[organisations]]
id = "anafe"
name = "Anafé (nouveau nom)"
[[organisations]]
id = "cimade"
name = "La Cimade"
[[members]]
platform = "console"
user = "local"
organisation = "cimade"
role = "coordinator"
[[members]]
platform = "telegram"
user = "42"
organisation = "cimade"
[[members]]
platform = "matrix"
user = "@chat:example.org"
organisation = "anafe"
role = "org-admin"
[[channels]]
id = "vigie"
platform = "console"
address = "vigie-2"
organisation = "cimade"
min_urgency = "urgent"
[[channels]]
id = "tg-menton"
platform = "telegram"
address = "-1001"
organisation = "anafe"
"""


async def sync(database: Database, text: str) -> None:
    settings = build_settings(tomllib.loads(text), "tocsin.toml")
    async with database.transaction() as session:
        await sync_config(session, settings, NOW)


async def test_a_restart_with_an_unchanged_file_writes_nothing_twice(database: Database) -> None:
    await sync(database, FIRST)
    await sync(database, FIRST)
    async with database.sessions() as session:
        assert len((await session.scalars(select(Organisation))).all()) == 2
        assert len((await session.scalars(select(Member))).all()) == 3
        channels = (await session.scalars(select(Channel).order_by(Channel.id))).all()
        subscriptions = (await session.scalars(select(Subscription))).all()
    assert [c.id for c in channels] == ["tg-calais", "tg-menton", "vigie"]
    assert all(c.active and c.source == "config" for c in channels)
    assert sorted(s.channel_id for s in subscriptions) == ["tg-calais", "tg-menton", "vigie"]


async def test_the_file_wins_for_its_rows_and_chat_rows_are_kept(database: Database) -> None:
    await sync(database, FIRST)
    async with database.transaction() as session:
        # made from chat meanwhile: a member, a channel with its subscription, a language
        session.add(
            Member(
                platform="matrix",
                user_ref="@chat:example.org",
                organisation_id="cimade",
                role="observer",
                source="chat",
                created_at=NOW,
            )
        )
        session.add(
            Channel(
                id="mx-chat",
                platform="matrix",
                address="!c:example.org",
                organisation_id="cimade",
                source="chat",
                created_at=NOW,
            )
        )
        await session.flush()
        session.add(Subscription(channel_id="mx-chat", spec="{}", source="chat"))
        session.add(Subscription(channel_id="tg-menton", spec="{}", source="chat"))
        # the dispatcher found the bot blocked in tg-menton
        menton = await session.get(Channel, "tg-menton")
        assert menton is not None
        menton.active, menton.inactive_reason = False, "bot blocked"

    await sync(database, SECOND)
    async with database.sessions() as session:
        anafe = await session.get(Organisation, "anafe")
        assert anafe is not None
        assert anafe.name == "Anafé (nouveau nom)"
        members = {(m.platform, m.user_ref): m for m in await session.scalars(select(Member))}
        channels = {c.id: c for c in await session.scalars(select(Channel))}
        subscriptions = (
            await session.scalars(select(Subscription).order_by(Subscription.channel_id))
        ).all()
    assert set(members) == {
        ("console", "local"),
        ("telegram", "42"),
        ("matrix", "@chat:example.org"),
    }
    local, chat = members[("console", "local")], members[("matrix", "@chat:example.org")]
    assert (local.organisation_id, local.role) == ("cimade", "coordinator")
    assert members[("telegram", "42")].language == "en"  # the file no longer says: kept
    assert (chat.organisation_id, chat.role, chat.source) == ("anafe", "org-admin", "config")

    vigie = channels["vigie"]
    assert (vigie.address, vigie.organisation_id, vigie.active) == ("vigie-2", "cimade", True)
    assert not channels["tg-menton"].active  # blocked stays blocked across a restart
    assert channels["tg-menton"].inactive_reason == "bot blocked"
    assert not channels["tg-calais"].active
    assert channels["tg-calais"].inactive_reason == "removed from the configuration"
    assert channels["mx-chat"].active
    assert channels["mx-chat"].source == "chat"
    assert sorted((s.channel_id, s.source) for s in subscriptions) == [
        ("mx-chat", "chat"),
        ("tg-calais", "config"),  # kept with its inactive channel, for when it comes back
        ("tg-menton", "chat"),
        ("tg-menton", "config"),
        ("vigie", "config"),
    ]
    assert '"urgent"' in next(s.spec for s in subscriptions if s.channel_id == "vigie")

    await sync(database, FIRST)  # tg-calais back in the file: active again
    async with database.sessions() as session:
        calais = await session.get(Channel, "tg-calais")
        menton = await session.get(Channel, "tg-menton")
    assert calais is not None
    assert calais.active
    assert calais.inactive_reason is None
    assert menton is not None
    assert not menton.active
