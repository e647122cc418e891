"""Building the volunteers' intake (guided alert, photos, locations, groups, corrections,
delivery reports) for the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.clock import Clock
from alerts.i18n import Translator
from alerts.outbox import Outbox
from alerts.rendering import AlertRenderer
from alerts.vocabulary import Vocabulary
from bot.alert_commands import AlertCommands
from bot.context import Fallback
from bot.corrections import AlertCorrections
from bot.groups import GroupMembership
from bot.guided_alert import GuidedAlert, StaleButtons
from bot.intake_chores import IntakeChores
from config.schema import Settings
from storage.database import Database


@dataclass
class IntakeParts:
    guided: GuidedAlert
    fallbacks: list[Fallback]  # in the router's order, after the platform events
    chores: IntakeChores


def build_intake(
    settings: Settings,
    *,
    database: Database,
    clock: Clock,
    translate: Translator,
    outbox: Outbox,
    vocabulary: Vocabulary,
    alerts: AlertCommands,
) -> IntakeParts:
    guided = GuidedAlert(
        alerts=alerts,
        vocabulary=vocabulary,
        translate=translate,
        max_length=settings.alerts.max_length,
    )
    corrections = AlertCorrections(
        renderer=AlertRenderer(vocabulary, translate),
        vocabulary=vocabulary,
        max_length=settings.alerts.max_length,
        window=settings.alerts.group_window,
    )
    groups = GroupMembership(unclaimed_timeout=settings.telegram.unclaimed_group_timeout)
    chores = IntakeChores(
        database=database,
        clock=clock,
        translate=translate,
        outbox=outbox,
        leave={},
        language=settings.language,
    )
    return IntakeParts(guided, [groups, guided, corrections, StaleButtons()], chores)
