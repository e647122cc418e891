# The imported fixture is shadowed by the tests' parameters, as pytest intends.
# ruff: noqa: F811
"""A scheduled digest reaching Matrix rooms of a real Synapse, each with its own content
(HTML `formatted_body` and plain `body`), once."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.clock import ManualClock
from tests.support.matrix_app import channel, new_scene, running, scene_config, wait_until
from tests.support.synapse import SynapseServer, synapse_server  # noqa: F401
from tests.test_digest import MONDAY, week_of_facts

pytestmark = pytest.mark.synapse


async def test_a_scheduled_digest_reaches_each_matrix_room_with_its_own_content(
    synapse_server: SynapseServer, database_url: str, tmp_path: Path
) -> None:
    scene = await new_scene(synapse_server)
    for name in ("italie", "espagne"):
        await scene.room(name)
    config = scene_config(
        scene,
        database_url,
        channels=[
            channel("italie", scene.rooms["italie"], ["franco-italienne"]),
            channel("espagne", scene.rooms["espagne"], ["franco-espagnole"], language="en"),
        ],
        extra={"digest": {"archive_dir": str(tmp_path / "archive")}},
    )
    async with running(config, clock=ManualClock(MONDAY)) as wiring:
        await week_of_facts(wiring)
        assert wiring.digest is not None
        fired = await wiring.digest.scheduler.tick()
        again = await wiring.digest.scheduler.tick()
        await wait_until(lambda: scene.bodies("italie"))
        await wait_until(lambda: scene.bodies("espagne"))
        await wiring.dispatcher.wait_drained()

    assert fired is not None
    assert fired.sent
    assert fired.channels == 2
    assert again is not None
    assert not again.sent
    [italy] = await scene.bot_events("italie")
    [spain] = await scene.bot_events("espagne")
    body, html = italy["content"]["body"], italy["content"]["formatted_body"]
    assert body.startswith("🗞 Synthèse de la semaine\nDu 23/11/2026 08:00 au 30/11/2026 08:00")
    assert "<script>alert(1)</script> & <b>refoulés</b> txet à Menton" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;refoulés&lt;/b&gt;" in html
    assert html.startswith("<p><b>🗞 Synthèse de la semaine</b><br><i>Du 23/11/2026")
    assert '<a href="https://example.org/decret">Nouveau décret</a>' in html
    assert "Contrôle à Hendaye" not in body
    assert spain["content"]["body"].startswith("🗞 Weekly digest")
    assert "Contrôle à Hendaye" in spain["content"]["body"]
    assert "Menton" not in spain["content"]["body"]
