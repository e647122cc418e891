"""The dispatcher's decisions on SQLite and PostgreSQL: order, priority, retries, pauses,
dead channels, migrations, markup refusals. Time is a manual clock: nothing sleeps long."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from alerts.clock import ManualClock
from alerts.i18n import Translator
from alerts.messages import DeliveryResult, OutboundMessage, SendContext, text_message
from alerts.outbox import FactRef, Outbox, Target
from bot.wiring.platforms import platform_catalogue
from relays.dispatch_policy import DispatcherSettings, RetryPolicy
from relays.dispatcher import Dispatcher
from relays.ratelimit import PlatformLimits, Rate
from storage.database import Database
from storage.models import Channel, Delivery, Member, Organisation
from tests.support.scripted_relay import ScriptedRelay

ALERT = FactRef("alert", 1, "alert")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def seed(database: Database, clock: ManualClock) -> None:
    async with database.transaction() as session:
        session.add(Organisation(id="org", name="Org"))
        await session.flush()
        session.add(
            Member(
                platform="console",
                user_ref="user-admin",
                organisation_id="org",
                role="org-admin",
                created_at=clock.now(),
            )
        )
        for name in ("group-a", "group-b", "group-c"):
            session.add(
                Channel(
                    id=name,
                    platform="console",
                    address=name,
                    organisation_id="org",
                    language="fr",
                    timezone="Europe/Paris",
                    share_locations=False,
                    active=True,
                    source="config",
                    created_at=clock.now(),
                )
            )


async def enqueue(
    database: Database,
    clock: ManualClock,
    address: str,
    text: str,
    priority: int = 20,
    fact: FactRef = ALERT,
) -> None:
    async with database.transaction() as session:
        channel = address if address.startswith("group-") else None
        Outbox(platform_catalogue()).enqueue(
            session,
            Target("console", address, channel),
            text_message(text),
            fact=fact,
            priority=priority,
            now=clock.now(),
        )


def make_dispatcher(
    database: Database,
    relay: ScriptedRelay,
    clock: ManualClock,
    limits: PlatformLimits | None = None,
) -> Dispatcher:
    return Dispatcher(
        database=database,
        relays={"console": relay},
        limits={"console": limits or PlatformLimits()},
        clock=clock,
        outbox=Outbox(platform_catalogue()),
        translate=Translator(),
        rng=random.Random(7),
        retry=RetryPolicy(first_delay=2.0, give_up_after=timedelta(hours=24)),
        settings=DispatcherSettings(poll_interval=0.02),
    )


async def drain(dispatcher: Dispatcher, *, within: float = 10.0) -> None:
    task = asyncio.create_task(dispatcher.run())
    try:
        async with asyncio.timeout(within):
            await asyncio.sleep(0.05)
            await dispatcher.wait_drained(0.02)
    finally:
        dispatcher.stop()
        await task


async def statuses(database: Database) -> dict[str, int]:
    async with database.sessions() as session:
        rows = await session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
        return {status: count for status, count in rows}


@pytest.fixture
async def seeded(database: Database, clock: ManualClock) -> Database:
    await seed(database, clock)
    return database


def texts(relay: ScriptedRelay, address: str) -> list[str]:
    return [r.message.plain for r in relay.sent if r.address == address]


async def test_queue_order_per_chat_and_priority_first(
    seeded: Database, clock: ManualClock
) -> None:
    for i in range(3):
        await enqueue(seeded, clock, "group-a", f"annonce {i}", priority=0)
    await enqueue(seeded, clock, "group-a", "VITAL", priority=90)
    await enqueue(seeded, clock, "group-b", "b1")
    relay = ScriptedRelay()
    await drain(make_dispatcher(seeded, relay, clock))
    assert texts(relay, "group-a") == ["VITAL", "annonce 0", "annonce 1", "annonce 2"]
    assert texts(relay, "group-b") == ["b1"]
    assert await statuses(seeded) == {"sent": 5}


async def test_platform_message_id_is_stored_and_used_for_replies(
    seeded: Database, clock: ManualClock
) -> None:
    await enqueue(seeded, clock, "group-a", "first")
    relay = ScriptedRelay()
    await drain(make_dispatcher(seeded, relay, clock))
    async with seeded.transaction() as session:
        first = await session.scalar(select(Delivery.id))
        Outbox(platform_catalogue()).enqueue(
            session,
            Target("console", "group-a", "group-a"),
            text_message("follow-up"),
            fact=ALERT,
            priority=20,
            now=clock.now(),
            reply_to_delivery_id=first,
        )
    await drain(make_dispatcher(seeded, relay, clock))
    assert relay.sent[-1].context.reply_to_message_id == "m1"


async def test_retry_after_pauses_that_chat_only(seeded: Database, clock: ManualClock) -> None:
    await enqueue(seeded, clock, "group-a", "a1")
    await enqueue(seeded, clock, "group-a", "a2")
    await enqueue(seeded, clock, "group-b", "b1")

    def limited(
        address: str, _m: OutboundMessage, _c: SendContext, n: int
    ) -> DeliveryResult | None:
        if address == "group-a" and n <= 2:
            return DeliveryResult.retry("Too Many Requests", after=30, rate_limited=True)
        return None

    relay = ScriptedRelay(script=limited)
    await drain(make_dispatcher(seeded, relay, clock))
    assert texts(relay, "group-b") == ["b1"]
    assert texts(relay, "group-a") == []  # paused: not due until 30 s later
    clock.advance(timedelta(seconds=31))
    await drain(make_dispatcher(seeded, relay, clock))
    assert texts(relay, "group-a") == ["a1", "a2"]  # order kept after the pause
    async with seeded.sessions() as session:
        attempts = await session.scalar(select(Delivery.attempts).where(Delivery.id == 1))
    assert attempts == 1  # a rate limit is not counted as a failed attempt


async def test_transient_errors_back_off_then_deliver(seeded: Database, clock: ManualClock) -> None:
    await enqueue(seeded, clock, "group-a", "a1")
    outcomes = iter([DeliveryResult.retry("502 Bad Gateway"), DeliveryResult.retry("timed out")])

    def flaky(*_args: object) -> DeliveryResult | None:
        return next(outcomes, None)

    relay = ScriptedRelay(script=flaky)
    dispatcher = make_dispatcher(seeded, relay, clock)
    for _ in range(4):
        await drain(dispatcher := make_dispatcher(seeded, relay, clock))
        clock.advance(timedelta(seconds=10))
    assert texts(relay, "group-a") == ["a1"]
    assert len(relay.attempts) == 3
    assert dispatcher.worker_id


async def test_gives_up_after_the_limit_and_tells_the_admins(
    seeded: Database, clock: ManualClock
) -> None:
    await enqueue(seeded, clock, "group-a", "a1")
    relay = ScriptedRelay(
        script=lambda address, *_: DeliveryResult.retry("503") if address == "group-a" else None
    )
    clock.advance(timedelta(hours=25))
    await drain(make_dispatcher(seeded, relay, clock))
    assert (await statuses(seeded))["dead"] == 1
    notices = texts(relay, "user-admin")
    assert len(notices) == 1
    assert "group-a" in notices[0]
    assert "503" in notices[0]


async def test_blocked_channel_is_deactivated_others_unaffected(
    seeded: Database, clock: ManualClock
) -> None:
    for address in ("group-a", "group-b", "group-c"):
        await enqueue(seeded, clock, address, f"alerte {address}")
        await enqueue(seeded, clock, address, f"suite {address}")
    relay = ScriptedRelay(
        script=lambda address, *_: (
            DeliveryResult.failed(
                "Forbidden: bot was kicked from the group chat", channel_gone=True
            )
            if address == "group-b"
            else None
        )
    )
    await drain(make_dispatcher(seeded, relay, clock))
    assert texts(relay, "group-a") == ["alerte group-a", "suite group-a"]
    assert texts(relay, "group-c") == ["alerte group-c", "suite group-c"]
    async with seeded.sessions() as session:
        channel = await session.get(Channel, "group-b")
        cancelled = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.address == "group-b", Delivery.status == "cancelled")
        )
    assert channel is not None
    assert not channel.active
    assert cancelled == 2  # kept with their reason, not silently dropped
    notice = texts(relay, "user-admin")
    assert len(notice) == 1
    assert "group-b" in notice[0]
    assert "kicked" in notice[0]


async def test_group_upgraded_to_supergroup_follows_the_new_id(
    seeded: Database, clock: ManualClock
) -> None:
    await enqueue(seeded, clock, "group-a", "a1")
    await enqueue(seeded, clock, "group-a", "a2")
    relay = ScriptedRelay(
        script=lambda address, *_: (
            DeliveryResult.moved("group-a-super") if address == "group-a" else None
        )
    )
    await drain(make_dispatcher(seeded, relay, clock))
    assert texts(relay, "group-a-super") == ["a1", "a2"]
    async with seeded.sessions() as session:
        channel = await session.get(Channel, "group-a")
    assert channel is not None
    assert channel.address == "group-a-super"
    assert channel.active


async def test_refused_markup_is_resent_as_plain_text(seeded: Database, clock: ManualClock) -> None:
    await enqueue(seeded, clock, "group-a", "texte <b>")
    relay = ScriptedRelay(
        script=lambda _a, message, *_: (
            None
            if message.plain_only
            else DeliveryResult.failed("can't parse entities", markup_refused=True)
        )
    )
    await drain(make_dispatcher(seeded, relay, clock))
    assert [r.message.plain_only for r in relay.sent] == [True]
    assert await statuses(seeded) == {"sent": 1}


async def test_per_chat_rate_limit_spaces_sends(seeded: Database, clock: ManualClock) -> None:
    for i in range(3):
        await enqueue(seeded, clock, "user-1", f"m{i}")
    relay = ScriptedRelay()
    limits = PlatformLimits(overall=Rate(1000), private_chat=Rate(20), group_chat=Rate(20))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await drain(make_dispatcher(seeded, relay, clock, limits))
    assert texts(relay, "user-1") == ["m0", "m1", "m2"]
    assert loop.time() - started >= 2 / 20  # three sends at 20/s need two intervals


async def test_unreadable_stored_message_is_dead_not_a_crash(
    seeded: Database, clock: ManualClock
) -> None:
    await enqueue(seeded, clock, "group-a", "ok")
    async with seeded.transaction() as session:
        row = (await session.scalars(select(Delivery))).one()
        row.payload = "{not json"
    await enqueue(seeded, clock, "group-b", "fine")
    relay = ScriptedRelay()
    await drain(make_dispatcher(seeded, relay, clock))
    assert texts(relay, "group-b") == ["fine"]
    assert (await statuses(seeded)) == {"dead": 1, "sent": 2}  # "fine" and the admin notice
    assert "JSONDecodeError" in texts(relay, "user-admin")[0]
