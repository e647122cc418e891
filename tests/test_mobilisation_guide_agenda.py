"""The guided call (`/mobilise` alone: need buttons, then the place and time typed) and
the agenda (`/agenda` in chat, `/agenda.ics` over HTTP), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
from icalendar import Calendar
from sqlalchemy import select

from alerts.clock import ManualClock
from alerts.messages import OutboundMessage
from storage.models import Alert, MobilisationNeed
from tests.support.console import config_from, demo_raw, run_console
from tests.support.mobilisation_scene import (
    COORDINATOR,
    NOW,
    SPAIN,
    Scene,
    mobilisation_scene,
)


async def last_buttons(scene: Scene, chat: str) -> dict[str, str]:
    rows = await scene.rows(chat)
    message = OutboundMessage.from_json(rows[-1].payload)
    return {button.label: button.data for row in message.buttons for button in row}


async def test_the_guided_call_with_buttons_then_one_typed_line(database_url: str) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say(COORDINATOR, "/mobilise")
        assert "Nouvelle mobilisation" in (await scene.texts(COORDINATOR))[-1]
        buttons = await last_buttons(scene, COORDINATOR)
        assert list(buttons)[:3] == ["Observateur·ice", "Interprète", "Avocat·e / juriste"]
        await scene.press(COORDINATOR, buttons["Observateur·ice"], chat=COORDINATOR)
        await scene.press(COORDINATOR, buttons["Observateur·ice"], chat=COORDINATOR)
        assert "Besoin : 2 observateur·ices" in await scene.last(COORDINATOR)
        await scene.say(COORDINATOR, "gare d'Hendaye à 9h")  # 9:00 is past at 14:00
        assert "déjà passée" in await scene.last(COORDINATOR)
        await scene.say(COORDINATOR, "à la gare 18h")  # no known place: asked where
        assert "Où est-ce ?" in await scene.last(COORDINATOR)
        await scene.say(COORDINATOR, "Hendaye")  # completes the line typed before
        assert "Mobilisation #1 envoyée" in await scene.last(COORDINATOR)
        async with scene.wiring.database.sessions() as session:
            needs = (await session.scalars(select(MobilisationNeed))).all()
        assert [(n.need, n.wanted) for n in needs] == [("observers", 2)]
        [copy] = await scene.rows(SPAIN)
        shown = OutboundMessage.from_json(copy.payload).plain
        assert "Observateur·ices 0/2" in shown
        assert "Rendez-vous : 02/12 18:00" in shown
        # The conversation is over: its buttons are stale now, and say so.
        await scene.press(COORDINATOR, buttons["Interprète"], chat=COORDINATOR)
        assert await count_alerts(scene) == 1


async def test_guide_cancel_and_forged_guide_buttons(database_url: str) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say(COORDINATOR, "/mobilise")
        buttons = await last_buttons(scene, COORDINATOR)
        await scene.press(COORDINATOR, "mg:forged00:observers", chat=COORDINATOR)
        forged = await scene.last(COORDINATOR)
        assert "Nouvelle mobilisation" not in forged
        assert "Besoin" not in forged
        await scene.press(COORDINATOR, buttons["Annuler"], chat=COORDINATOR)
        assert "Mobilisation abandonnée" in await scene.last(COORDINATOR)
        await scene.say(COORDINATOR, "gare d'Hendaye 18h")  # no call in progress any more
        assert await count_alerts(scene) == 0
        await scene.say(COORDINATOR, "/mobilise", chat=SPAIN, chat_type="group")
        assert "De quoi avez-vous besoin ?" in await scene.last(SPAIN)  # asked, not guided


async def count_alerts(scene: Scene) -> int:
    async with scene.wiring.database.sessions() as session:
        return len((await session.scalars(select(Alert.id))).all())


async def test_agenda_in_chat_and_as_icalendar(database_url: str) -> None:
    async with mobilisation_scene(database_url, web=True) as scene:
        await scene.say(COORDINATOR, "/mobilise 1 avocat gare d'Hendaye demain 9h")
        await scene.say(COORDINATOR, "/mobilise 2 observateurs Irun 18h")
        await scene.say(COORDINATOR, "/mobilise 1 interprète Hendaye")  # no start: not listed
        await scene.say(COORDINATOR, "/mobilise 1 transport Hendaye 20h")
        await scene.say(COORDINATOR, "/close 4 annulé")  # closed: not listed
        await scene.say("obs1", "/agenda")
        agenda = await scene.last("obs1")
        lines = agenda.splitlines()
        assert lines[0] == "Mobilisations à venir :"
        assert lines[1].startswith("#2 — 02/12 18:00 — Irun — Observateur·ices 0/2")
        assert lines[2].startswith("#1 — 03/12 09:00 — Hendaye — Avocat·e / juriste 0/1")
        assert len(lines) == 3

        server = scene.wiring.web  # the composition root's web server serves the agenda
        assert server is not None
        await server.start()
        try:
            url = f"http://127.0.0.1:{server.port}/agenda.ics"
            async with aiohttp.ClientSession() as client, client.get(url) as answer:
                assert answer.status == 200
                assert answer.content_type == "text/calendar"
                body = await answer.read()
        finally:
            await server.close()
        events = Calendar.from_ical(body).walk("VEVENT")
        assert [str(e["uid"]) for e in events] == [
            "mobilisation-2@tocsin.invalid",
            "mobilisation-1@tocsin.invalid",
        ]
        assert [str(e["location"]) for e in events] == ["Irun", "Hendaye"]
        start = events[0].decoded("dtstart")
        assert start == scene.clock.now() + timedelta(hours=4)
        assert "gare" not in body.decode()  # the named place only, never the call's words


async def test_the_guided_call_on_the_console_with_typed_numbers(database_url: str) -> None:
    """The console (as Matrix) lists the need buttons as numbered choices; a typed number
    presses one. The local member of the demo is an admin."""
    config = config_from(demo_raw(), database_url)
    clock = ManualClock(NOW)
    lines = await run_console(config, ["/mobilise", "1", "2", "gare d'Hendaye 18h"], clock=clock)
    assert any("1. Observateur·ice" in line for line in lines)
    assert any("Besoin : 1 observateur·ice, 1 interprète" in line for line in lines)
    [copy] = [line for line in lines if line.startswith("[vigie-espagne]")]
    assert "Observateur·ice 0/1 · Interprète 0/1" in copy
    assert "1. ✋ J'y vais (observateur·ice)" in copy  # its answers, as numbered choices
