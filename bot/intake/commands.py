"""The alert commands: `/alert` and `/urgent` (a line raised at once, or alone the guided
alert) and `/cancel` (give up the guided alert in progress)."""

from __future__ import annotations

from alerts.types import Urgency
from bot.context import Command, Request
from bot.intake.entry import AlertEntry
from bot.intake.guided import GuidedConversation


class AlertCommands:
    def __init__(self, *, entry: AlertEntry, guided: GuidedConversation) -> None:
        self._entry = entry
        self._guided = guided

    def commands(self) -> list[Command]:
        return [
            Command("alert", self.alert, help_key="help.alert", aliases=("alerte",)),
            Command("urgent", self.urgent, help_key="help.urgent"),
            Command("cancel", self.cancel, help_key="help.cancel", aliases=("annuler",)),
        ]

    async def alert(self, request: Request) -> None:
        await self._entry.command(request, None)

    async def urgent(self, request: Request) -> None:
        await self._entry.command(request, Urgency.URGENT)

    async def cancel(self, request: Request) -> None:
        await self._guided.cancel(request)
