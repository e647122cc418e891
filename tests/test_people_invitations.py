"""Invitations on SQLite and PostgreSQL: a code makes an account a member with the
inviter's organisation and a role never above theirs; expired, revoked, used-up and
forged codes are refused clearly and change nothing; codes are stored hashed."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from sqlalchemy import select

from alerts.messages import InboundMessage
from alerts.types import LOWEST_PRIORITY
from bot.people import codes
from storage.database import Database
from storage.models import AuditEntry, Delivery, Invitation
from tests.support.people_scene import (
    ADMIN,
    COORDINATOR,
    OBSERVER,
    ORG_ADMIN,
    STRANGER,
    PeopleScene,
    people_scene,
)

_CODE = re.compile(r"/join ([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})")


def code_in(answer: str) -> str:
    found = _CODE.search(answer)
    assert found is not None, answer
    return found.group(1)


async def actions(scene: PeopleScene) -> list[str]:
    async with scene.wiring.database.sessions() as session:
        return list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


async def test_an_invitation_makes_members_until_it_is_used_up(database: Database) -> None:
    async with people_scene(database.url, database=database) as scene:
        answer = await scene.say(ORG_ADMIN, "/invite coordinator 2 1d")
        code = code_in(answer)
        assert "coordinateur·ice de Anafé, 2 utilisation(s)" in answer
        assert f"!join {code}" in answer
        welcome = await scene.say("8000001", f"/join {code.lower()}")
        assert welcome.startswith("Bienvenue dans Anafé (coordinateur·ice)")
        assert "Bienvenue" in await scene.say("8000002", f"/join {code.replace('-', '')}")
        before = await scene.snapshot()
        refused = await scene.say("8000003", f"/join {code}")
        assert refused == "Ce code d'invitation a déjà servi. Demandez-en un nouveau."
        assert await scene.snapshot() == before
        first = await scene.member("8000001")
        assert first is not None
        assert (first.organisation_id, first.role, first.source) == ("anafe", "coordinator", "chat")
        assert await scene.member("8000003") is None
        async with database.sessions() as session:
            [stored] = (await session.scalars(select(Invitation))).all()
        # Stored hashed: the code itself is nowhere in the row.
        assert stored.code_hash == codes.code_hash(code)
        assert code not in repr(vars(stored))
        assert stored.uses_left == 0
        assert await actions(scene) == ["invitation.made", "invitation.used", "invitation.used"]


async def test_the_deep_link_start_joins_and_start_alone_is_still_help(database: Database) -> None:
    async with people_scene(database.url, database=database) as scene:
        code = code_in(await scene.say(COORDINATOR, "/invite"))
        assert (await scene.say(STRANGER, "/start")).startswith("Bonjour ! Ce service est réservé")
        assert (await scene.say(STRANGER, f"/start {codes.normalise(code)}")).startswith(
            "Bienvenue dans Anafé (observateur·ice)"
        )
        assert (await scene.say(STRANGER, "/start")).startswith("Tocsin — commandes")
        # A member with a fresh code stays as they are; the code is not spent.
        second = code_in(await scene.say(COORDINATOR, "/invite"))
        before = await scene.snapshot()
        assert (await scene.say(STRANGER, f"/join {second}")).startswith(
            "Vous êtes déjà membre de Anafé"
        )
        assert await scene.snapshot() == before


async def test_expired_revoked_and_forged_codes_are_refused_and_change_nothing(
    database: Database,
) -> None:
    async with people_scene(database.url, database=database) as scene:
        expiring = code_in(await scene.say(ORG_ADMIN, "/invite observer 5 1h"))
        revoked = code_in(await scene.say(ORG_ADMIN, "/invite observer 5"))
        listed = await scene.say(ORG_ADMIN, "/invites")
        assert listed.count("observateur·ice · anafe · 5 utilisation(s)") == 2
        assert await scene.say(ORG_ADMIN, f"/revoke {revoked}") == "Invitation n° 2 révoquée."
        scene.clock.advance(timedelta(hours=1, seconds=1))
        before = await scene.snapshot()
        assert await scene.say(STRANGER, f"/join {expiring}") == (
            "Ce code d'invitation a expiré. Demandez-en un nouveau."
        )
        assert await scene.say(STRANGER, f"/join {revoked}") == (
            "Ce code d'invitation a été révoqué. Demandez-en un nouveau."
        )
        forged = codes.new_code()
        for attempt in (forged, "x", "' OR 1=1 --", "é" * 5000):
            assert (await scene.say(STRANGER, f"/join {attempt}")).startswith(
                "Ce code d'invitation n'existe pas."
            )
        assert await scene.say(STRANGER, "/join") == "Usage : /join <code>."
        assert await scene.snapshot() == before
        assert await scene.member(STRANGER) is None
        assert await scene.say(ORG_ADMIN, "/invites") == "Aucune invitation ouverte."


async def test_nobody_invites_above_their_own_role(database: Database) -> None:
    async with people_scene(database.url, database=database) as scene:
        before = await scene.snapshot()
        assert await scene.say(OBSERVER, "/invite") == (
            "Cette commande demande le rôle coordinator (vous êtes observer)."
        )
        assert await scene.say(COORDINATOR, "/invite coordinator") == (
            "Un·e coordinateur·ice ne peut inviter que des observateur·ices."
        )
        assert await scene.say(ORG_ADMIN, "/invite admin") == (
            "Vous ne pouvez pas inviter au rôle admin : au plus admin d'organisation."
        )
        assert (await scene.say(ORG_ADMIN, "/invite observer 0")).startswith("Usage : /invite")
        assert (await scene.say(ORG_ADMIN, "/invite soon")).startswith("Usage : /invite")
        # An org-admin cannot aim at another organisation (the word is not understood).
        assert (await scene.say(ORG_ADMIN, "/invite cimade")).startswith("Usage : /invite")
        assert await scene.snapshot() == before
        # An admin invites anywhere, an admin too.
        code = code_in(await scene.say(ADMIN, "/invite admin cimade"))
        await scene.say(STRANGER, f"/join {code}")
        joined = await scene.member(STRANGER)
        assert joined is not None
        assert (joined.organisation_id, joined.role) == ("cimade", "admin")


async def test_a_stranger_typing_codes_in_a_group_is_answered_behind_its_alerts(
    database: Database,
) -> None:
    async with people_scene(database.url, database=database) as scene:
        for number in range(3):
            await scene.wiring.router(
                InboundMessage(
                    platform="telegram",
                    update_id=f"g{number}",
                    chat="-100123",
                    chat_type="group",
                    sender=STRANGER,
                    text=f"/join {codes.new_code()}",
                )
            )
        async with database.sessions() as session:
            priorities = list(
                await session.scalars(
                    select(Delivery.priority).where(Delivery.address == "-100123")
                )
            )
    assert priorities == [LOWEST_PRIORITY] * 3


async def test_two_people_racing_for_the_last_use_make_one_member(database_url: str) -> None:
    """Two processes on one database (two composition roots), each with its own
    connections: the last use of a code goes to one of them only."""
    async with people_scene(database_url) as first, people_scene(database_url) as second:
        code = code_in(await first.say(ORG_ADMIN, "/invite"))
        answers = await asyncio.gather(
            first.say("8000001", f"/join {code}"), second.say("8000002", f"/join {code}")
        )
        joined = [await first.member(user) for user in ("8000001", "8000002")]
    assert sorted(answer.split(" ")[0] for answer in answers) == ["Bienvenue", "Ce"]
    assert sum(member is not None for member in joined) == 1


async def test_roles_may_be_typed_in_french(database: Database) -> None:
    async with people_scene(database.url, database=database) as scene:
        answer = await scene.say(ORG_ADMIN, "/invite coordinatrice")
        assert "coordinateur·ice de Anafé" in answer
