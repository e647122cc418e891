"""People: invitations, members and roles from chat, organisations and `/who`, the
audit log and `/forget` (issue #15). `PeopleCommands` gathers them for `build()`."""

from __future__ import annotations

from alerts.vocabulary import Vocabulary
from bot.context import Command, Handler
from bot.people.audit import AuditCommand
from bot.people.invitations import Invitations
from bot.people.members import Members
from bot.people.organisations import Organisations
from bot.people.texts import TEXTS
from relays.base import BotIdentity

__all__ = ["TEXTS", "PeopleCommands"]


class PeopleCommands:
    def __init__(
        self,
        *,
        vocabulary: Vocabulary,
        help_handler: Handler,
        telegram: BotIdentity | None = None,
    ) -> None:
        self.invitations = Invitations(help_handler=help_handler, telegram=telegram)
        self._parts = (
            self.invitations,
            Members(),
            Organisations(vocabulary=vocabulary),
            AuditCommand(),
        )

    def commands(self) -> list[Command]:
        return [command for part in self._parts for command in part.commands()]
