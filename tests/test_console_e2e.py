"""The whole bot through the console relay: lines typed in, deliveries printed out."""

from __future__ import annotations

from sqlalchemy import func, select

from alerts.clock import ManualClock
from storage.database import open_database
from storage.models import Alert, Delivery
from tests.support.console import config_from, demo_raw, run_console


def channels_of(lines: list[str], needle: str) -> set[str]:
    return {line.split("]")[0].lstrip("[") for line in lines if needle in line}


async def test_alert_fans_out_to_the_right_channels_only(database_url: str) -> None:
    config = config_from(demo_raw(), database_url)
    lines = await run_console(
        config,
        [
            "/alert 12 personnes refoulées à Menton dont 3 mineurs",
            "/alert contrôle en gare d'Hendaye",
        ],
    )
    menton = channels_of(lines, "12 personnes refoulées à Menton")
    hendaye = channels_of(lines, "contrôle en gare d'Hendaye")
    assert menton == {"vigie-italie", "mineurs-partout"}  # normal urgency: not the urgent-only
    assert hendaye == {"vigie-espagne"}
    receipts = [line for line in lines if line.startswith("[local]")]
    assert receipts[0].startswith("[local] ✅ Alerte #1 relayée à 2 canal(aux)")
    assert receipts[1].startswith("[local] ✅ Alerte #2 relayée à 1 canal(aux)")


async def test_urgent_reaches_the_urgent_only_channel(database_url: str) -> None:
    config = config_from(demo_raw(), database_url)
    lines = await run_console(config, ["/urgent personne blessée à Calais"])
    assert channels_of(lines, "personne blessée à Calais") == {
        "vigie-manche",
        "urgences-nationales",
    }


async def test_unknown_account_is_refused_and_nothing_is_relayed(database_url: str) -> None:
    config = config_from(demo_raw(console_user="stranger"), database_url)
    lines = await run_console(config, ["/alert 12 personnes refoulées à Menton", "bonjour"])
    assert len(lines) == 2
    assert all(line.startswith("[stranger] Bonjour ! Ce service est réservé") for line in lines)
    assert "stranger" in lines[0]
    assert "administrateur" in lines[0]
    db = await open_database(database_url)
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Alert)) == 0
    await db.close()


async def test_bad_inputs_get_clear_answers_and_store_nothing(database_url: str) -> None:
    raw = demo_raw()
    raw["alerts"] = {"max_length": 100}
    config = config_from(raw, database_url)
    lines = await run_console(
        config,
        [
            "/alert !urgent",
            "/alert " + "Menton " * 30,
            "/frobnicate now",
            "juste du texte",
            "/alert rien de localisable",
        ],
    )
    assert lines[0].startswith("[local] L'alerte est vide.")
    assert lines[1].startswith("[local] L'alerte est trop longue (209 caractères, maximum 100)")
    assert lines[2] == "[local] Commande inconnue : /frobnicate. Tapez /help pour la liste."
    assert lines[3].startswith("[local] Pour lancer une alerte, tapez /alert")
    # Without a border, a private chat is asked for it (numbered choices) instead of guessing.
    assert lines[4].startswith("[local] 🆕 Nouvelle alerte")
    assert lines[5].startswith("[local] (1/7) Quelle frontière ?\n\n1. ")
    db = await open_database(database_url)
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Alert)) == 0
    await db.close()


async def test_control_characters_never_reach_a_channel(database_url: str) -> None:
    config = config_from(demo_raw(), database_url)
    lines = await run_console(config, ["/alert Menton \u202eevil\x1b[2J texte\x07"])
    relayed = [line for line in lines if line.startswith("[vigie-italie]")]
    assert relayed
    assert "Menton evil[2J texte" in relayed[0]
    assert not any(ch in relayed[0] for ch in "\u202e\x1b\x07")


async def test_follow_up_at_the_same_place_is_a_reply(database_url: str) -> None:
    clock = ManualClock()
    config = config_from(demo_raw(), database_url)
    db = await open_database(database_url)
    await run_console(config, ["/alert refoulements à Menton ce matin"], clock=clock, database=db)
    db = await open_database(database_url)
    lines = await run_console(
        config, ["/alert encore 4 personnes refoulées à Menton"], clock=clock, database=db
    )
    followups = [line for line in lines if "Suite de l'alerte #1" in line]
    assert {line.split("]")[0][1:] for line in followups} == {"vigie-italie"}
    assert "(↪ console-" in followups[0]  # delivered as a reply to the first message


async def test_observer_cannot_mobilise(database_url: str) -> None:
    raw = demo_raw()
    raw["members"] = [
        {"platform": "console", "user": "local", "organisation": "demo", "role": "observer"}
    ]
    config = config_from(raw, database_url)
    lines = await run_console(config, ["/mobilise deux observateurs à Hendaye"])
    assert lines == ["[local] Cette commande demande le rôle coordinator (vous êtes observer)."]


async def test_every_accepted_alert_has_its_deliveries_written_with_it(database_url: str) -> None:
    config = config_from(demo_raw(), database_url)
    await run_console(config, [f"/alert contrôle {i} à Menton !urgent" for i in range(5)])
    db = await open_database(database_url)
    async with db.sessions() as session:
        alerts = await session.scalar(select(func.count()).select_from(Alert))
        pending = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status != "sent")
        )
    await db.close()
    assert (alerts, pending) == (5, 0)
