"""The channel directory cache: loaded at start, reloaded at once after a change made in
this process, refreshed in the background (never on an alert's path) once it is old."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from alerts.channel_cache import ChannelCache
from storage.database import Database
from storage.models import Channel, Organisation

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def channel(channel_id: str, address: str) -> Channel:
    return Channel(
        id=channel_id, platform="telegram", address=address, organisation_id="msf", created_at=NOW
    )


async def add_channel(database: Database, channel_id: str, address: str) -> None:
    async with database.transaction() as session:
        if await session.get(Organisation, "msf") is None:
            session.add(Organisation(id="msf", name="MSF"))
            await session.flush()
        session.add(channel(channel_id, address))


async def warmed(database: Database, clock: Clock) -> ChannelCache:
    """A directory with its own sessions, loaded with one channel (tg-menton)."""
    directory = ChannelCache(database.sessions, ttl=30, monotonic=clock)
    await add_channel(database, "tg-menton", "-1001")
    await directory.warm()
    return directory


async def ids(directory: ChannelCache, database: Database) -> list[str]:
    async with database.sessions() as session:
        return [target.id for target in await directory.targets(session)]


async def test_the_cache_is_reloaded_at_once_after_a_change_here(database: Database) -> None:
    clock = Clock()
    directory = await warmed(database, clock)
    await add_channel(database, "tg-briancon", "-1002")
    assert await ids(directory, database) == ["tg-menton"]  # cached
    directory.invalidate()  # as `changed_in` does for a chat command or the dispatcher
    assert await ids(directory, database) == ["tg-briancon", "tg-menton"]


async def test_an_old_cache_is_served_while_it_refreshes_in_the_background(
    database: Database,
) -> None:
    clock = Clock()
    directory = await warmed(database, clock)
    await add_channel(database, "tg-calais", "-1003")  # another process's change
    clock.now = 31.0
    assert await ids(directory, database) == ["tg-menton"]  # no wait on the alert's path
    for _ in range(100):
        await asyncio.sleep(0.01)
        if await ids(directory, database) == ["tg-calais", "tg-menton"]:
            break
    assert await ids(directory, database) == ["tg-calais", "tg-menton"]
    await directory.stop()


async def test_a_refresh_begun_before_a_change_here_does_not_overwrite_it(
    database: Database,
) -> None:
    clock = Clock()
    directory = await warmed(database, clock)
    clock.now = 31.0
    await ids(directory, database)  # starts a background refresh
    directory.invalidate()
    await add_channel(database, "tg-roya", "-1004")
    assert await ids(directory, database) == ["tg-menton", "tg-roya"]
    await directory.stop()
    assert await ids(directory, database) == ["tg-menton", "tg-roya"]


async def test_without_sessions_of_its_own_an_old_cache_is_reloaded_by_the_reader(
    database: Database,
) -> None:
    clock = Clock()
    directory = ChannelCache(ttl=30, monotonic=clock)
    await add_channel(database, "tg-menton", "-1001")
    assert await ids(directory, database) == ["tg-menton"]
    await add_channel(database, "tg-modane", "-1005")
    assert await ids(directory, database) == ["tg-menton"]
    clock.now = 31.0
    assert await ids(directory, database) == ["tg-menton", "tg-modane"]


async def test_a_load_made_while_a_change_was_uncommitted_is_dropped_at_its_commit(
    database: Database,
) -> None:
    """Another transaction reloading between a change and its commit sees the old rows:
    the commit forgets that load, so the change is served at once, not 30 s later."""
    directory = await warmed(database, Clock())
    async with database.sessions() as writer, writer.begin():
        writer.add(channel("tg-hendaye", "-1006"))
        await writer.flush()
        directory.changed_in(writer)
        assert await ids(directory, database) == ["tg-menton"]  # uncommitted: not seen
    assert await ids(directory, database) == ["tg-hendaye", "tg-menton"]


async def test_a_change_rolled_back_leaves_the_directory_as_it_was(database: Database) -> None:
    directory = await warmed(database, Clock())

    async def failing_command() -> None:
        async with database.sessions() as writer, writer.begin():
            writer.add(channel("tg-irun", "-1007"))
            await writer.flush()
            directory.changed_in(writer)
            raise RuntimeError("the command failed")

    with pytest.raises(RuntimeError, match="the command failed"):
        await failing_command()
    assert await ids(directory, database) == ["tg-menton"]
