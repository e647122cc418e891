"""The composition root: the one place that builds every part and wires them together.

`build` reads top to bottom, in stages (`bot/wiring/`): what is shared (platforms, texts,
outbox), what members type (commands, fallbacks, the router), the relays (which show the
commands), then what needs the relays (intake chores, dispatcher, web). Every object is
built once, complete, through its constructor; nothing is set on it afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TextIO

import httpx

from alerts.channel_cache import ChannelCache
from alerts.clock import Clock, SystemClock
from alerts.i18n import Translator
from alerts.outbox import Outbox, OutboxSignal
from alerts.retention import PurgeJob, Purger
from bot.config_sync import sync_config
from bot.context import Command, Fallback
from bot.digest.wiring import DigestParts
from bot.event_notices import EventNotices
from bot.mobilisations.wiring import MobilisationParts
from bot.router import MessageRouter
from bot.supervisor import Supervisor
from bot.web.health import HealthChecks
from bot.web.metrics import MetricsEndpoint, PrometheusMetrics
from bot.web.server import Route, WebServer
from bot.wiring.chat import chat_parts
from bot.wiring.feeds import FeedParts
from bot.wiring.intake import IntakeParts, intake_chores
from bot.wiring.platforms import delivery_limits
from bot.wiring.relays import process_relays, skipped_relays
from bot.wiring.shared import SharedParts, shared_parts
from config.loader import LoadedConfig
from config.schema import Settings
from feeds.addresses import Resolver
from relays.base import BotIdentity, Relay
from relays.console import TRAITS as CONSOLE
from relays.console import ConsoleRelay
from relays.dispatch_policy import RetryPolicy
from relays.dispatcher import Dispatcher
from storage.database import Database, open_database

log = logging.getLogger(__name__)

SCRIPTED_DRAIN_HORIZON = timedelta(minutes=2)


@dataclass
class Wiring:
    """Everything built from one configuration; `Application` runs it."""

    config: LoadedConfig
    database: Database
    clock: Clock
    shared: SharedParts
    router: MessageRouter
    dispatcher: Dispatcher
    relays: dict[str, Relay]
    metrics: PrometheusMetrics
    feeds: FeedParts | None = None
    intake: IntakeParts | None = None
    mobilisations: MobilisationParts | None = None
    web: WebServer | None = None
    purge: PurgeJob | None = None  # the daily retention purge (`[privacy] retention`)
    digest: DigestParts | None = None  # the weekly digest (issue 16)
    # platform → why its relay was not built (logged at start)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def translate(self) -> Translator:
        return self.shared.translate

    @property
    def outbox(self) -> Outbox:
        return self.shared.outbox

    @property
    def signal(self) -> OutboxSignal:
        return self.shared.outbox.signal

    @property
    def directory(self) -> ChannelCache:
        return self.shared.directory

    @property
    def console(self) -> ConsoleRelay | None:
        relay = self.relays.get(CONSOLE.name)
        return relay if isinstance(relay, ConsoleRelay) else None


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
    """Everything one configuration describes, over `database` (opened here unless
    given; closed again when the build refuses, e.g. a missing secret)."""
    clock = clock or SystemClock()
    opened = await synced_database(config.settings, database, clock)
    try:
        return assembled(
            config,
            opened,
            clock,
            Seams(console_output, console_input, feed_transport, feed_resolver),
            worker=worker,
        )
    except BaseException:
        if database is None:
            await opened.close()
        raise


@dataclass(frozen=True)
class Seams:
    """What tests and the CLI plug in: the console's streams, the feeds' transport."""

    console_output: TextIO | None = None
    console_input: Callable[[], str] | None = None
    feed_transport: httpx.AsyncBaseTransport | None = None
    feed_resolver: Resolver | None = None


def assembled(
    config: LoadedConfig, database: Database, clock: Clock, seams: Seams, *, worker: bool
) -> Wiring:
    settings = config.settings
    shared = shared_parts(settings, database)
    metrics = PrometheusMetrics(shared.platforms)

    # What members type: every command in help order, then what is not a command.
    telegram_identity = BotIdentity()  # the Telegram relay learns the bot's @username
    chat = chat_parts(
        settings,
        shared,
        database=database,
        clock=clock,
        metrics=metrics,
        telegram_identity=telegram_identity,
        feed_transport=seams.feed_transport,
        feed_resolver=seams.feed_resolver,
    )
    router = message_router(settings, shared, database, clock, chat.commands, chat.fallbacks)

    # The relays of this process; the console waits for the replies each line caused.
    async def console_replies_printed() -> None:
        await dispatcher.wait_drained(platforms=(CONSOLE.name,))

    relays = process_relays(
        config,
        console_relay(settings, seams.console_output, seams.console_input, console_replies_printed),
        database=database,
        clock=clock,
        worker=worker,
        telegram_identity=telegram_identity,
        commands=router.commands,  # the menu shows what the router answers
        translate=shared.translate,
    )

    # What needs the relays.
    chores = intake_chores(settings, shared, database=database, clock=clock, relays=relays)
    dispatcher = outbox_dispatcher(settings, shared, database, clock, relays, metrics)
    metrics.expect(relays)
    return Wiring(  # the web server reads the relays' health
        *(config, database, clock, shared, router, dispatcher, relays, metrics),
        feeds=chat.feeds,
        intake=IntakeParts(chat.intake, chores),
        mobilisations=chat.mobilisations,
        web=web_server(config, database, relays, metrics, clock, chat.web_routes),
        purge=purge_job(settings, database, clock),
        digest=chat.digest,
        skipped=skipped_relays(config, worker=worker),
    )


async def synced_database(settings: Settings, database: Database | None, clock: Clock) -> Database:
    """The database (opened unless given), with the file's members and channels in it."""
    database = database or await open_database(settings.storage.url)
    async with database.transaction() as session:
        await sync_config(session, settings, clock.now())
    return database


def purge_job(settings: Settings, database: Database, clock: Clock) -> PurgeJob:
    """The daily retention purge (`[privacy]`), run by `tocsin run`."""
    purger = Purger(
        database=database,
        clock=clock,
        retention=settings.privacy.retention,
        batch=settings.privacy.purge_batch,
    )
    return PurgeJob(purger, database=database, clock=clock)


def message_router(
    settings: Settings,
    shared: SharedParts,
    database: Database,
    clock: Clock,
    commands: list[Command],
    fallbacks: list[Fallback],
) -> MessageRouter:
    """The router: each inbound message, once, to its command or else to the fallbacks
    (the platform events' notices first)."""
    return MessageRouter(
        database=database,
        commands=commands,
        translate=shared.translate,
        outbox=shared.outbox,
        clock=clock,
        default_language=settings.language,
        fallbacks=[EventNotices(), *fallbacks],
        platforms=shared.platforms,
    )


def console_relay(
    settings: Settings,
    output: TextIO | None,
    read_line: Callable[[], str] | None,
    settle: Callable[[], Awaitable[None]],
) -> ConsoleRelay:
    console = settings.console
    return ConsoleRelay(
        user=console.user,
        output=output,
        read_line=read_line,
        interactive=console.interactive,
        settle=settle,
    )


def outbox_dispatcher(
    settings: Settings,
    shared: SharedParts,
    database: Database,
    clock: Clock,
    relays: dict[str, Relay],
    metrics: PrometheusMetrics,
) -> Dispatcher:
    return Dispatcher(
        database=database,
        directory=shared.directory,
        relays=relays,
        limits=delivery_limits(settings.delivery, shared.platforms),
        clock=clock,
        outbox=shared.outbox,
        translate=shared.translate,
        retry=RetryPolicy(
            first_delay=settings.delivery.first_retry_delay.total_seconds(),
            give_up_after=settings.delivery.max_retry,
        ),
        metrics=metrics,
    )


def web_server(
    config: LoadedConfig,
    database: Database,
    relays: dict[str, Relay],
    metrics: PrometheusMetrics,
    clock: Clock,
    more: list[Route],
) -> WebServer | None:
    """The read-only web server (health, metrics, and `more`: the agenda, the digest
    archive), when `[web] listen` is set."""
    listen = config.settings.web.listen
    if listen is None:
        return None
    checks = HealthChecks(database, relays)
    routes = [
        *checks.routes(),
        *MetricsEndpoint(metrics, database, checks, clock).routes(),
        *more,
    ]
    return WebServer(listen, routes, source=config.source)


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
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self.stop)
        started: list[Relay] = []
        try:
            await self._start(started)
            await self._stop.wait()
        finally:
            await self._shut_down(started)

    async def _start(self, started: list[Relay]) -> None:
        """Start everything in order; `started` collects the relays to stop later."""
        wiring = self._wiring
        if wiring.web is not None:  # first: an address in use stops the start at once
            await wiring.web.start()
            self._supervisor.start("web", wiring.web.run)
        await wiring.directory.warm()
        for name, reason in wiring.skipped.items():
            log.info("%s: %s, skipped", name, reason)
        for name, relay in wiring.relays.items():
            started.append(relay)  # before: one whose start fails half-way is stopped too
            await relay.start(wiring.router if self._receive else None)
            log.info("%s: started%s", name, "" if self._receive else ", sending only")
        await self._warn_channels_without_relay()
        self._supervisor.start("dispatcher", wiring.dispatcher.run)
        if self._receive:
            self._start_receiving()

    def _start_receiving(self) -> None:
        """The jobs of `tocsin run` only: a `tocsin worker` just dispatches."""
        wiring = self._wiring
        if wiring.feeds is not None:
            self._supervisor.start("feed-watcher", wiring.feeds.watcher.run)
        if wiring.intake is not None:
            self._supervisor.start("intake-chores", wiring.intake.chores.run)
        if wiring.mobilisations is not None:
            self._supervisor.start("mobilisation-deadlines", wiring.mobilisations.runner.run)
        if wiring.purge is not None:
            self._supervisor.start("retention-purge", wiring.purge.run)
        if wiring.digest is not None:
            self._supervisor.start("digest-scheduler", wiring.digest.scheduler.run)
        if wiring.console is not None and wiring.config.settings.console.interactive:
            self._supervisor.start("console-eof", self._stop_when_console_done)

    async def _shut_down(self, started: list[Relay]) -> None:
        wiring = self._wiring
        wiring.dispatcher.stop()
        if wiring.feeds is not None:
            wiring.feeds.watcher.stop()
        if wiring.intake is not None:
            wiring.intake.chores.stop()
        if wiring.mobilisations is not None:
            wiring.mobilisations.runner.stop()
        if wiring.purge is not None:
            wiring.purge.stop()
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
        if console is None:
            raise RuntimeError("no console relay to wait for")
        await console.input_finished.wait()
        # Rows paused by a 429 or waiting for a retry are sent too, not left for a next run;
        # rows held for hours (quiet hours, a silence) are.
        await self._wiring.dispatcher.wait_drained(within=SCRIPTED_DRAIN_HORIZON)
        self.stop()
