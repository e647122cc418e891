"""Building the mobilisation calls' parts for the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.clock import Clock
from alerts.metrics import Metrics
from alerts.mobilisations.calls import CallService
from alerts.mobilisations.lifecycle import Timings
from alerts.mobilisations.render import CallRenderer
from alerts.rendering import AlertRenderer
from bot.context import Command, Fallback
from bot.intake.limit import AlertLimit
from bot.mobilisations.answers import AnswerButtons
from bot.mobilisations.commands import MobilisationCommands
from bot.mobilisations.edits import EditedCall
from bot.mobilisations.guide import MobilisationGuide
from bot.mobilisations.lines import CallLines
from bot.mobilisations.runner import DeadlineRunner
from bot.web.agenda import AgendaFeed
from bot.wiring.shared import SharedParts
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
    shared: SharedParts,
    *,
    database: Database,
    clock: Clock,
    metrics: Metrics | None = None,
) -> MobilisationParts:
    """Built with what members type (before the router); the runner is started by
    `tocsin run` only."""
    translate, outbox, vocabulary = shared.translate, shared.outbox, shared.vocabulary
    config = settings.mobilisations
    calls = CallService(
        renderer=CallRenderer(AlertRenderer(vocabulary, translate), translate, config.timezone),
        outbox=outbox,
        directory=shared.directory,
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
    lines = CallLines(
        calls=calls,
        vocabulary=vocabulary,
        max_length=settings.alerts.max_length,
        timezone=config.timezone,
        limit=AlertLimit(per_minute=settings.alerts.per_member_per_minute),
    )
    guide = MobilisationGuide(lines)
    commands = MobilisationCommands(calls=calls, lines=lines, guide=guide)
    runner = DeadlineRunner(
        database=database,
        clock=clock,
        calls=calls,
        every=min(1.0, config.edit_every.total_seconds()),
        language=settings.language,
    )
    agenda = AgendaFeed(database, clock, translate, language=settings.language)
    return MobilisationParts(
        calls, commands.commands(), [AnswerButtons(calls), EditedCall(), guide], runner, agenda
    )
