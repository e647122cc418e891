"""The composition root: the one place that builds every part and wires them together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TextIO

import httpx

from alerts.clock import Clock, SystemClock
from alerts.digest.texts import TEXTS as DIGEST_TEXTS
from alerts.directory import ChannelDirectory
from alerts.i18n import Translator
from alerts.outbox import Outbox, OutboxSignal
from alerts.rendering import AlertRenderer
from alerts.service import AlertService
from bot.alert_commands import AlertCommands
from bot.alert_limit import AlertLimit
from bot.channel_commands import ChannelCommands
from bot.context import Command
from bot.digest.wiring import DigestParts, build_digest
from bot.directory import sync_directory
from bot.feed_wiring import FeedParts, build_feeds
from bot.intake_wiring import IntakeParts, build_intake
from bot.matrix_setup import matrix_relay, matrix_skip_reason
from bot.platform_events import PlatformEvents
from bot.router import MessageRouter
from bot.supervisor import Supervisor
from bot.telegram_setup import telegram_relay, telegram_skip_reason
from bot.vocabulary import vocabulary_from
from bot.web.health import HealthChecks
from bot.web.metrics import MetricsEndpoint, PrometheusMetrics
from bot.web.server import WebServer
from config.loader import LoadedConfig
from feeds.addresses import Resolver
from relays.base import Relay
from relays.console import ConsoleRelay
from relays.dispatcher import Dispatcher, RetryPolicy, telegram_limits
from relays.ratelimit import PlatformLimits
from storage.database import Database, open_database

log = logging.getLogger(__name__)

SCRIPTED_DRAIN_HORIZON = timedelta(minutes=2)


@dataclass
class Wiring:
    """Everything built from one configuration; `Application` runs it."""

    config: LoadedConfig
    database: Database
    clock: Clock
    translate: Translator
    outbox: Outbox
    signal: OutboxSignal
    router: MessageRouter
    dispatcher: Dispatcher
    relays: dict[str, Relay]
    console: ConsoleRelay | None
    directory: ChannelDirectory
    commands: list[Command] = field(default_factory=list)
    feeds: FeedParts | None = None
    intake: IntakeParts | None = None
    digest: DigestParts | None = None
    metrics: PrometheusMetrics = field(default_factory=PrometheusMetrics)
    web: WebServer | None = None
    # platform → why its relay was not built (logged at start)
    skipped: dict[str, str] = field(default_factory=dict)


def delivery_limits(config: LoadedConfig) -> dict[str, PlatformLimits]:
    delivery = config.settings.delivery
    return {
        "telegram": telegram_limits(
            delivery.telegram_global_per_second,
            delivery.telegram_private_per_second,
            delivery.telegram_group_per_minute,
        ),
        # Matrix is paced by the homeserver's own 429 answers; the console has no limit.
        "matrix": PlatformLimits(),
        "console": PlatformLimits(),
    }


async def build(
    config: LoadedConfig,
    *,
    clock: Clock | None = None,
    console_output: TextIO | None = None,
    console_input: Callable[[], str] | None = None,
    database: Database | None = None,
    feed_transport: httpx.AsyncBaseTransport | None = None,
    feed_resolver: Resolver | None = None,
    worker: bool = False,
) -> Wiring:
    settings = config.settings
    clock = clock or SystemClock()
    database = database or await open_database(settings.storage.url)
    async with database.transaction() as session:
        await sync_directory(session, settings, clock.now())

    vocabulary = vocabulary_from(settings)
    translate = Translator(extra=DIGEST_TEXTS)
    outbox = Outbox()
    outbox_signal = OutboxSignal()
    directory = ChannelDirectory(database.sessions)
    metrics = PrometheusMetrics()
    service = AlertService(
        renderer=AlertRenderer(vocabulary, translate),
        outbox=outbox,
        directory=directory,
        clock=clock,
        group_window=settings.alerts.group_window,
        metrics=metrics,
    )
    commands: list[Command] = []
    alert_commands = AlertCommands(
        service=service,
        vocabulary=vocabulary,
        max_length=settings.alerts.max_length,
        help_lines=lambda: commands,
        limit=AlertLimit(per_minute=settings.alerts.per_member_per_minute, translate=translate),
    )
    intake = build_intake(
        settings,
        database=database,
        clock=clock,
        translate=translate,
        outbox=outbox,
        signal=outbox_signal,
        vocabulary=vocabulary,
        alerts=alert_commands,
    )
    commands.extend(intake.guided.commands(alert_commands.commands()))
    channel_commands = ChannelCommands(
        vocabulary=vocabulary, translate=translate, directory=directory
    )
    commands.extend(channel_commands.commands())
    feeds = build_feeds(
        settings,
        database=database,
        clock=clock,
        vocabulary=vocabulary,
        translate=translate,
        outbox=outbox,
        signal=outbox_signal,
        directory=directory,
        transport=feed_transport,
        resolver=feed_resolver,
        metrics=metrics,
    )
    commands.extend(feeds.commands.commands())
    digest = build_digest(
        settings,
        database=database,
        clock=clock,
        vocabulary=vocabulary,
        translate=translate,
        outbox=outbox,
        signal=outbox_signal,
        directory=directory,
    )
    commands.extend(digest.command.commands())
    router = MessageRouter(
        database=database,
        commands=commands,
        translate=translate,
        outbox=outbox,
        signal=outbox_signal,
        clock=clock,
        default_language=settings.language,
        fallbacks=[PlatformEvents(translate), *intake.fallbacks],
    )

    relays: dict[str, Relay] = {}

    async def console_replies_printed() -> None:
        await dispatcher.wait_drained(platforms=("console",))

    console = ConsoleRelay(
        user=settings.console.user,
        output=console_output,
        read_line=console_input,
        interactive=settings.console.interactive,
        settle=console_replies_printed,
    )
    relays["console"] = console
    matrix = matrix_relay(config, database=database, clock=clock, worker=worker)
    if matrix is not None:
        relays["matrix"] = matrix
    telegram = telegram_relay(
        config,
        database=database,
        clock=clock,
        on_username=router.add_bot_username,
        commands=router.commands,
        translate=translate,
    )
    if telegram is not None:
        relays["telegram"] = telegram
        intake.chores.leave["telegram"] = telegram.leave
        if matrix is not None:  # photos cross platforms, metadata stripped on the way
            telegram.photo_sources["matrix"] = matrix.fetch_photo
            matrix.photo_sources["telegram"] = telegram.fetch_photo

    dispatcher = Dispatcher(
        database=database,
        directory=directory,
        relays=relays,
        limits=delivery_limits(config),
        clock=clock,
        signal=outbox_signal,
        outbox=outbox,
        translate=translate,
        retry=RetryPolicy(
            first_delay=settings.delivery.first_retry_delay.total_seconds(),
            give_up_after=settings.delivery.max_retry,
        ),
        metrics=metrics,
    )
    metrics.expect(relays)
    web = None
    if settings.web.listen is not None:  # the read-only web server; later routes go here too
        checks = HealthChecks(database, relays)
        routes = [*checks.routes(), *MetricsEndpoint(metrics, database, checks, clock).routes()]
        routes += digest.routes()
        web = WebServer(settings.web.listen, routes, source=config.source)
    return Wiring(
        config=config,
        database=database,
        clock=clock,
        translate=translate,
        outbox=outbox,
        signal=outbox_signal,
        router=router,
        dispatcher=dispatcher,
        relays=relays,
        console=console,
        directory=directory,
        commands=commands,
        feeds=feeds,
        intake=intake,
        digest=digest,
        metrics=metrics,
        web=web,
        skipped={
            platform: reason
            for platform, reason in (
                ("telegram", telegram_skip_reason(config)),
                ("matrix", matrix_skip_reason(config, worker=worker)),
            )
            if reason is not None
        },
    )


class Application:
    """`tocsin run` (receive + dispatch) and `tocsin worker` (dispatch only)."""

    def __init__(self, wiring: Wiring, *, receive: bool = True) -> None:
        self._wiring = wiring
        self._receive = receive
        self._supervisor = Supervisor()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        wiring = self._wiring
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self.stop)
        started: list[Relay] = []
        try:
            if wiring.web is not None:  # first: an address in use stops the start at once
                await wiring.web.start()
                self._supervisor.start("web", wiring.web.run)
            await wiring.directory.warm()
            for name, reason in wiring.skipped.items():
                log.info("%s: %s, skipped", name, reason)
            for name, relay in wiring.relays.items():
                await relay.start(wiring.router if self._receive else None)
                started.append(relay)
                log.info("%s: started%s", name, "" if self._receive else ", sending only")
            await self._warn_channels_without_relay()
            self._supervisor.start("dispatcher", wiring.dispatcher.run)
            if self._receive and wiring.feeds is not None:
                self._supervisor.start("feed-watcher", wiring.feeds.watcher.run)
            if self._receive and wiring.intake is not None:
                self._supervisor.start("intake-chores", wiring.intake.chores.run)
            if self._receive and wiring.digest is not None:  # `tocsin worker` never schedules
                self._supervisor.start("digest-scheduler", wiring.digest.scheduler.run)
            if (
                self._receive
                and wiring.console is not None
                and wiring.config.settings.console.interactive
            ):
                self._supervisor.start("console-eof", self._stop_when_console_done)
            await self._stop.wait()
        finally:
            wiring.dispatcher.stop()
            if wiring.feeds is not None:
                wiring.feeds.watcher.stop()
            if wiring.intake is not None:
                wiring.intake.chores.stop()
            if wiring.digest is not None:
                wiring.digest.scheduler.stop()
            if wiring.web is not None:
                wiring.web.stop()
            # The dispatcher's sends in flight finish through relays that still run.
            await self._supervisor.stop()
            for relay in started:
                await relay.stop()
            await wiring.directory.stop()
            if wiring.web is not None:
                await wiring.web.close()
            if wiring.feeds is not None:
                await wiring.feeds.close()
            await wiring.database.close()

    async def _warn_channels_without_relay(self) -> None:
        """Name (by id) the active channels no relay here serves: their deliveries wait."""
        wiring = self._wiring
        async with wiring.database.sessions() as session:
            targets = await wiring.directory.targets(session)
        waiting: dict[str, list[str]] = {}
        for target in targets:
            if target.platform not in wiring.relays:
                waiting.setdefault(target.platform, []).append(target.id)
        for platform, ids in sorted(waiting.items()):
            log.warning(
                "%s: no relay, deliveries to %d channel(s) wait: %s",
                platform,
                len(ids),
                ", ".join(sorted(ids)),
            )

    async def _stop_when_console_done(self) -> None:
        """Standard input ended: send what is queued, then stop (scripted demos, tests).
        A stop meanwhile (a signal) ends this job at once: the shutdown waits for the
        supervisor's jobs, and this one must not keep it waiting for input."""
        drained = asyncio.ensure_future(self._drain_after_console_input())
        stopping = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait((drained, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            drained.cancel()
            stopping.cancel()
        if drained.done() and not drained.cancelled():
            drained.result()  # a crash is the supervisor's to log

    async def _drain_after_console_input(self) -> None:
        console = self._wiring.console
        assert console is not None
        await console.input_finished.wait()
        # Rows paused by a 429 or waiting for a retry are sent too, not left for a next run;
        # rows held for hours (quiet hours, a silence) are.
        await self._wiring.dispatcher.wait_drained(within=SCRIPTED_DRAIN_HORIZON)
        self.stop()
