"""The guided alert is platform-neutral: driven here through the router alone as a Matrix
direct room (where the relay turns numbered replies into the same button presses), in
English, with the questions read back from the outbox."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import select

from alerts.clock import ManualClock
from alerts.messages import ButtonPress, InboundMessage, OutboundMessage
from bot.app import Wiring, build
from storage.database import Database
from storage.models import Alert, Delivery
from tests.support.console import config_from

ROOM = "!dm:example.org"
USER = "@ana:example.org"


@pytest.fixture
async def wiring(database_url: str, database: Database) -> Wiring:
    raw: dict[str, object] = {
        "organisations": [{"id": "anafe", "name": "Anafé"}],
        "members": [
            {"platform": "matrix", "user": USER, "organisation": "anafe", "language": "en"}
        ],
        "channels": [
            {
                "id": "mx-italie",
                "platform": "matrix",
                "address": "!italie:example.org",
                "organisation": "anafe",
                "borders": ["franco-italienne"],
            }
        ],
    }
    return await build(config_from(raw, database_url), clock=ManualClock(), database=database)


class Room:
    def __init__(self, wiring: Wiring) -> None:
        self._wiring = wiring
        self._ids = itertools.count(1)
        self._read = 0

    async def send(self, text: str = "", press: str | None = None) -> None:
        number = next(self._ids)
        await self._wiring.router(
            InboundMessage(
                platform="matrix",
                update_id=f"$event{number}",
                chat=ROOM,
                chat_type="private",
                sender=USER,
                text=text,
                message_id=f"$event{number}",
                button=ButtonPress(press, f"press{number}") if press else None,
            )
        )

    async def replies(self) -> list[OutboundMessage]:
        async with self._wiring.database.sessions() as session:
            rows = (
                await session.scalars(
                    select(Delivery).where(Delivery.address == ROOM).order_by(Delivery.id)
                )
            ).all()
        fresh = [OutboundMessage.from_json(row.payload) for row in rows[self._read :]]
        self._read = len(rows)
        return fresh

    @staticmethod
    def choice(message: OutboundMessage, label: str) -> str:
        for row in message.buttons:
            for button in row:
                if button.label == label or button.label.endswith(" " + label):
                    return button.data
        raise AssertionError(f"no choice {label!r} in {message.plain!r}")


async def test_a_guided_alert_in_a_matrix_direct_room_in_english(wiring: Wiring) -> None:
    room = Room(wiring)

    await room.send("!alert")
    started, border = await room.replies()
    await room.send(press=room.choice(border, "Frontière franco-italienne"))
    [place] = await room.replies()
    await room.send("Pont Saint-Louis")  # an alias: the known place is kept
    [what] = await room.replies()
    await room.send("Ten people pushed back, two children")
    [people] = await room.replies()
    await room.send(press=room.choice(people, "10"))
    [minors] = await room.replies()
    assert minors.plain.startswith("(5/7) Any minors")
    await room.send("2")
    [themes] = await room.replies()
    await room.send(press=room.choice(themes, "Done ➡️"))
    [urgency] = await room.replies()
    await room.send(press=room.choice(urgency, "🆘 Vital (a life at risk)"))
    [summary] = await room.replies()
    await room.send(press=room.choice(summary, "✅ Send"))
    [receipt] = await room.replies()

    assert started.plain.startswith("🆕 New alert")
    assert place.plain.startswith("(2/7) Where exactly?")
    assert what.plain.startswith("(3/7) What is happening?")
    assert "Place: Menton" in summary.plain
    assert "Minors: 2" in summary.plain
    assert receipt.plain == "✅ Alert #1 relayed to 1 channel(s)."
    async with wiring.database.sessions() as session:
        alert = await session.scalar(select(Alert))
    assert alert is not None
    assert (alert.place, alert.people, alert.minors, alert.urgency) == ("Menton", 10, 2, "vital")
    assert alert.themes == '["mineurs"]'


async def test_wrong_answers_are_asked_again_and_nothing_is_raised(wiring: Wiring) -> None:
    room = Room(wiring)

    await room.send("!alert")
    _, border = await room.replies()
    await room.send("somewhere unknown")
    [again] = await room.replies()
    await room.send(press=room.choice(border, "Littoral de la Manche"))
    await room.replies()
    await room.send(press=room.choice(border, "Frontière franco-espagnole"))  # old question
    [old] = await room.replies()
    await room.send("!cancel")
    [cancelled] = await room.replies()
    await room.send("!cancel")
    [nothing] = await room.replies()

    assert again.plain == "Answer with the buttons above (or !cancel)."
    assert old.plain == "That question was already answered; answer the latest one."
    assert cancelled.plain == "Alert cancelled: nothing was relayed."
    assert nothing.plain == "No alert in progress."
    async with wiring.database.sessions() as session:
        assert await session.scalar(select(Alert)) is None


async def test_a_guided_alert_over_the_limit_is_kept_to_send_again_later(wiring: Wiring) -> None:
    room = Room(wiring)
    for number in range(10):
        await room.send(f"!alert contrôle {number} à Menton")
    assert len(await room.replies()) == 10  # ten receipts

    await room.send("!alert")
    _, border = await room.replies()
    await room.send(press=room.choice(border, "Frontière franco-italienne"))
    await room.replies()
    await room.send("Menton")
    await room.replies()
    await room.send("Ten people pushed back")
    people = (await room.replies())[-1]
    await room.send(press=room.choice(people, "10"))
    await room.replies()
    await room.send("0")
    themes = (await room.replies())[-1]
    await room.send(press=room.choice(themes, "Done ➡️"))
    [urgency] = await room.replies()
    await room.send(press=room.choice(urgency, "📣 Normal"))
    [summary] = await room.replies()
    send = room.choice(summary, "✅ Send")
    await room.send(press=send)
    [refused] = await room.replies()
    assert isinstance(wiring.clock, ManualClock)
    wiring.clock.advance(timedelta(seconds=61))
    await room.send(press=send)  # the same summary's button, a minute later
    [receipt] = await room.replies()

    assert refused.plain.startswith("⏸ Limit reached: 10 alerts a minute.")
    assert receipt.plain.startswith("✅ Alert #11 relayed to 1 channel(s).")
    assert "⏸ 1 alert(s) sent between" in receipt.plain
    async with wiring.database.sessions() as session:
        alert = await session.scalar(select(Alert).where(Alert.id == 11))
    assert alert is not None
    assert alert.text == "Ten people pushed back"
