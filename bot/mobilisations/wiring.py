"""Building the mobilisation calls' parts for the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.clock import Clock
from alerts.directory import ChannelDirectory
from alerts.i18n import Translator
from alerts.metrics import Metrics
from alerts.mobilisations.calls import CallService
from alerts.mobilisations.lifecycle import Timings
from alerts.mobilisations.render import CallRenderer
from alerts.outbox import Outbox, OutboxSignal
from alerts.rendering import AlertRenderer
from alerts.vocabulary import Vocabulary
from bot.context import Command, Fallback
from bot.mobilisations.answers import AnswerButtons
from bot.mobilisations.commands import MobilisationCommands
from bot.mobilisations.edits import EditedCall
from bot.mobilisations.guide import MobilisationGuide
from bot.mobilisations.runner import DeadlineRunner
from bot.web.agenda import AgendaFeed
from config.schema import Settings
from storage.database import Database


@dataclass
class MobilisationParts:
    calls: CallService
    commands: list[Command]
    fallbacks: list[Fallback]  # before the intake's: they own their buttons and flow
    runner: DeadlineRunner
    agenda: AgendaFeed


def build_mobilisations(
    settings: Settings,
    *,
    database: Database,
    clock: Clock,
    translate: Translator,
    outbox: Outbox,
    signal: OutboxSignal,
    directory: ChannelDirectory,
    vocabulary: Vocabulary,
    metrics: Metrics | None = None,
) -> MobilisationParts:
    config = settings.mobilisations
    calls = CallService(
        renderer=CallRenderer(AlertRenderer(vocabulary, translate), translate, config.timezone),
        outbox=outbox,
        directory=directory,
        translate=translate,
        timings=Timings(
            escalate_after=config.escalate_after,
            remind_before=config.remind_before,
            close_after=config.close_after,
            edit_every=config.edit_every,
        ),
        escalate_to=config.escalate_to,
        language=settings.language,
        metrics=metrics,
    )
    guide = MobilisationGuide()
    commands = MobilisationCommands(
        calls=calls,
        vocabulary=vocabulary,
        max_length=settings.alerts.max_length,
        timezone=config.timezone,
        guide=guide,
    )
    guide.raise_call = commands.call_from_line
    runner = DeadlineRunner(
        database=database,
        clock=clock,
        calls=calls,
        signal=signal,
        every=min(1.0, config.edit_every.total_seconds()),
        language=settings.language,
    )
    agenda = AgendaFeed(database, clock, translate, language=settings.language)
    return MobilisationParts(
        calls, commands.commands(), [AnswerButtons(calls), EditedCall(), guide], runner, agenda
    )
