"""The console as a training ground: it shows what a phone shows. Messages keep their
line breaks, `/help` is one command per line, `/alert` alone runs the guided flow with
numbered choices answered by typing the number, `/lang` lists the languages, and a plain
message gets a hint on how to raise an alert."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from storage.database import open_database
from storage.models import Alert, Member
from tests.support.console import config_from, demo_raw, run_console


def chat_of(message: str) -> str:
    return message.split("]")[0].lstrip("[")


async def test_messages_keep_their_line_breaks_and_help_is_one_command_per_line(
    database_url: str,
) -> None:
    config = config_from(demo_raw(), database_url)
    messages = await run_console(config, ["/help", "/alert 12 personnes refoulées à Menton"])
    help_lines = messages[0].split("\n")
    assert help_lines[0] == "[local] Tocsin — commandes"
    commands = [line for line in help_lines[1:-1]]
    assert commands[0].startswith("/alert <texte> — ")
    assert all(line.startswith("/") for line in commands), commands
    assert {"/help — cette aide", "/cancel — abandonner l'alerte en cours"} <= set(commands)
    relayed = next(m for m in messages if chat_of(m) == "vigie-italie")
    lines = relayed.split("\n")
    assert len(lines) >= 3
    assert " | " not in relayed
    assert " / " not in relayed
    assert lines[0].startswith("[vigie-italie] ")
    assert "Alerte #1" in lines[0]
    assert "12 personnes refoulées à Menton" in lines  # the volunteer's words, on their own line


async def test_lang_lists_the_languages_and_switches_in_french_and_english(
    database_url: str,
) -> None:
    config = config_from(demo_raw(), database_url)
    messages = await run_console(
        config, ["/lang", "/lang de", "/lang \u202e<b>xx</b>", "/lang en", "/lang", "/lang klingon"]
    )
    assert messages == [
        "[local] Langue des réponses : français. Langues disponibles : fr (français), "
        "en (English). Pour changer : /lang suivi du code, par exemple /lang en.",
        "[local] Langue non disponible : de. Langues disponibles : fr (français), en (English).",
        "[local] Langue non disponible : <b>xx</b>. Langues disponibles : fr (français), "
        "en (English).",
        "[local] Reply language: English.",
        "[local] Reply language: English. Available languages: fr (français), en (English). "
        "To change it: /lang followed by the code, e.g. /lang fr.",
        "[local] Language not available: klingon. Available languages: fr (français), "
        "en (English).",
    ]
    database = await open_database(database_url)
    async with database.sessions() as session:
        language = await session.scalar(select(Member.language).where(Member.user_ref == "local"))
    assert language == "en"  # kept for the next session
    messages = await run_console(config, ["/lang fr", "/lang"], database=database)
    assert messages[0] == "[local] Langue des réponses : français."
    assert messages[1].startswith("[local] Langue des réponses : français. Langues disponibles")


async def test_alert_alone_is_guided_with_numbered_choices_answered_by_number(
    database_url: str,
) -> None:
    config = config_from(demo_raw(), database_url)
    messages = await run_console(
        config,
        [
            "/alert",
            "1",  # border: the first one listed
            "2",  # place: the second of that border
            "Trois personnes refoulées au poste, dont un enfant",
            "4",  # how many: a count is the count, not the 4th choice
            "1",  # minors: 1
            "3",  # themes: toggle the third
            "Valider ➡️",  # a choice's text works too
            "vitale",  # urgency, by the first word of its text
            "1",  # confirm: send
        ],
    )
    mine = [m for m in messages if chat_of(m) == "local"]
    assert mine[0].startswith("[local] 🆕 Nouvelle alerte")
    border_question = mine[1].split("\n")
    assert border_question[0] == "[local] (1/7) Quelle frontière ?"
    assert "1. Frontière franco-italienne" in border_question
    assert border_question[-1].startswith("↩️ Tapez le numéro")
    assert "2. Menton" in mine[2].split("\n")
    people_question = mine[4].split("\n")
    assert "• 5" in people_question
    assert "4. 5" not in people_question
    summary = next(m for m in mine if "Vérifiez puis envoyez" in m).split("\n")
    assert {"Lieu : Menton", "Personnes : 4", "Mineur·es : 1"} <= set(summary), summary
    assert mine[-1].startswith("[local] ✅ Alerte #1 relayée à")
    relayed = [m for m in messages if chat_of(m) == "vigie-italie"]
    assert len(relayed) == 1
    assert "Trois personnes refoulées au poste" in relayed[0]
    database = await open_database(database_url)
    async with database.sessions() as session:
        alert = (await session.scalars(select(Alert))).one()
    await database.close()
    assert (alert.border, alert.place, alert.people, alert.minors) == (
        "franco-italienne",
        "Menton",
        4,
        1,
    )
    assert "violences" in json.loads(alert.themes)


async def test_a_number_with_no_question_waiting_is_plain_text(database_url: str) -> None:
    config = config_from(demo_raw(), database_url)
    messages = await run_console(config, ["/alert", "/cancel", "2", "bonjour"])
    assert messages[-3] == "[local] Alerte abandonnée : rien n'a été relayé."
    hint = (
        "[local] Pour lancer une alerte, tapez /alert et répondez aux questions, ou /alert "
        "suivi du message, par exemple : /alert 12 personnes refoulées à Menton. /help pour "
        "les autres commandes."
    )
    assert messages[-2:] == [hint, hint]
    database = await open_database(database_url)
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Alert)) == 0
    await database.close()
