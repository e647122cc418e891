"""A scheduled digest reaching Telegram groups through python-telegram-bot and the
project's Bot API test server (real HTTP on loopback), and `/digest` previewing a
channel's digest for its org-admin only; `tocsin digest preview` on the command line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from alerts.clock import ManualClock
from tests.support.console import config_from
from tests.support.digest_facts import add_alert
from tests.support.telegram_app import (
    COORDINATOR,
    ITALY,
    MINORS,
    SPAIN,
    TOKEN,
    VOLUNTEER,
    Phone,
    add_scene_chats,
    running_tocsin,
    scene_config,
    sent_texts,
)
from tests.telegram_api import BotApiServer
from tests.test_cli import tocsin
from tests.test_digest import IN_WEEK, MONDAY, scene, week_of_facts

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    async with BotApiServer(TOKEN, limits=False, seed=16) as running:
        yield running


async def test_a_scheduled_digest_reaches_each_telegram_group_with_its_own_content(
    server: BotApiServer, database_url: str, tmp_path: Path
) -> None:
    topic = add_scene_chats(server)
    raw = scene_config(server, database_url, topic)
    raw["digest"] = {"archive_dir": str(tmp_path / "archive")}
    async with running_tocsin(server, raw, clock=ManualClock(MONDAY)) as wiring:
        await week_of_facts(wiring)
        assert wiring.digest is not None
        fired = await wiring.digest.scheduler.tick()
        assert fired is not None
        assert fired.sent
        assert fired.channels == 4
        [italy] = await server.wait_for_sent(1, chat_id=ITALY)
        [spain] = await server.wait_for_sent(1, chat_id=SPAIN)
        [minors] = await server.wait_for_sent(1, chat_id=MINORS)
        again = await wiring.digest.scheduler.tick()  # the job firing twice
        await wiring.dispatcher.wait_drained()

    assert again is not None
    assert not again.sent
    assert len(sent_texts(server, ITALY)) == 1
    assert len(sent_texts(server, SPAIN)) == 1
    assert italy.parse_mode == "HTML"
    assert italy.text is not None
    assert italy.text.startswith("🗞 Synthèse de la semaine\nDu 23/11/2026 08:00 au 30/11/2026")
    # The user's markup arrives as text on the phone; bold where the digest says so.
    assert "<script>alert(1)</script> & <b>refoulés</b> txet à Menton" in italy.text
    assert any(e["type"] == "bold" for e in italy.entities)
    assert any(e.get("url") == "https://example.org/decret" for e in italy.entities)
    assert "Observateurs en gare de Menton" in italy.text
    assert spain.text is not None
    assert "Contrôle à Hendaye" in spain.text
    assert "Menton" not in spain.text
    # The minors channel (every border, theme "mineurs"): the alert with that theme only.
    assert minors.text is not None
    assert "Menton" in minors.text
    assert "Longue alerte" not in minors.text
    assert "Hendaye" not in minors.text


async def test_slash_digest_previews_the_channel_digest_for_its_org_admin_only(
    server: BotApiServer, database_url: str, tmp_path: Path
) -> None:
    topic = add_scene_chats(server)
    raw = scene_config(server, database_url, topic)
    raw["digest"] = {"archive_dir": str(tmp_path / "archive")}
    async with running_tocsin(server, raw, clock=ManualClock(MONDAY)) as wiring:
        await week_of_facts(wiring)
        volunteer = Phone(server, VOLUNTEER, ITALY)
        volunteer.say("/digest")
        refused = await volunteer.answer()
        admin = Phone(server, COORDINATOR, ITALY)
        admin.say("/digest 3d")
        note, preview = await admin.answers(2)
        admin.say("/digest soon")
        bad = await admin.answer()
        private = Phone(server, COORDINATOR, COORDINATOR)
        private.say("/digest")
        not_channel = await private.answer()
        await wiring.dispatcher.wait_drained()
        async with wiring.database.sessions() as session:
            from sqlalchemy import func, select

            from storage.models import Digest

            recorded = await session.scalar(select(func.count()).select_from(Digest))

    assert refused.text is not None
    assert "org-admin" in refused.text
    assert note.text is not None
    assert note.text.startswith("Aperçu")
    assert preview.text is not None
    assert "Menton" in preview.text
    assert "Du 27/11/2026 08:00 au 30/11/2026 08:00" in preview.text
    assert bad.text is not None
    assert "Durée non comprise : soon" in bad.text
    assert not_channel.text is not None
    assert "n'est pas un canal de Tocsin" in not_channel.text
    assert recorded == 0  # a preview is never recorded
    for chat in (SPAIN, MINORS):
        assert sent_texts(server, chat) == []  # nor sent anywhere else


async def test_tocsin_digest_preview_prints_each_format_and_sends_nothing(
    database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the CLI runs on the test's SQLite file (one check is enough)")
    raw = scene(database_url, tmp_path / "archive")
    config_from(raw, database_url)  # the scene is valid
    config = tmp_path / "tocsin.toml"
    config.write_text(
        f'[storage]\nurl = "{database_url}"\n[digest]\nperiod = "3650d"\n'
        '[[organisations]]\nid = "anafe"\nname = "Anafé"\n'
        '[[channels]]\nid = "italie"\nplatform = "console"\naddress = "italie"\n'
        'organisation = "anafe"\nborders = ["franco-italienne"]\nlanguage = "en"\n',
        encoding="utf-8",
    )
    from storage.database import open_database

    database = await open_database(database_url)
    try:
        async with database.transaction() as session:
            await add_alert(session, text="<b>Refoulés</b> à Menton", at=IN_WEEK, urgency="vital")
            await add_alert(session, text="Hendaye", at=IN_WEEK, border="franco-espagnole")
    finally:
        await database.close()

    outputs = {
        form: tocsin("digest", "preview", "--config", str(config), "--format", form, cwd=tmp_path)
        for form in ("text", "telegram", "matrix", "html")
    }
    channel = tocsin(
        "digest", "preview", "--config", str(config), "--channel", "italie", cwd=tmp_path
    )
    unknown = tocsin("digest", "preview", "--config", str(config), "--channel", "x", cwd=tmp_path)
    bad = tocsin("digest", "preview", "--config", str(config), "--since", "soon", cwd=tmp_path)

    assert all(result.returncode == 0 for result in outputs.values()), outputs
    assert "<b>Refoulés</b> à Menton" in outputs["text"].stdout
    assert "Hendaye" in outputs["text"].stdout  # the network's digest
    assert "&lt;b&gt;Refoulés&lt;/b&gt; à Menton" in outputs["telegram"].stdout
    assert "<b>🗞 Synthèse de la semaine</b>" in outputs["telegram"].stdout
    assert "formatted_body:\n<p><b>" in outputs["matrix"].stdout
    assert "body:\n🗞 Synthèse" in outputs["matrix"].stdout
    assert outputs["html"].stdout.startswith("<!DOCTYPE html>")
    assert "<svg" in outputs["html"].stdout
    assert channel.returncode == 0
    assert "Weekly digest" in channel.stdout
    assert "Hendaye" not in channel.stdout
    assert unknown.returncode == 2
    assert "no active channel 'x'" in unknown.stderr
    assert bad.returncode == 2
    assert "--since: invalid duration 'soon'" in bad.stderr
    assert not (tmp_path / "archive").exists()
