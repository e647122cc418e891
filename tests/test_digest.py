"""The weekly digest through the composition root, on SQLite and PostgreSQL: each channel
gets the digest of its own borders, themes and language, once per scheduled time whatever
fires it (twice, two processes, a catch-up at start), with bad input escaped and cut."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from alerts.clock import ManualClock
from alerts.digest.gather import period_ending
from alerts.messages import OutboundMessage
from alerts.splitting import utf16_length
from bot.app import Wiring, build
from bot.digest.schedule import DigestSchedule
from relays.markup import to_html, to_plain
from storage.models import Channel, Delivery, Digest
from tests.support.console import config_from
from tests.support.digest_facts import add_alert, add_feed, add_item, add_mobilisation

# Monday 30 November 2026, 08:00 in Paris (07:00 UTC): the default cron's instant.
MONDAY = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
IN_WEEK = MONDAY - timedelta(days=2)
BIDI = "\u202e"
PARIS = "Europe/Paris"


def scene(database_url: str, archive: Path, **digest: Any) -> dict[str, Any]:
    def channel(name: str, borders: list[str], language: str = "fr", **more: Any) -> dict[str, Any]:
        return {
            "id": name,
            "platform": "console",
            "address": name,
            "organisation": "anafe",
            "borders": borders,
            "language": language,
            **more,
        }

    return {
        "storage": {"url": database_url},
        "organisations": [{"id": "anafe", "name": "Anafé"}, {"id": "cimade", "name": "Cimade"}],
        "members": [
            {"platform": "console", "user": "admin", "organisation": "anafe", "role": "org-admin"}
        ],
        "digest": {"archive_dir": str(archive), **digest},
        "channels": [
            channel("italie", ["franco-italienne"]),
            channel("espagne", ["franco-espagnole"], "en"),
            channel("manche", ["manche"], digest_empty="skip"),
            channel("alertes", ["*"], kinds=["alert"]),
            channel("autre", ["*"], kinds=["alert"], organisation="cimade"),
        ],
    }


@pytest.fixture
async def wiring(database_url: str, tmp_path: Path) -> AsyncIterator[Wiring]:
    built = await build(
        config_from(scene(database_url, tmp_path / "archive"), database_url),
        clock=ManualClock(MONDAY),
        console_output=io.StringIO(),
    )
    try:
        yield built
    finally:
        await built.directory.stop()
        await built.database.close()


async def digests_sent(wiring: Wiring) -> dict[str, list[OutboundMessage]]:
    """channel id → its digest's parts, from the outbox."""
    async with wiring.database.sessions() as session:
        rows = (
            await session.scalars(
                select(Delivery).where(Delivery.fact_type == "digest").order_by(Delivery.id)
            )
        ).all()
    sent: dict[str, list[OutboundMessage]] = {}
    for row in rows:
        assert row.kind == "digest"
        assert row.channel_id is not None
        sent.setdefault(row.channel_id, []).append(OutboundMessage.from_json(row.payload))
    return sent


async def count(wiring: Wiring, model: type[Any]) -> int:
    async with wiring.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def week_of_facts(wiring: Wiring) -> dict[str, int]:
    long_text = "Longue alerte " + "x" * 10_000
    async with wiring.database.transaction() as session:
        ids = {
            "html": await add_alert(
                session,
                text=f"<script>alert(1)</script> & <b>refoulés</b> {BIDI}txet à Menton",
                at=IN_WEEK,
                urgency="vital",
                themes=["refoulement", "mineurs"],
                status="closed",
                outcome="Mineurs <i>mis à l'abri</i> par l'ASE",
                latitude=43.7761,
                longitude=7.5048,
            ),
            "long": await add_alert(session, text=long_text, at=IN_WEEK, urgency="urgent"),
            "spain": await add_alert(
                session, text="Contrôle à Hendaye", at=IN_WEEK, border="franco-espagnole"
            ),
            "old": await add_alert(session, text="Semaine d'avant", at=IN_WEEK - timedelta(days=7)),
        }
        ids["follow"] = await add_alert(
            session, text="Suite : 3 personnes relâchées", at=IN_WEEK, parent_id=ids["html"]
        )
        ids["mob"] = await add_mobilisation(
            session,
            text="Observateurs en gare de Menton",
            at=IN_WEEK,
            needs={"observers": 2, "interpreter": 1},
            answers=[("going", "observers"), ("going", "observers"), ("cannot", None)],
            status="closed",
            outcome="Présence assurée, aucun refoulement constaté",
            urgency="urgent",
        )
        await add_feed(session, "conseil-etat", name="Conseil d'État", themes=["juridique"])
        await add_feed(session, "ministere", name="Ministère", themes=["legislation"])
        await add_feed(session, "cassé", name="Flux <cassé>", failures=4, last_error_at=IN_WEEK)
        await add_item(
            session,
            "ministere",
            title="Nouveau décret",
            at=IN_WEEK,
            link="https://example.org/decret",
            borders=["franco-italienne"],
        )
        await add_item(
            session,
            "conseil-etat",
            title="Décision <CE> n° 1",
            at=IN_WEEK,
            link="javascript:alert(1)",
            borders=["franco-italienne"],
        )
        await session.execute(
            update(Channel)
            .where(Channel.id.in_(["alertes", "autre"]))
            .values(active=False, inactive_reason="Forbidden: bot was kicked")
        )
    wiring.directory.invalidate()
    return ids


async def test_each_channel_gets_its_own_borders_in_its_language(wiring: Wiring) -> None:
    ids = await week_of_facts(wiring)
    assert wiring.digest is not None

    fired = await wiring.digest.service.fire(MONDAY, MONDAY)

    assert fired.sent
    assert fired.channels == 2
    assert fired.skipped == 1
    sent = await digests_sent(wiring)
    assert set(sent) == {"italie", "espagne"}  # "manche": empty and set to skip
    italy = "\n\n".join(to_plain(part) for part in sent["italie"])
    assert "Synthèse de la semaine" in italy
    assert "Du 23/11/2026 08:00 au 30/11/2026 08:00" in italy
    # Every user text as text: tags, ampersands, no bidi override, cut with "…".
    assert "<script>alert(1)</script> & <b>refoulés</b> txet à Menton" in italy
    assert BIDI not in italy
    assert "Longue alerte " + "x" * 150 in italy
    assert "x" * 300 not in italy
    assert "…" in italy
    assert f"#{ids['html']}" in italy
    assert f"#{ids['follow']}" in italy
    assert "issue : Mineurs <i>mis à l'abri</i> par l'ASE" in italy
    assert "Semaine d'avant" not in italy
    assert "Contrôle à Hendaye" not in italy
    assert "Observateurs en gare de Menton" in italy
    assert "interprète 0/1, observateur·ices 2/2" in italy
    assert "2 présent·e(s), 1 indisponible(s), 0 désisté·e(s)" in italy
    # The alert counts against the previous period; no coordinates ever.
    assert "Frontière franco-italienne · Refoulements : 2 (avant : 1)" in italy
    assert "43.77" not in italy
    assert "7.50" not in italy
    # Announcements grouped by theme, court decisions first; failing feeds; lost channels.
    court, decree = italy.index("Décision <CE> n° 1"), italy.index("Nouveau décret")
    assert court < decree
    assert "Flux <cassé> : 4 échec(s) de suite" in italy
    assert "alertes (console) : Forbidden: bot was kicked" in italy
    assert "autre" not in italy  # another organisation's channel: not this one's business
    telegram = to_html(sent["italie"][0])
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;refoulés&lt;/b&gt;" in telegram
    assert 'href="javascript' not in telegram
    assert '<a href="https://example.org/decret">Nouveau décret</a>' in telegram

    spain = "\n\n".join(to_plain(part) for part in sent["espagne"])
    assert "Weekly digest" in spain
    assert "From 2026-11-23 08:00 to 2026-11-30 08:00" in spain
    assert "Contrôle à Hendaye" in spain
    assert "Menton" not in spain


async def test_a_channel_language_without_catalogue_reads_french(wiring: Wiring) -> None:
    await week_of_facts(wiring)
    async with wiring.database.transaction() as session:
        await session.execute(update(Channel).where(Channel.id == "espagne").values(language="de"))
    wiring.directory.invalidate()
    assert wiring.digest is not None

    await wiring.digest.service.fire(MONDAY, MONDAY)

    spain = to_plain((await digests_sent(wiring))["espagne"][0])
    assert "Synthèse de la semaine" in spain
    assert "Contrôle à Hendaye" in spain


async def test_an_empty_week_says_so_in_one_line_or_sends_nothing(wiring: Wiring) -> None:
    assert wiring.digest is not None
    fired = await wiring.digest.service.fire(MONDAY, MONDAY)

    assert fired.sent
    assert fired.channels == 2
    assert fired.skipped == 1
    sent = await digests_sent(wiring)
    assert "manche" not in sent
    [italy] = sent["italie"]
    assert [p.plain for p in italy.paragraphs[1:]] == [
        "Rien à signaler sur vos frontières et thèmes pendant cette période."
    ]
    # Recorded all the same: the skipped channel is not sent it later either.
    assert await count(wiring, Digest) == 4  # three channels and the network's archive


async def test_the_job_firing_twice_sends_once(wiring: Wiring) -> None:
    await week_of_facts(wiring)
    assert wiring.digest is not None
    clock = wiring.clock
    assert isinstance(clock, ManualClock)

    first = await wiring.digest.scheduler.tick()
    clock.advance(timedelta(seconds=40))
    second = await wiring.digest.scheduler.tick()

    assert first is not None
    assert first.sent
    assert first.scheduled_for == MONDAY
    assert second is not None
    assert not second.sent
    sent = await digests_sent(wiring)
    assert {channel: len(parts) for channel, parts in sent.items()} == {"italie": 1, "espagne": 1}


async def test_two_processes_at_the_scheduled_minute_send_once(
    wiring: Wiring, database_url: str, tmp_path: Path
) -> None:
    await week_of_facts(wiring)
    other = await build(
        config_from(scene(database_url, tmp_path / "archive"), database_url),
        clock=ManualClock(MONDAY),
        console_output=io.StringIO(),
    )
    try:
        assert wiring.digest is not None
        assert other.digest is not None
        results = await asyncio.gather(
            wiring.digest.service.fire(MONDAY, MONDAY), other.digest.service.fire(MONDAY, MONDAY)
        )
    finally:
        await other.directory.stop()
        await other.database.close()

    assert sorted(r.sent for r in results) == [False, True]
    sent = await digests_sent(wiring)
    assert {channel: len(parts) for channel, parts in sent.items()} == {"italie": 1, "espagne": 1}
    assert await count(wiring, Digest) == 4


async def test_down_at_the_scheduled_time_sends_the_latest_missed_once_at_start(
    wiring: Wiring,
) -> None:
    await week_of_facts(wiring)
    assert wiring.digest is not None
    clock = wiring.clock
    assert isinstance(clock, ManualClock)
    scheduler = wiring.digest.scheduler
    # Running since a Friday three weeks back, then down from before the last two Mondays.
    clock.set(MONDAY - timedelta(days=17))
    assert await scheduler.catch_up() is None  # first start: nothing "missed" before it
    assert await count(wiring, Digest) == 0

    clock.set(MONDAY + timedelta(days=2))  # started again on Wednesday
    caught = await scheduler.catch_up()
    again = await scheduler.catch_up()  # a restart on the same day

    assert caught is not None
    assert caught.sent
    assert caught.scheduled_for == MONDAY
    assert again is not None
    assert not again.sent
    async with wiring.database.sessions() as session:
        network = (await session.scalars(select(Digest).where(Digest.audience == "*"))).all()
    assert [row.scheduled_for for row in network] == [MONDAY]  # not the Monday before
    sent = await digests_sent(wiring)
    assert {channel: len(parts) for channel, parts in sent.items()} == {"italie": 1, "espagne": 1}
    # The digest covers the week before its own scheduled time, not before the restart.
    assert "Du 23/11/2026 08:00 au 30/11/2026 08:00" in to_plain(sent["italie"][0])


async def test_the_archive_is_written_with_no_person_and_no_coordinates(wiring: Wiring) -> None:
    await week_of_facts(wiring)
    assert wiring.digest is not None
    await wiring.digest.service.fire(MONDAY, MONDAY)

    folder = wiring.digest.archive.folder
    assert sorted(p.name for p in folder.iterdir()) == [
        "digest-2026-11-30-0800.html",
        "feed.atom",
        "index.html",
    ]
    page = (folder / "digest-2026-11-30-0800.html").read_text("utf-8")
    assert "<svg" in page
    assert "<script" not in page.lower()
    for private in ("43.77", "7.50", "Menton", "ASE", "relâchées", "Longue alerte"):
        assert private not in page  # typed by members: never on the web
    assert "autre (console)" in page  # the network's archive lists every lost channel
    assert "Forbidden" not in page  # without the platform's words
    assert "Décision &lt;CE&gt; n° 1" in page
    assert "javascript:" not in page
    index = (folder / "index.html").read_text("utf-8")
    assert 'href="digest-2026-11-30-0800.html"' in index
    # Written again from the same facts: the same bytes (the chart is deterministic).
    service = wiring.digest.service
    view = service.view(await service.facts(period_ending(MONDAY, timedelta(days=7), PARIS)), None)
    assert view is not None
    (folder / "digest-2026-11-30-0800.html").unlink()
    await wiring.digest.archive.write(view)
    assert (folder / "digest-2026-11-30-0800.html").read_text("utf-8") == page


# -- the schedule across the changes of clocks ---------------------------------------------


def test_a_dst_week_is_one_digest_at_local_time() -> None:
    schedule = DigestSchedule("0 8 * * mon", "Europe/Paris")
    march = list(
        schedule.instants(datetime(2026, 3, 20, tzinfo=UTC), datetime(2026, 4, 7, tzinfo=UTC))
    )
    october = list(
        schedule.instants(datetime(2026, 10, 20, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))
    )
    # 08:00 in Paris: 07:00 UTC in winter, 06:00 UTC in summer.
    assert march == [
        datetime(2026, 3, 23, 7, tzinfo=UTC),
        datetime(2026, 3, 30, 6, tzinfo=UTC),
        datetime(2026, 4, 6, 6, tzinfo=UTC),
    ]
    assert october == [datetime(2026, 10, 26, 7, tzinfo=UTC), datetime(2026, 11, 2, 7, tzinfo=UTC)]


def test_a_wall_time_that_happens_twice_is_one_instant_and_one_that_never_happens_is_one() -> None:
    schedule = DigestSchedule("30 2 * * sun", "Europe/Paris")
    october = list(
        schedule.instants(datetime(2026, 10, 24, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC))
    )
    march = list(
        schedule.instants(datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC))
    )
    assert october == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]  # 02:30 CEST, not CET too
    assert march == [datetime(2026, 3, 29, 1, 30, tzinfo=UTC)]  # 02:30 does not exist: 03:30


@pytest.mark.parametrize(
    ("cron", "first", "repeat"),
    [
        # October: APScheduler fires at 02:30 CEST and again at 02:30 CET.
        (
            "30 2 * * sun",
            datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
            datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
        ),
        # March: 02:30 never happens; it fires once, at 03:30 CEST.
        ("30 2 * * sun", datetime(2026, 3, 29, 1, 30, tzinfo=UTC), None),
        # The default schedule across both weeks' Mondays.
        ("0 8 * * mon", datetime(2026, 10, 26, 7, tzinfo=UTC), None),
        ("0 8 * * mon", datetime(2026, 3, 30, 6, tzinfo=UTC), None),
    ],
)
async def test_the_dst_weeks_send_once_at_local_time(
    database_url: str, tmp_path: Path, cron: str, first: datetime, repeat: datetime | None
) -> None:
    clock = ManualClock(first)
    built = await build(
        config_from(scene(database_url, tmp_path / "a", cron=cron), database_url),
        clock=clock,
        console_output=io.StringIO(),
    )
    try:
        async with built.database.transaction() as session:
            await add_alert(session, text="Refoulement", at=first - timedelta(days=3))
        assert built.digest is not None
        fired = await built.digest.scheduler.tick()
        assert fired is not None
        assert fired.sent
        assert fired.scheduled_for == first
        clock.set(repeat or first + timedelta(minutes=1))
        again = await built.digest.scheduler.tick()
        assert again is not None
        assert not again.sent
        sent = await digests_sent(built)
        assert {channel: len(parts) for channel, parts in sent.items()} == {
            "italie": 1,
            "espagne": 1,
        }
        text = to_plain(sent["italie"][0])
        assert "Refoulement" in text
        # The period is a local week (or day): it ends at the local time it was due.
        local = first.astimezone(ZoneInfo(PARIS))
        assert local.strftime("%d/%m/%Y %H:%M") in text
    finally:
        await built.directory.stop()
        await built.database.close()


async def test_a_long_digest_is_split_between_sections_within_telegram_limits(
    wiring: Wiring,
) -> None:
    async with wiring.database.transaction() as session:
        for index in range(12):
            parent = await add_alert(
                session, text=f"Alerte {index} " + "é" * 10_000, at=IN_WEEK, urgency="vital"
            )
            for _ in range(3):
                await add_alert(session, text="Suite " + "ü" * 5_000, at=IN_WEEK, parent_id=parent)
        for index in range(12):
            await add_mobilisation(
                session,
                text=f"Mobilisation {index} " + "m" * 5_000,
                at=IN_WEEK,
                needs={"observers": 3},
                urgency="urgent",
            )
        for theme in ("juridique", "asile", "mineurs", "legislation", "sante"):
            await add_feed(session, f"f-{theme}", themes=[theme])
            for index in range(8):
                await add_item(
                    session,
                    f"f-{theme}",
                    title=f"{index} " + "t" * 1_000,
                    at=IN_WEEK,
                    link=f"https://example.org/{theme}/{index}",
                )
    assert wiring.digest is not None
    service = wiring.digest.service
    facts = await service.facts(period_ending(MONDAY, timedelta(days=7), PARIS))
    [italy] = [t for t in await service.targets() if t.id == "italie"]
    view = service.view(facts, italy)
    assert view is not None
    message = service.render(view, "fr")

    parts = wiring.outbox.split(message, "telegram")

    assert len(parts) > 1
    assert all(utf16_length(part.plain) <= 4096 for part in parts)
    # Parts are whole sections, in order; a section longer than a message alone (the ten
    # most urgent alerts, here) is cut between two of its lines, never inside one.
    pieces = [p.plain for part in parts for p in part.paragraphs]
    cut = 0
    for section in message.paragraphs:
        if utf16_length(section.plain) <= 4096:
            assert pieces.pop(0) == section.plain
            continue
        joined = pieces.pop(0)
        while joined != section.plain:
            joined += "\n" + pieces.pop(0)
            cut += 1
    assert pieces == []
    assert cut >= 1
