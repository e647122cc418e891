"""Building the volunteers' intake (`bot/intake/`: the alert commands, the guided alert,
photos, locations, groups, corrections, delivery reports) for the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.clock import Clock
from alerts.i18n import Translator
from alerts.outbox import Outbox
from alerts.rendering import AlertRenderer
from alerts.service import AlertService
from alerts.vocabulary import Vocabulary
from bot.context import Command, Fallback
from bot.intake.commands import AlertCommands
from bot.intake.corrections import AlertCorrections
from bot.intake.delivery_reports import DeliveryReports
from bot.intake.entry import AlertEntry, StaleButtons
from bot.intake.groups import GroupMembership
from bot.intake.guided import GuidedConversation
from bot.intake.guided_questions import GuidedQuestions
from bot.intake.guided_steps import GuidedSteps
from bot.intake.limit import AlertLimit
from bot.intake.mobilise import MobiliseCommand
from bot.intake.raising import AlertRaiser
from bot.intake.reading import LineReader
from bot.intake.texts import TEXTS
from bot.intake.unclaimed_groups import Leave, UnclaimedGroups
from bot.intake.upkeep import IntakeUpkeep
from config.schema import Settings
from storage.database import Database


@dataclass
class IntakeParts:
    commands: list[Command]  # /alert, /urgent, /cancel, /mobilise
    fallbacks: list[Fallback]  # in the router's order, after the platform events
    chores: IntakeUpkeep


def build_intake(
    settings: Settings,
    *,
    database: Database,
    clock: Clock,
    translate: Translator,
    outbox: Outbox,
    vocabulary: Vocabulary,
    service: AlertService,
) -> IntakeParts:
    # The one place the intake's texts join the translator (until the root merges them).
    for language, texts in TEXTS.items():
        translate.add(language, texts)
    alerts = settings.alerts
    reader = LineReader(vocabulary=vocabulary, max_length=alerts.max_length)
    raiser = AlertRaiser(service=service, limit=AlertLimit(per_minute=alerts.per_member_per_minute))
    guided = GuidedConversation(
        steps=GuidedSteps(vocabulary=vocabulary, location_radius_km=30.0),
        questions=GuidedQuestions(vocabulary=vocabulary),
        reader=reader,
        raiser=raiser,
    )
    entry = AlertEntry(reader=reader, raiser=raiser, guided=guided)
    corrections = AlertCorrections(
        renderer=AlertRenderer(vocabulary, translate),
        reader=reader,
        window=alerts.group_window,
    )
    groups = GroupMembership(unclaimed_timeout=settings.telegram.unclaimed_group_timeout)
    leave: dict[str, Leave] = {}
    upkeep = IntakeUpkeep(
        database=database,
        clock=clock,
        groups=UnclaimedGroups(
            database=database,
            clock=clock,
            translate=translate,
            outbox=outbox,
            leave=leave,
            language=settings.language,
        ),
        reports=DeliveryReports(
            database=database,
            clock=clock,
            translate=translate,
            outbox=outbox,
            language=settings.language,
        ),
        leave=leave,
    )
    commands = [
        *AlertCommands(entry=entry, guided=guided).commands(),
        MobiliseCommand(reader=reader, raiser=raiser).command(),
    ]
    return IntakeParts(commands, [groups, entry, corrections, StaleButtons()], upkeep)
