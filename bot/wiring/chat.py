"""Root stage: what members type. Every chat command in help order, each with its minimum
role from the one permission table, and what is not a command (the fallbacks, in the
order the router asks them)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from alerts.clock import Clock
from bot.channel_commands import ChannelCommands
from bot.context import Command, Fallback
from bot.digest.wiring import DigestParts, build_digest
from bot.mobilisations.wiring import MobilisationParts, build_mobilisations
from bot.people import PeopleCommands
from bot.permissions import with_permissions
from bot.web.metrics import PrometheusMetrics
from bot.web.server import Route
from bot.wiring.feeds import FeedParts, build_feeds
from bot.wiring.intake import IntakeHandlers, intake_handlers
from bot.wiring.shared import SharedParts
from config.schema import Settings
from feeds.addresses import Resolver
from relays.base import BotIdentity
from storage.database import Database


@dataclass(frozen=True)
class ChatParts:
    commands: list[Command]
    fallbacks: list[Fallback]
    intake: IntakeHandlers
    feeds: FeedParts
    mobilisations: MobilisationParts
    digest: DigestParts

    @property
    def web_routes(self) -> list[Route]:
        """What the chat parts publish on the read-only web server (the agenda, the
        digest archive)."""
        return [*self.mobilisations.agenda.routes(), *self.digest.routes()]


def chat_parts(
    settings: Settings,
    shared: SharedParts,
    *,
    database: Database,
    clock: Clock,
    metrics: PrometheusMetrics,
    telegram_identity: BotIdentity,
    feed_transport: httpx.AsyncBaseTransport | None,
    feed_resolver: Resolver | None,
) -> ChatParts:
    intake = intake_handlers(settings, shared, clock=clock, metrics=metrics)
    feeds = build_feeds(
        settings,
        shared,
        database=database,
        clock=clock,
        transport=feed_transport,
        resolver=feed_resolver,
        metrics=metrics,
    )
    channels = ChannelCommands(vocabulary=shared.vocabulary, directory=shared.directory)
    # Invitations show the bot's @username in their links; `/start` without a code is help.
    people = PeopleCommands(
        vocabulary=shared.vocabulary,
        help_handler=next(c.handler for c in intake.commands if c.name == "help"),
        telegram=telegram_identity,
    )
    mobilisations = build_mobilisations(
        settings, shared, database=database, clock=clock, metrics=metrics
    )
    digest = build_digest(settings, shared, database=database, clock=clock)
    commands = with_permissions(
        [
            *intake.commands,
            *channels.commands(),
            *feeds.commands.commands(),
            *people.commands(),
            *mobilisations.commands,
            *digest.command.commands(),
        ]
    )
    # The calls' buttons, guide and edited calls before the intake's fallbacks.
    fallbacks = [*mobilisations.fallbacks, *intake.fallbacks]
    return ChatParts(commands, fallbacks, intake, feeds, mobilisations, digest)
