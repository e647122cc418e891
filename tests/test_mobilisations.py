"""Mobilisation calls through the real composition root, on SQLite and PostgreSQL: the
call, answers, the debounced live count, escalation, reminders, closing, the restart,
and every bad input the issue names (each with what did not change)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from alerts.messages import OutboundMessage
from alerts.mobilisations.buttons import press_data
from alerts.mobilisations.needs import Need
from storage.database import open_database
from storage.models import Alert, AuditEntry, Delivery, Member, Mobilisation, MobilisationAnswer
from tests.support.mobilisation_scene import (
    COORDINATOR,
    ITALY,
    SPAIN,
    Scene,
    mobilisation_scene,
)

CALL = "/mobilise 2 observateurs, 1 interprète gare d'Hendaye 18h"


async def count(scene: Scene, model: type[object]) -> int:
    async with scene.wiring.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def call_row(scene: Scene, call_id: int = 1) -> tuple[Alert, Mobilisation]:
    async with scene.wiring.database.sessions() as session:
        alert = await session.get(Alert, call_id)
        mobilisation = await session.get(Mobilisation, call_id)
        assert alert is not None
        assert mobilisation is not None
        return alert, mobilisation


async def edits_of(scene: Scene, chat: str) -> list[Delivery]:
    return [row for row in await scene.rows(chat) if row.edit_of_delivery_id is not None]


async def test_a_call_goes_out_with_its_number_needs_and_answer_buttons(database_url: str) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say(COORDINATOR, CALL)
        receipt = await scene.last(COORDINATOR)
        assert "Mobilisation #1 envoyée à 1 canal" in receipt
        [copy] = await scene.rows(SPAIN)
        message = OutboundMessage.from_json(copy.payload)
        assert "Mobilisation #1" in message.plain
        assert (
            "Observateur·ices 0/2 · Interprète 0/1 — manque : 2 observateur·ices, 1 interprète"
            in (message.plain)
        )
        assert "Rendez-vous : 02/12 18:00" in message.plain
        labels = [button.label for row in message.buttons for button in row]
        assert labels == [
            "✋ J'y vais (observateur·ice)",
            "✋ J'y vais (interprète)",
            "Je ne peux pas",
            "Je me retire",
        ]
        assert await scene.rows(ITALY) == []  # another border
        received = scene.wiring.metrics.registry.get_sample_value(
            "tocsin_alerts_received_total", {"platform": "console", "kind": "mobilisation"}
        )
        assert received == 1.0
        _, mobilisation = await call_row(scene)
        assert mobilisation.starts_at is not None
        assert mobilisation.escalate_at == scene.clock.now() + timedelta(minutes=30)
        assert mobilisation.remind_at == mobilisation.starts_at - timedelta(hours=1)
        assert mobilisation.close_at == mobilisation.starts_at + timedelta(hours=6)


async def test_answers_count_once_and_the_count_edits_each_copy_once_per_window(
    database_url: str,
) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say(COORDINATOR, CALL)
        going = press_data(1, "going", Need.OBSERVERS)
        # The same button twenty times in a second, handed over together.
        await asyncio.gather(*(scene.press("obs1", going) for _ in range(20)))
        assert await count(scene, MobilisationAnswer) == 1
        # Pressed in the group: the platform acknowledges each press, no private message.
        assert await scene.texts("obs1") == []
        assert await scene.tick() == 0  # the window has not passed: no edit, no notice yet
        assert await edits_of(scene, SPAIN) == []
        scene.clock.advance(timedelta(seconds=5))
        await scene.tick()
        # The coordinator's notice: who answered, from which organisation, and the count.
        notice = await scene.last(COORDINATOR)
        assert notice.splitlines() == [
            "📬 Mobilisation #1 : 1 réponse(s)",
            "• obs1 (Anafé) — y va (observateur·ice)",
            "Observateur·ices 1/2 · Interprète 0/1 — manque : 1 observateur·ice, 1 interprète",
        ]
        [edit] = await edits_of(scene, SPAIN)
        assert (
            "Observateur·ices 1/2 · Interprète 0/1" in OutboundMessage.from_json(edit.payload).plain
        )

        # More answers while that edit still waits: it is rewritten, not doubled.
        await scene.press("obs2", going)
        await scene.press("obs3", press_data(1, "going", Need.INTERPRETER))
        scene.clock.advance(timedelta(seconds=5))
        await scene.tick()
        assert (await scene.last(COORDINATOR)).splitlines()[:3] == [
            "📬 Mobilisation #1 : 2 réponse(s)",
            "• obs2 (Anafé) — y va (observateur·ice)",
            "• obs3 (Anafé) — y va (interprète)",
        ]
        [edit] = await edits_of(scene, SPAIN)
        shown = OutboundMessage.from_json(edit.payload)
        assert "Observateur·ices 2/2 · Interprète 1/1 — complet ✅" in shown.plain
        assert edit.priority < 80  # never ahead of an urgent alert in the chat

        # Changing one's mind: one current answer per person.
        await scene.press("obs3", press_data(1, "cannot"))
        assert await count(scene, MobilisationAnswer) == 3
        scene.clock.advance(timedelta(seconds=5))
        await scene.tick()
        [edit] = await edits_of(scene, SPAIN)
        assert "Interprète 0/1" in OutboundMessage.from_json(edit.payload).plain


async def test_an_answer_from_a_private_chat_is_confirmed_there(database_url: str) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say(COORDINATOR, CALL)
        await scene.say("obs1", "/answer 1")  # the call and its buttons, in private
        [card] = await scene.rows("obs1")
        message = OutboundMessage.from_json(card.payload)
        assert "Mobilisation #1" in message.plain
        assert press_data(1, "going", Need.INTERPRETER) in [
            b.data for row in message.buttons for b in row
        ]
        await scene.say("obs1", "/answer 99")
        assert "Aucune mobilisation ni alerte n°99" in await scene.last("obs1")
        await scene.press("obs1", press_data(1, "going", Need.INTERPRETER), chat="obs1")
        assert await scene.last("obs1") == (
            "✅ Noté : vous allez à la mobilisation #1 (interprète). Merci !"
        )
        await scene.press("obs1", press_data(1, "going", Need.INTERPRETER), chat="obs1")
        assert len(await scene.texts("obs1")) == 3  # the same answer again: nothing new


async def test_listing_who_is_going(database_url: str) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say(COORDINATOR, CALL)
        await scene.press("obs1", press_data(1, "going", Need.OBSERVERS))
        await scene.press("obs2", press_data(1, "cannot"))
        await scene.say(COORDINATOR, "/mobilisation 1")
        listing = await scene.last(COORDINATOR)
        assert "Observateur·ices 1/2 : obs1" in listing
        assert "Interprète 0/1 : personne" in listing
        assert "Ne peuvent pas : obs2" in listing
        await scene.say("other-coord", "/mobilisation 1")  # another organisation's coordinator
        assert "Seul·es l'auteur·ice de #1" in await scene.last("other-coord")
        await scene.say("admin-anafe", "/mobilisation 1")  # its organisation's admin
        assert "obs1" in await scene.last("admin-anafe")


async def test_escalation_fires_once_to_the_channels_that_did_not_have_it(
    database_url: str,
) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say(COORDINATOR, CALL + " !escalate=10m")
        scene.clock.advance(timedelta(minutes=9))
        await scene.tick()
        assert await scene.rows(ITALY) == []
        scene.clock.advance(timedelta(minutes=1))
        await scene.tick()
        [copy] = await scene.rows(ITALY)
        assert "🚨 Mobilisation #1 · URGENT" in OutboundMessage.from_json(copy.payload).plain
        alert, mobilisation = await call_row(scene)
        assert alert.urgency == "urgent"
        assert mobilisation.escalated_at == scene.clock.now()
        assert "rappel envoyé à 1 canal(aux) de plus" in await scene.last(COORDINATOR)
        scene.clock.advance(timedelta(minutes=30))
        await scene.tick()
        assert len([r for r in await scene.rows(ITALY) if r.edit_of_delivery_id is None]) == 1


async def test_no_escalation_once_covered_or_closed(database_url: str) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say(COORDINATOR, "/mobilise 1 avocat à Hendaye !escalate=30s")
        await scene.press("obs1", press_data(1, "going"))
        await scene.say(COORDINATOR, "/mobilise 1 avocat à Irun !escalate=30s")
        await scene.say(COORDINATOR, "/close 2 annulée, plus besoin")
        scene.clock.advance(timedelta(minutes=1))
        await scene.tick()
        assert await scene.rows(ITALY) == []
        _, first = await call_row(scene, 1)
        assert first.escalated_at is not None  # decided, and never again


async def test_reminder_and_answering_no_frees_the_place(database_url: str) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say(COORDINATOR, "/mobilise 1 interprète Hendaye 18h")
        await scene.press("obs1", press_data(1, "going"))
        _, mobilisation = await call_row(scene)
        assert mobilisation.remind_at is not None
        scene.clock.set(mobilisation.remind_at)
        await scene.tick()
        reminder = (await scene.rows("obs1"))[-1]
        message = OutboundMessage.from_json(reminder.payload)
        assert "Rappel : mobilisation #1 à 02/12 18:00 — Hendaye" in message.plain
        assert "Toujours partant·e ?" in message.plain
        assert [b.label for row in message.buttons for b in row] == [
            "👍 Oui, toujours",
            "Non, je me retire",
        ]
        await scene.tick()
        assert len([t for t in await scene.texts("obs1") if "Rappel" in t]) == 1  # once
        await scene.press("obs1", press_data(1, "still"), chat="obs1")
        assert await scene.last("obs1") == "Merci ! À tout à l'heure."
        await scene.press("obs2", press_data(1, "withdraw"), chat="obs2")  # never said yes
        assert "Vous n'aviez pas annoncé venir" in await scene.last("obs2")
        await scene.press("obs1", press_data(1, "withdraw"), chat="obs1")
        assert "vous vous retirez" in await scene.last("obs1")
        scene.clock.advance(timedelta(seconds=5))
        await scene.tick()
        [edit] = await edits_of(scene, SPAIN)
        assert (
            "Interprète 0/1 — manque : 1 interprète"
            in OutboundMessage.from_json(edit.payload).plain
        )


async def test_closing_shows_the_outcome_everywhere_and_refuses_later_answers(
    database_url: str,
) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say(COORDINATOR, CALL)
        await scene.press("obs1", press_data(1, "going", Need.OBSERVERS))
        await scene.say(COORDINATOR, "/close 1 3 personnes accompagnées au foyer")
        assert "#1 close avec son bilan ; 1 copie(s)" in await scene.last(COORDINATOR)
        [edit] = await edits_of(scene, SPAIN)
        closed = OutboundMessage.from_json(edit.payload)
        assert "Bilan : 3 personnes accompagnées au foyer" in closed.plain
        assert closed.buttons == ()
        alert, _ = await call_row(scene)
        assert (alert.status, alert.outcome) == ("closed", "3 personnes accompagnées au foyer")
        assert alert.closed_at == scene.clock.now()
        await scene.press("obs2", press_data(1, "going", Need.OBSERVERS))
        assert "La mobilisation #1 est close" in await scene.last("obs2")
        assert await count(scene, MobilisationAnswer) == 1
        await scene.say(COORDINATOR, "/close 1 encore")
        assert "#1 est déjà close" in await scene.last(COORDINATOR)


async def test_a_call_closes_by_itself_after_its_start(database_url: str) -> None:
    async with mobilisation_scene(database_url, close_after="2h") as scene:
        await scene.say(COORDINATOR, "/mobilise 1 avocat Hendaye dans 1h")
        scene.clock.advance(timedelta(hours=2, minutes=59))
        await scene.tick()
        assert (await call_row(scene))[0].status == "open"
        scene.clock.advance(timedelta(minutes=1))
        await scene.tick()
        alert, _ = await call_row(scene)
        assert alert.status == "closed"
        assert alert.outcome is None
        assert "close automatiquement" in await scene.last(COORDINATOR)
        [edit] = await edits_of(scene, SPAIN)
        assert OutboundMessage.from_json(edit.payload).buttons == ()


async def test_closing_an_alert_sends_its_outcome_as_a_reply(database_url: str) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say("obs1", "/alert 12 personnes refoulées à Menton")
        [copy] = await scene.rows(ITALY)
        await scene.say("obs2", "/close 1 tout le monde est libre")  # an observer: no
        assert "demande le rôle coordinator" in await scene.last("obs2")
        await scene.say("other-coord", "/close 1 tout le monde est libre")  # not theirs
        assert "Seul·es l'auteur·ice de #1" in await scene.last("other-coord")
        assert len(await scene.rows(ITALY)) == 1
        await scene.say(COORDINATOR, "/close 1 tout le monde est libre")  # not the author
        assert "Seul·es l'auteur·ice de #1" in await scene.last(COORDINATOR)
        await scene.say("admin-anafe", "/close 1 tout le monde est libre")  # its org-admin
        rows = await scene.rows(ITALY)
        assert len(rows) == 2
        assert rows[1].reply_to_delivery_id == copy.id
        assert "bilan : tout le monde est libre" in OutboundMessage.from_json(rows[1].payload).plain
        alert = await _alert(scene, 1)
        assert (alert.status, alert.outcome) == ("closed", "tout le monde est libre")


async def _alert(scene: Scene, alert_id: int) -> Alert:
    async with scene.wiring.database.sessions() as session:
        found = await session.get(Alert, alert_id)
        assert found is not None
        return found


async def test_editing_the_message_of_a_call_does_not_wipe_its_count(database_url: str) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say(COORDINATOR, CALL, message_id="m1")
        await scene.say(
            COORDINATOR, "/mobilise 5 observateurs Hendaye", message_id="m1", edited=True
        )
        assert "La mobilisation #1 est déjà partie" in await scene.last(COORDINATOR)
        assert await edits_of(scene, SPAIN) == []
        assert await count(scene, Alert) == 1


async def test_calls_count_in_the_members_intake_limit(database_url: str) -> None:
    async with mobilisation_scene(database_url, per_minute=2) as scene:
        for _ in range(3):
            await scene.say(COORDINATOR, "/mobilise 1 avocat Hendaye")
        assert "Limite atteinte" in await scene.last(COORDINATOR)
        assert await count(scene, Alert) == 2
        await scene.say(COORDINATOR, "/mobilise 1 avocat Hendaye !vital")  # never refused
        assert await count(scene, Alert) == 3


async def test_created_and_closed_calls_are_in_the_audit_log(database_url: str) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say(COORDINATOR, CALL)
        await scene.say(COORDINATOR, "/mobilise 1 avocat Hendaye dans 1h")
        await scene.say(COORDINATOR, "/close 1 fini")
        scene.clock.advance(timedelta(hours=8))  # the second closes by its deadline
        await scene.tick()
        async with scene.wiring.database.sessions() as session:
            entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
            coordinator = await session.scalar(
                select(Member.id).where(Member.user_ref == COORDINATOR)
            )
        found = [(e.action, e.actor_member_id, e.detail) for e in entries]
        assert found == [
            ("mobilisation.created", coordinator, "#1 channels=1"),
            ("mobilisation.created", coordinator, "#2 channels=1"),
            ("mobilisation.closed", coordinator, "#1"),
            ("mobilisation.closed", None, "#2 deadline"),
        ]
        assert all(e.organisation_id == "anafe" for e in entries)


# -- bad input ---------------------------------------------------------------------------


async def test_an_observer_cannot_mobilise(database_url: str) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say("obs1", CALL)
        assert "Cette commande demande le rôle coordinator (vous êtes observer)" in (
            await scene.last("obs1")
        )
        assert await count(scene, Alert) == 0
        assert await scene.rows(SPAIN) == []


async def test_a_call_without_a_need_is_asked_not_guessed(database_url: str) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say(COORDINATOR, "/mobilise venez à la gare d'Hendaye")
        assert "De quoi avez-vous besoin ?" in await scene.last(COORDINATOR)
        assert await count(scene, Alert) == 0
        assert await scene.rows(SPAIN) == []


async def test_a_start_in_the_past_is_refused(database_url: str) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say(COORDINATOR, "/mobilise 2 observateurs Hendaye 9h")
        assert "déjà passée" in await scene.last(COORDINATOR)
        assert await count(scene, Alert) == 0


async def test_forged_and_unknown_buttons_are_refused(database_url: str) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say(COORDINATOR, CALL)
        for data in ("mb:1:zz", "mb:abc:g", "mb:1:g:pilots", "mb:99:g"):
            await scene.press("obs1", data)
        texts = [t for t in await scene.texts("obs1")]
        assert texts == ["Ce bouton ne correspond à aucune mobilisation en cours."] * 4
        for _ in range(5):  # a stranger hammering a button in the group: told once
            await scene.press("stranger", press_data(1, "going"))
        told = await scene.texts("stranger")
        assert len(told) == 1
        assert "Seul·es les membres des associations partenaires" in told[0]
        assert await count(scene, MobilisationAnswer) == 0


async def test_close_and_list_of_an_unknown_number(database_url: str) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say(COORDINATOR, "/close 42 fini")
        assert "Aucune mobilisation ni alerte n°42" in await scene.last(COORDINATOR)
        await scene.say(COORDINATOR, "/close 42")
        assert "Usage : /close <numéro> <bilan>" in await scene.last(COORDINATOR)
        await scene.say(COORDINATOR, "/mobilisation douze")
        assert "Usage : /mobilisation <numéro>" in await scene.last(COORDINATOR)


async def test_a_member_who_answers_then_is_removed(database_url: str) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say(COORDINATOR, "/mobilise 2 observateurs Hendaye")
        await scene.press("obs1", press_data(1, "going"))
        async with scene.wiring.database.transaction() as session:
            member = await session.scalar(select(Member).where(Member.user_ref == "obs1"))
            assert member is not None
            await session.delete(member)
        # The count survives the person; their later presses are a stranger's.
        await scene.say(COORDINATOR, "/mobilisation 1")
        assert "Observateur·ices 1/2 : —" in await scene.last(COORDINATOR)
        await scene.press("obs1", press_data(1, "going"))
        assert "Seul·es les membres" in await scene.last("obs1")
        assert await count(scene, MobilisationAnswer) == 1


async def test_a_restart_in_the_middle_loses_nothing(database_url: str) -> None:
    async with mobilisation_scene(database_url) as scene:
        await scene.say(COORDINATOR, CALL + " !escalate=1m")
        await scene.press("obs1", press_data(1, "going", Need.OBSERVERS))
        clock = scene.clock
    # A new process on the same database: the pending count and the escalation fire.
    database = await open_database(database_url)
    try:
        async with mobilisation_scene(database_url, database=database, clock=clock) as scene:
            clock.advance(timedelta(minutes=1))
            assert await scene.tick() == 2
            [edit] = await edits_of(scene, SPAIN)
            assert "Observateur·ices 1/2" in OutboundMessage.from_json(edit.payload).plain
            copies = [r for r in await scene.rows(ITALY) if r.edit_of_delivery_id is None]
            assert len(copies) == 1
    finally:
        await database.close()


async def test_answers_from_two_processes_while_counts_refresh_lose_nothing(
    database_url: str,
) -> None:
    """Two Tocsins on one database take answers at once while both run the deadlines:
    every answer is counted once, and the last count shown is the true one."""
    users = [f"obs{n}" for n in range(1, 5)] + [COORDINATOR, "admin-anafe"]
    async with mobilisation_scene(database_url) as first:
        await first.say(COORDINATOR, "/mobilise 6 observateurs Hendaye")
        async with mobilisation_scene(database_url, clock=first.clock) as second:
            second.updates = 1000  # its own update ids
            for round_ in range(3):
                presses = [
                    (first if n % 2 else second).press(user, press_data(1, "going"))
                    for n, user in enumerate(users)
                ]
                first.clock.advance(timedelta(seconds=5))
                await asyncio.gather(*presses, first.tick(), second.tick())
                if round_ == 1:  # changing minds meanwhile
                    await second.press("obs1", press_data(1, "cannot"))
            first.clock.advance(timedelta(seconds=5))
            await first.tick()
            await second.tick()
            assert await count(first, MobilisationAnswer) == len(users)
            [edit] = await edits_of(first, SPAIN)  # one waiting edit, rewritten each time
            assert "Observateur·ices 6/6" in OutboundMessage.from_json(edit.payload).plain
