"""Members from chat on SQLite and PostgreSQL: /members, /role, /remove, /name, /org,
/who, /audit, /forget, and the bad inputs of issue #15 (each refused clearly, nothing
changed)."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from alerts.messages import OutboundMessage
from storage.database import Database
from storage.models import Alert, AuditEntry, Conversation, Delivery
from tests.support.people_scene import (
    ADMIN,
    COORDINATOR,
    OBSERVER,
    ORG_ADMIN,
    OTHER_ORG_ADMIN,
    PeopleScene,
)
from tests.support.people_scene import people_scene as scene_of

NEWCOMER = "8000001"


async def invited(scene: PeopleScene, inviter: str, role: str, user: str = NEWCOMER) -> int:
    answer = await scene.say(inviter, f"/invite {role}")
    found = re.search(r"/join (\S+)", answer)
    assert found is not None, answer
    assert "Bienvenue" in await scene.say(user, f"/join {found.group(1)}")
    return await scene.member_id(user)


async def test_roles_change_within_reach_and_every_overreach_changes_nothing(
    database: Database,
) -> None:
    async with scene_of(database.url, database=database) as scene:
        newcomer = await invited(scene, ORG_ADMIN, "observer")
        other = await invited(scene, OTHER_ORG_ADMIN, "observer", "8000002")
        org_admin = await scene.member_id(ORG_ADMIN)
        before = await scene.snapshot()
        for sender, command, answer in (
            (ORG_ADMIN, "/role 999 coordinator", "Aucun membre n° 999."),
            (ORG_ADMIN, "/role someone coordinator", "Indiquez le numéro du membre"),
            (ORG_ADMIN, f"/role {other} coordinator", "Ce membre appartient à une autre"),
            (ORG_ADMIN, f"/role {newcomer} admin", "Vous ne pouvez pas donner le rôle admin"),
            (ORG_ADMIN, f"/role {org_admin} admin", "Vous ne pouvez pas augmenter votre propre"),
            (ORG_ADMIN, f"/role {newcomer} chef", "Usage : /role"),
            (ORG_ADMIN, f"/remove {other}", "Ce membre appartient à une autre"),
            (ORG_ADMIN, "/remove 1", "C'est le dernier ou la dernière admin"),
            (ORG_ADMIN, f"/remove {await scene.member_id(COORDINATOR)}", "Ce membre est défini"),
            (ADMIN, "/remove 1", "C'est le dernier ou la dernière admin"),
            (ADMIN, "/role 1 observer", "C'est le dernier ou la dernière admin"),
            (COORDINATOR, f"/role {newcomer} coordinator", "Cette commande demande le rôle"),
        ):
            assert (await scene.say(sender, command)).startswith(answer), command
        assert await scene.snapshot() == before

        assert await scene.say(ORG_ADMIN, f"/role {newcomer} coordinator") == (
            f"Membre n° {newcomer} : rôle coordinateur·ice."
        )
        listing = await scene.say(ORG_ADMIN, "/members")
        assert f"n° {newcomer} · (sans nom) · Anafé · coordinator · telegram" in listing
        assert "La Cimade" not in listing  # an org-admin sees their organisation
        assert "La Cimade" in await scene.say(ADMIN, "/members")
        assert (
            await scene.say(NEWCOMER, "/name Lou  B.")
            == "Vous êtes affiché·e comme « Lou B. (Anafé) »."
        )
        assert "8000001" not in await scene.say(ORG_ADMIN, "/members")  # never the account
        assert await scene.say(ORG_ADMIN, f"/remove {newcomer}") == (
            f"Membre n° {newcomer} retiré·e de Anafé."
        )
        assert await scene.member(NEWCOMER) is None
        async with database.sessions() as session:
            audited = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
        assert audited[-2:] == ["member.role", "member.removed"]


async def test_a_member_removed_with_a_guided_alert_open_cannot_finish_it(
    database: Database,
) -> None:
    async with scene_of(database.url, database=database) as scene:
        newcomer = await invited(scene, ORG_ADMIN, "observer")
        asked = await scene.say(NEWCOMER, "/alert")
        assert asked  # the guided flow asks its first question
        await scene.say(ORG_ADMIN, f"/remove {newcomer}")
        answer = await scene.say(NEWCOMER, "12 personnes refoulées à Menton")
        assert answer.startswith("Bonjour ! Ce service est réservé aux membres")
        async with database.sessions() as session:
            assert (await session.scalars(select(Conversation))).all() == []
            assert (await session.scalars(select(Alert))).all() == []


async def test_forget_erases_a_person_once_and_keeps_their_alerts_unsigned(
    database: Database,
) -> None:
    async with scene_of(database.url, database=database) as scene:
        newcomer = await invited(scene, ORG_ADMIN, "observer")
        await scene.say(NEWCOMER, "/name Lou")
        await scene.say(NEWCOMER, "/lang en")
        assert (await scene.say(NEWCOMER, "/alert 3 people pushed back at Menton")).startswith("✅")
        asked = await scene.say(NEWCOMER, "/forget")
        assert "To confirm: /forget yes" in asked or "/forget oui" in asked
        assert await scene.member(NEWCOMER) is not None  # nothing done before confirming
        async with database.transaction() as session:  # the dispatcher sent their answers
            await session.execute(update(Delivery).values(status="sent"))
        assert await scene.say(NEWCOMER, "/forget oui") == "Erased. Thank you for your commitment."
        assert await scene.member(NEWCOMER) is None
        again = await scene.say(NEWCOMER, "/forget oui")
        assert again == "Rien à effacer : ce compte n'est membre d'aucune organisation."
        async with database.sessions() as session:
            [alert] = (await session.scalars(select(Alert))).all()
            erased = (
                await session.scalars(
                    select(AuditEntry).where(AuditEntry.action == "member.erased")
                )
            ).all()
            actors = set(await session.scalars(select(AuditEntry.actor_member_id)))
            to_them = list(
                await session.scalars(
                    select(Delivery.payload)
                    .where(Delivery.address == NEWCOMER)
                    .order_by(Delivery.id)
                )
            )
            channel_copies = list(
                await session.scalars(select(Delivery.id).where(Delivery.channel_id.is_not(None)))
            )
        assert alert.author_member_id is None
        assert alert.text
        assert [OutboundMessage.from_json(payload).plain for payload in to_them] == [
            "Erased. Thank you for your commitment.",  # what they were told, still to send
            "Rien à effacer : ce compte n'est membre d'aucune organisation.",
        ]
        assert channel_copies  # the alert's copies in channels are not theirs to erase
        [entry] = erased
        assert (entry.actor_member_id, entry.detail) == (None, None)  # names nobody
        assert newcomer not in actors


async def test_an_org_admin_forgets_their_members_only(database: Database) -> None:
    async with scene_of(database.url, database=database) as scene:
        ours = await invited(scene, ORG_ADMIN, "observer")
        theirs = await invited(scene, OTHER_ORG_ADMIN, "observer", "8000002")
        before = await scene.snapshot()
        assert (await scene.say(ORG_ADMIN, f"/forget {theirs} oui")).startswith(
            "Ce membre appartient à une autre organisation"
        )
        assert (await scene.say(OBSERVER, f"/forget {ours} oui")).startswith(
            "Vous ne pouvez effacer que vos propres données"
        )
        assert await scene.snapshot() == before
        assert await scene.say(ORG_ADMIN, f"/forget {ours} oui") == f"Membre n° {ours} effacé·e."
        assert await scene.say(ADMIN, f"/forget {theirs} oui") == f"Membre n° {theirs} effacé·e."


async def test_org_who_and_audit(database: Database) -> None:
    async with scene_of(database.url, database=database) as scene:
        shown = await scene.say(OBSERVER, "/org")
        assert shown.startswith("Anafé (anafe)")
        assert "permanence@anafe.example" in shown
        assert (
            await scene.say(ORG_ADMIN, "/org new x Y")
        ) == "Seul·e un·e admin crée une organisation."
        assert (await scene.say(ADMIN, "/org new utopia56 Utopia 56")).startswith(
            "Organisation utopia56 créée"
        )
        assert (await scene.say(OTHER_ORG_ADMIN, "/org contact +33 1 00 00 00 00")).startswith(
            "Organisation cimade mise à jour"
        )
        who = await scene.say(OBSERVER, "/who mineurs")
        assert "• Anafé — permanence@anafe.example" in who
        assert "• La Cimade — +33 1 00 00 00 00" in who
        assert "Utopia" not in who  # no channel, not active
        assert "Cimade" not in await scene.say(OBSERVER, "/who franco-italienne")
        assert (await scene.say(OBSERVER, "/who lune")).startswith("Ni frontière ni thème connu")
        log = await scene.say(ADMIN, "/audit 5")
        assert "organisation.created" in log
        assert "organisation.changed" in log
        assert "organisation.created" not in await scene.say(OTHER_ORG_ADMIN, "/audit")
