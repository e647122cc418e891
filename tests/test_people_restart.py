"""Over a restart, on SQLite and PostgreSQL: members who joined from chat stay, members
from the file follow the file (it wins for the accounts it names), and the daily purge
does not run twice in a day."""

from __future__ import annotations

import re
from datetime import timedelta

from alerts.clock import ManualClock
from storage.database import Database
from tests.support.people_scene import NOW, OBSERVER, ORG_ADMIN, people_raw, people_scene


async def test_chat_members_survive_a_restart_and_the_file_wins_for_its_own(
    database: Database,
) -> None:
    async with people_scene(database.url, database=database) as scene:
        answer = await scene.say(ORG_ADMIN, "/invite observer 2")
        code = re.search(r"/join (\S+)", answer)
        assert code is not None
        await scene.say("8000001", f"/join {code.group(1)}")
        await scene.say("8000002", f"/join {code.group(1)}")
        await scene.say("8000001", "/name Lou")
    raw = people_raw(database.url)
    members = raw["members"]
    # The file now names 8000002 (as a coordinator) and drops the observer it had.
    raw["members"] = [m for m in members if m["user"] != OBSERVER] + [
        {"platform": "telegram", "user": "8000002", "organisation": "anafe", "role": "coordinator"}
    ]
    async with people_scene(database.url, database=database, raw=raw) as scene:
        lou = await scene.member("8000001")
        named = await scene.member("8000002")
        assert lou is not None
        assert (lou.role, lou.source, lou.display_name) == (
            "observer",
            "chat",
            "Lou",
        )
        assert named is not None
        assert (named.role, named.source) == ("coordinator", "config")
        assert await scene.member(OBSERVER) is None
        # Now the file's: chat cannot change it any more.
        refused = await scene.say(ORG_ADMIN, f"/role {named.id} observer")
        assert refused.startswith("Ce membre est défini dans le fichier de configuration")


async def test_the_daily_purge_runs_once_a_day_over_a_restart(database: Database) -> None:
    clock = ManualClock(NOW)
    async with people_scene(database.url, database=database, clock=clock) as scene:
        assert scene.wiring.purge is not None
        assert await scene.wiring.purge.tick() is not None
    clock.advance(timedelta(hours=23))
    async with people_scene(database.url, database=database, clock=clock) as scene:
        assert scene.wiring.purge is not None
        assert await scene.wiring.purge.tick() is None
        clock.advance(timedelta(hours=1))
        assert await scene.wiring.purge.tick() is not None
