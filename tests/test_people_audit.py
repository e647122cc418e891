"""The audit hooks on SQLite and PostgreSQL: an alert raised, a subscription changed, a
channel muted and unmuted, a feed added and removed are logged with who and when, and
never with the text of what was said."""

from __future__ import annotations

from sqlalchemy import select

from alerts.messages import InboundMessage
from storage.database import Database, open_database
from storage.models import AuditEntry
from tests.support.feeds import watch_raw
from tests.support.people_scene import OBSERVER, ORG_ADMIN, people_scene
from tests.test_feed_commands import NeverAnswers, chat


async def entries(database: Database) -> list[tuple[str, str | None, str | None]]:
    async with database.sessions() as session:
        rows = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    return [(row.action, row.organisation_id, row.detail) for row in rows]


async def test_alerts_and_channel_changes_are_audited_without_text(database: Database) -> None:
    async with people_scene(database.url, database=database) as scene:
        await scene.say(OBSERVER, "/alert 4 mineurs enfermés à Menton, prénom Amina")
        group = "salle-anafe"
        for number, line in enumerate(
            ("/subscribe manche mineurs", "/mute 2h", "/unmute", "/unsubscribe")
        ):
            await scene.wiring.router(
                InboundMessage(
                    platform="telegram",
                    update_id=f"g{number}",
                    chat=group,
                    chat_type="group",
                    sender=ORG_ADMIN,
                    text=line,
                )
            )
        logged = await entries(database)
    assert [action for action, _, _ in logged] == [
        "alert.raised",
        "subscription.changed",
        "channel.muted",
        "channel.unmuted",
        "subscription.changed",
    ]
    assert all(organisation == "anafe" for _, organisation, _ in logged)
    assert logged[0][2] == "#1 normal"
    assert logged[2][2] is not None
    assert logged[2][2].endswith(" 2h")
    assert not any("Amina" in (detail or "") or "Menton" in (detail or "") for *_, detail in logged)


async def test_feeds_added_and_removed_are_audited(database_url: str) -> None:
    raw = watch_raw([], allow_private=False)
    await chat(
        database_url,
        ["/feed add https://www.lacimade.org/feed/", "/feed remove lacimade-org"],
        raw=raw,
        transport=NeverAnswers(),
    )
    database = await open_database(database_url)
    try:
        logged = await entries(database)
    finally:
        await database.close()
    assert logged == [
        ("feed.added", "reseau", "lacimade-org"),
        ("feed.removed", "reseau", "lacimade-org"),
    ]
