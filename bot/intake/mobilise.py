"""`/mobilise <text>`: a mobilisation call raised from one line, for coordinators. Kept
apart so the mobilisation package that replaces it removes this module and its one line
in the intake's builder."""

from __future__ import annotations

from alerts.types import Kind, Role
from bot.context import Command, Request
from bot.intake.raising import AlertRaiser
from bot.intake.reading import LineReader


class MobiliseCommand:
    def __init__(self, *, reader: LineReader, raiser: AlertRaiser) -> None:
        self._reader = reader
        self._raiser = raiser

    def command(self) -> Command:
        return Command(
            "mobilise",
            self.mobilise,
            Role.COORDINATOR,
            "help.mobilise",
            aliases=("mobilize", "mobilisation"),
        )

    async def mobilise(self, request: Request) -> None:
        draft = self._reader.draft(request, request.args, kind=Kind.MOBILISATION)
        if draft is None:
            return
        if draft.needs_border:
            self._reader.ask_border(request, draft)
            return
        await self._raiser.raise_and_answer(request, draft)
