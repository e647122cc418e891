"""The one permission table: every registered command is in it, the README prints it,
and every command run as every role (and as a stranger) is allowed or refused as the
table says — a refusal changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.types import Role
from bot.context import Command, Request
from bot.permissions import PERMISSIONS, MissingPermission, table_lines, with_permissions
from storage.database import Database
from tests.support.people_scene import ROLES, STRANGER, people_scene

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- permissions:start -->", "<!-- permissions:end -->"
FORBIDDEN = "Cette commande demande le rôle"
NOT_MEMBER = "Bonjour ! Ce service est réservé aux membres"

# Arguments that would change something if the command ran: a refusal must not.
SAMPLES = {
    "alert": "3 personnes refoulées à Menton",
    "urgent": "3 personnes refoulées à Menton",
    "mobilise": "2 observateurs à Menton",
    "subscribe": "*",
    "unsubscribe": "",
    "mute": "2h",
    "feed": "remove nothing-here",
    "invite": "observer",
    "role": "{observer} coordinator",
    "remove": "{observer}",
    "org": "new zz Zed",
    "name": "Zed",
    "lang": "fr",
    "join": "AAAA-BBBB-CCCC-DDDD",
    "start": "AAAA-BBBB-CCCC-DDDD",
    "revoke": "1",
    "forget": "",
    "audit": "5",
}


def test_the_readme_prints_the_permission_table() -> None:
    text = README.read_text(encoding="utf-8")
    assert START in text, "README: the permission table section is missing"
    assert END in text, "README: the permission table section is missing"
    printed = text.split(START, 1)[1].split(END, 1)[0].strip().splitlines()
    assert printed == table_lines(), "README permission table differs from bot/permissions.py"


async def _noop(_request: Request) -> None:
    return None


def test_a_command_missing_from_the_table_stops_the_start() -> None:
    with pytest.raises(MissingPermission, match="teleport"):
        with_permissions([Command("teleport", _noop)])


def _allowed(role: Role | None, command: str) -> bool:
    minimum = PERMISSIONS[command]
    if minimum is None:
        return True
    return role is not None and role.at_least(minimum)


@pytest.mark.parametrize("role", [None, *Role], ids=lambda r: r.value if r else "stranger")
async def test_every_command_as_every_role(database: Database, role: Role | None) -> None:
    sender = STRANGER if role is None else ROLES[role.value]
    async with people_scene(database.url, database=database) as scene:
        commands = scene.wiring.router.commands
        assert {command.name for command in commands} <= PERMISSIONS.keys()
        assert {"invite", "join", "members", "forget", "who", "audit"} <= {
            command.name for command in commands
        }
        observer = await scene.member_id(ROLES["observer"])
        for command in commands:
            args = SAMPLES.get(command.name, "").format(observer=observer)
            before = await scene.snapshot()
            elsewhere = await scene.elsewhere(sender)
            answer = await scene.say(sender, f"/{command.name} {args}".strip())
            refused = answer.startswith((FORBIDDEN, NOT_MEMBER)) and command.name != "start"
            if command.name == "start" and role is None:
                refused = False  # a code, even a wrong one, is looked at
            assert refused != _allowed(role, command.name), (command.name, answer)
            if refused:
                assert await scene.snapshot() == before, command.name
                assert await scene.elsewhere(sender) == elsewhere, command.name
