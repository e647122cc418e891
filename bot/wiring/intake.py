"""Root stage: the volunteers' intake. What they type (alert commands, the guided alert,
photos, locations, groups, corrections) is built before the relays, which show the
commands in their menus; the chores (leaving unclaimed groups, delivery reports) after,
because they need the relays that can leave a chat."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from alerts.alert_fanout import AlertService
from alerts.clock import Clock
from alerts.metrics import Metrics
from alerts.rendering import AlertRenderer
from bot.alert_commands import AlertCommands
from bot.alert_limit import AlertLimit
from bot.context import Command, Fallback
from bot.corrections import AlertCorrections
from bot.groups import GroupMembership
from bot.guided_alert import GuidedAlert, StaleButtons
from bot.intake_chores import IntakeChores
from bot.wiring.shared import SharedParts
from config.schema import Settings
from relays.base import LeavesChats, Relay
from storage.database import Database


@dataclass(frozen=True)
class IntakeHandlers:
    commands: list[Command]  # the alert commands, guided where the platform allows
    fallbacks: list[Fallback]  # in the router's order, after the event notices


@dataclass(frozen=True)
class IntakeParts:
    handlers: IntakeHandlers
    chores: IntakeChores


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
    commands = AlertCommands(
        service=service,
        vocabulary=vocabulary,
        max_length=alerts.max_length,
        limit=AlertLimit(per_minute=alerts.per_member_per_minute),
    )
    guided = GuidedAlert(
        alerts=commands,
        vocabulary=vocabulary,
        max_length=alerts.max_length,
        platforms=shared.platforms,
    )
    corrections = AlertCorrections(
        renderer=renderer,
        vocabulary=vocabulary,
        max_length=alerts.max_length,
        window=alerts.group_window,
    )
    groups = GroupMembership(unclaimed_timeout=settings.telegram.unclaimed_group_timeout)
    return IntakeHandlers(
        commands=guided.commands(commands.commands()),
        fallbacks=[groups, guided, corrections, StaleButtons()],
    )


def intake_chores(
    settings: Settings,
    shared: SharedParts,
    *,
    database: Database,
    clock: Clock,
    relays: Mapping[str, Relay],
) -> IntakeChores:
    return IntakeChores(
        database=database,
        clock=clock,
        translate=shared.translate,
        outbox=shared.outbox,
        signal=shared.signal,
        leave={
            name: relay.leave for name, relay in relays.items() if isinstance(relay, LeavesChats)
        },
        language=settings.language,
    )
