"""THE permission table: every chat command's minimum role, in one place.

`build()` gives each command its minimum role from here (`with_permissions`), and
refuses to start with a command missing from the table. `OPEN` commands are answered
for strangers too (joining with an invitation, `/forget` finding nothing to erase).
The README prints this table; tests/test_permissions.py fails when the two differ.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Final

from alerts.types import Role
from bot.context import Command

OPEN: Final = None  # anyone, a stranger included

# name → minimum role (aliases follow their command)
PERMISSIONS: Final[dict[str, Role | None]] = {
    # raising and reading
    "alert": Role.OBSERVER,
    "urgent": Role.OBSERVER,
    "cancel": Role.OBSERVER,
    "borders": Role.OBSERVER,
    "whoami": Role.OBSERVER,
    "lang": Role.OBSERVER,
    "help": Role.OBSERVER,
    "feeds": Role.OBSERVER,
    "who": Role.OBSERVER,
    "org": Role.OBSERVER,
    "name": Role.OBSERVER,
    "agenda": Role.OBSERVER,
    "answer": Role.OBSERVER,
    # joining and leaving
    "start": OPEN,
    "join": OPEN,
    "forget": OPEN,
    # coordinating
    "mobilise": Role.COORDINATOR,
    "mobilisation": Role.COORDINATOR,
    "close": Role.COORDINATOR,
    "feed": Role.COORDINATOR,
    "invite": Role.COORDINATOR,
    "invites": Role.COORDINATOR,
    "revoke": Role.COORDINATOR,
    # managing an organisation
    "subscribe": Role.ORG_ADMIN,
    "unsubscribe": Role.ORG_ADMIN,
    "subscriptions": Role.ORG_ADMIN,
    "mute": Role.ORG_ADMIN,
    "unmute": Role.ORG_ADMIN,
    "members": Role.ORG_ADMIN,
    "role": Role.ORG_ADMIN,
    "remove": Role.ORG_ADMIN,
    "audit": Role.ORG_ADMIN,
    "digest": Role.ORG_ADMIN,
}


class MissingPermission(Exception):
    def __init__(self, names: Iterable[str]) -> None:
        super().__init__(
            "commands missing from bot/permissions.py PERMISSIONS: " + ", ".join(sorted(names))
        )


def with_permissions(
    commands: Iterable[Command], table: dict[str, Role | None] = PERMISSIONS
) -> list[Command]:
    """The commands with their minimum role taken from `table`."""
    commands = list(commands)
    missing = [command.name for command in commands if command.name not in table]
    if missing:
        raise MissingPermission(missing)
    result = []
    for command in commands:
        minimum = table[command.name]
        if minimum is None:
            result.append(replace(command, min_role=Role.OBSERVER, strangers=True))
        else:
            result.append(replace(command, min_role=minimum, strangers=False))
    return result


def table_lines(table: dict[str, Role | None] = PERMISSIONS) -> list[str]:
    """The table as the README shows it (a Markdown table, by role then name)."""
    order: dict[Role | None, int] = {None: -1}
    order.update({role: role.rank for role in Role})
    lines = ["| command | minimum role |", "|---|---|"]
    for name, minimum in sorted(table.items(), key=lambda item: (order[item[1]], item[0])):
        shown = "anyone (strangers too)" if minimum is None else minimum.value
        lines.append(f"| `{name}` | {shown} |")
    return lines
