"""Root stage: the volunteers' intake (`bot/intake/`). What they type (alert commands, the
guided alert, photos, locations, groups, corrections) is built before the relays, which
show the commands in their menus; the upkeep (leaving unclaimed groups, delivery reports)
after, because it needs the relays that can leave a chat."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from alerts.alert_fanout import AlertService
from alerts.clock import Clock
from alerts.metrics import Metrics
from alerts.rendering import AlertRenderer
from bot.basic_commands import BasicCommands
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
from bot.intake.raising import AlertRaiser
from bot.intake.reading import LineReader
from bot.intake.unclaimed_groups import UnclaimedGroups
from bot.intake.upkeep import IntakeUpkeep
from bot.wiring.shared import SharedParts
from config.schema import Settings
from relays.base import LeavesChats, Relay
from storage.database import Database


@dataclass(frozen=True)
class IntakeHandlers:
    commands: list[Command]  # /alert, /urgent, /cancel, then the basics
    fallbacks: list[Fallback]  # in the router's order, after the event notices


@dataclass(frozen=True)
class IntakeParts:
    handlers: IntakeHandlers
    chores: IntakeUpkeep


def intake_handlers(
    settings: Settings, shared: SharedParts, *, clock: Clock, metrics: Metrics
) -> IntakeHandlers:
    alerts, vocabulary = settings.alerts, shared.vocabulary
    renderer = AlertRenderer(vocabulary, shared.translate)
    service = AlertService(
        renderer=renderer,
        outbox=shared.outbox,
        directory=shared.directory,
        clock=clock,
        group_window=alerts.group_window,
        metrics=metrics,
    )
    reader = LineReader(vocabulary=vocabulary, max_length=alerts.max_length)
    raiser = AlertRaiser(service=service, limit=AlertLimit(per_minute=alerts.per_member_per_minute))
    guided = GuidedConversation(
        steps=GuidedSteps(vocabulary=vocabulary, location_radius_km=30.0),
        questions=GuidedQuestions(vocabulary=vocabulary),
        reader=reader,
        raiser=raiser,
    )
    entry = AlertEntry(reader=reader, raiser=raiser, guided=guided)
    corrections = AlertCorrections(renderer=renderer, reader=reader, window=alerts.group_window)
    groups = GroupMembership(unclaimed_timeout=settings.telegram.unclaimed_group_timeout)
    return IntakeHandlers(
        commands=[
            *AlertCommands(entry=entry, guided=guided).commands(),
            *BasicCommands(vocabulary=vocabulary).commands(),
        ],
        fallbacks=[groups, entry, corrections, StaleButtons()],
    )


def intake_chores(
    settings: Settings,
    shared: SharedParts,
    *,
    database: Database,
    clock: Clock,
    relays: Mapping[str, Relay],
) -> IntakeUpkeep:
    leave = {name: relay.leave for name, relay in relays.items() if isinstance(relay, LeavesChats)}
    translate, outbox, language = shared.translate, shared.outbox, settings.language
    return IntakeUpkeep(
        database=database,
        clock=clock,
        groups=UnclaimedGroups(
            database=database,
            clock=clock,
            translate=translate,
            outbox=outbox,
            leave=leave,
            language=language,
        ),
        reports=DeliveryReports(
            database=database, clock=clock, translate=translate, outbox=outbox, language=language
        ),
    )
