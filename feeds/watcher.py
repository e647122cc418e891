"""The feed watcher: polls each due feed on its own schedule and relays what is new.

One poll of one feed: conditional GET (stored ETag / Last-Modified), parse in the parsing
process within its deadline (feeds/parse_worker.py), then one transaction that stores the
items not seen before with their announcement deliveries and reschedules the feed. A
feed's first poll records what it holds without announcing it (except the latest
``announce_first`` items). A failure of any kind —
network, HTTP status, refused address, unreadable document, or a bug — is recorded on
that feed only: it backs off exponentially, and after ``pause_after`` failures in a row
it is paused and the admins are told once, with the reason. Feeds are polled
concurrently within the HostLimiter's bounds, and a feed still in flight (a server that
hangs until the timeout) is never started twice, so it cannot hold up the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.clock import Clock
from alerts.feed_announcements import (
    AnnouncementService,
    FeedSource,
    storable_key,
)
from alerts.i18n import Translator
from alerts.metrics import Metrics, NoMetrics
from alerts.notices import notify_admins
from alerts.outbox import Outbox
from alerts.vocabulary import Vocabulary
from config.schema import FeedSettings, Settings
from feeds.addresses import Resolver, hide_userinfo, refusal_reason, system_resolver
from feeds.classify import FeedLabels, ItemClassifier
from feeds.fetch import FeedFetcher, FeedFetchError, FetchResult, HostLimiter
from feeds.grouped_writes import NotModified, NotModifiedWriter
from feeds.health import (
    MAX_BACKOFF,
    backoff_after_failure,
    effective_interval,
    next_poll_after_success,
    should_pause,
)
from feeds.parse import FeedParseError, ParsedFeed
from feeds.parse_worker import ParseWorker
from feeds.polls import FeedSnapshot, PollOutcome, PollReport
from feeds.selection import chronological, items_to_record
from feeds.sync import sync_configured_feeds
from storage import feed_queries, queries
from storage.database import Database
from storage.models import Feed

log = logging.getLogger(__name__)

# What the watcher says (to a feed's organisation admins); the composition root merges it.
TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "feed.paused": (
            "⚠️ Le flux {feed} ({url}) est mis en pause après {failures} échecs consécutifs. "
            "Dernière erreur : {reason}. Corrigez l'adresse ou retirez le flux ; la commande "
            "« feed resume {feed} » le relance."
        ),
    },
    "en": {
        "feed.paused": (
            "⚠️ Feed {feed} ({url}) is paused after {failures} failures in a row. Last error: "
            '{reason}. Fix the address or remove the feed; the command "feed resume {feed}" '
            "restarts it."
        ),
    },
}

# A feed whose poll could not even be recorded (the database refused) is left alone this
# long, in memory, so a storage hiccup does not turn into hammering its server.
UNRECORDED_HOLD = timedelta(minutes=1)


@dataclass(frozen=True)
class WatcherSettings:
    """The `[feed_watch]` settings the watcher uses, and its own pacing."""

    feeds: tuple[FeedSettings, ...] = ()
    allow_private: bool = False
    pause_after: int = 10
    announce_first: int = 0
    jitter_fraction: float = 0.1  # successful polls are spread over +10 % of the interval
    max_sleep: float = 30.0  # seconds between looks at the schedule when nothing is due
    min_sleep: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> WatcherSettings:
        watch = settings.feed_watch
        return cls(
            feeds=settings.feeds,
            allow_private=watch.allow_private,
            pause_after=watch.pause_after,
            announce_first=watch.announce_first,
        )


class FeedWatcher:
    def __init__(
        self,
        *,
        database: Database,
        fetcher: FeedFetcher,
        parser: ParseWorker,
        limiter: HostLimiter,
        vocabulary: Vocabulary,
        clock: Clock,
        rng: random.Random,
        settings: WatcherSettings,
        announcements: AnnouncementService,
        outbox: Outbox,
        translate: Translator,
        resolver: Resolver | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or NoMetrics()
        self._db = database
        self._fetcher = fetcher
        self._parser = parser
        self._limiter = limiter
        self._vocabulary = vocabulary
        self._clock = clock
        self._rng = rng
        self._settings = settings
        self._announcements = announcements
        self._outbox = outbox
        self._translate = translate
        self._resolver = resolver or system_resolver
        self._in_flight: set[str] = set()
        self._held_until: dict[str, datetime] = {}
        self._private_hosts: dict[str, bool] = {}
        self._classifiers: dict[FeedLabels, ItemClassifier] = {}
        # SQLite has one writer at a time: queueing our own writes here beats failing on
        # a busy database. PostgreSQL takes a few in parallel.
        self._writes = asyncio.Semaphore(1 if database.dialect == "sqlite" else 4)
        self._not_modified = NotModifiedWriter(database, self._writes)
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------

    async def sync(self) -> None:
        """Configured feeds into the table (chat-added ones are kept)."""
        async with self._db.transaction() as session:
            await sync_configured_feeds(session, self._settings.feeds, self._clock.now())

    async def run(self) -> None:
        """Sync, then poll due feeds until ``stop()``; meant to run under the Supervisor."""
        await self.sync()
        polls: set[asyncio.Task[PollReport]] = set()
        try:
            while not self._stop.is_set():
                # Cleared before looking, not after: a wake-up (stop, a poll that ended)
                # arriving while the schedule is read must cut the coming sleep short.
                self._wake.clear()
                delay = self._settings.max_sleep
                try:
                    snapshots = await self._claim(due_only=True)
                    if snapshots:
                        task = asyncio.create_task(self._poll_claimed(snapshots))
                        polls.add(task)
                        task.add_done_callback(polls.discard)
                    delay = await self._seconds_until_next()
                except Exception:  # the database is away: look again later
                    log.exception("feed watcher: could not read the feed schedule")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
        finally:
            for task in polls:
                task.cancel()
            await asyncio.gather(*polls, return_exceptions=True)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """Look at the schedule now rather than at the planned time."""
        self._wake.set()

    async def poll_due(self) -> PollReport:
        """Poll the feeds whose time has come and are not already in flight; wait for them."""
        return await self._poll_claimed(await self._claim(due_only=True))

    async def poll_once(self) -> PollReport:
        """Poll every active feed now, whatever its schedule (benchmarks, operators)."""
        return await self._poll_claimed(await self._claim(due_only=False))

    # -- scheduling ----------------------------------------------------------------------

    async def _claim(self, *, due_only: bool) -> list[FeedSnapshot]:
        now = self._clock.now()
        async with self._db.transaction() as session:
            rows = await (
                feed_queries.due_feeds(session, now)
                if due_only
                else feed_queries.active_feeds(session)
            )
            snapshots = [FeedSnapshot.of(row) for row in rows]
        claimed = []
        for snapshot in snapshots:
            held = self._held_until.get(snapshot.id)
            if snapshot.id in self._in_flight or (held is not None and held > now):
                continue
            self._held_until.pop(snapshot.id, None)
            self._in_flight.add(snapshot.id)
            claimed.append(snapshot)
        return claimed

    async def _poll_claimed(self, snapshots: Sequence[FeedSnapshot]) -> PollReport:
        outcomes = await asyncio.gather(*(self._poll_released(s) for s in snapshots))
        return PollReport(tuple(outcomes))

    async def _poll_released(self, snapshot: FeedSnapshot) -> PollOutcome:
        # Each feed leaves the in-flight set as soon as its own poll ends: a feed hanging
        # until its timeout must not keep the feeds claimed with it from their next poll.
        try:
            outcome = await self._poll_guarded(snapshot)
            self._metrics.feed_polled(outcome.status)
            return outcome
        finally:
            self._in_flight.discard(snapshot.id)
            self._wake.set()  # a new schedule: let the run loop recompute its sleep

    async def _seconds_until_next(self) -> float:
        async with self._db.transaction() as session:
            upcoming = await feed_queries.next_poll_at(session)
        settings = self._settings
        if upcoming is None:
            return settings.max_sleep
        seconds = (upcoming - self._clock.now()).total_seconds()
        return min(max(seconds, settings.min_sleep), settings.max_sleep)

    async def _interval(self, snapshot: FeedSnapshot) -> timedelta:
        return effective_interval(snapshot.every, await self._host_is_private(snapshot.url))

    async def _host_is_private(self, url: str) -> bool:
        """Whether the feed's host is one only allow_private lets us reach (an intranet,
        the test server): those may be polled every second, public ones every 5 minutes."""
        if not self._settings.allow_private:
            return False  # only public hosts are fetched at all
        host = (urlsplit(url).hostname or "").lower()
        known = self._private_hosts.get(host)
        if known is not None:
            return known
        try:
            addresses = await self._resolver(host, 443)
            private = any(
                refusal_reason(ipaddress.ip_address(address), allow_private=False) is not None
                for address in addresses
            )
        except (OSError, ValueError):
            return False  # unknown: keep the public courtesy interval, decide next time
        self._private_hosts[host] = private
        return private

    def _classifier(self, labels: FeedLabels) -> ItemClassifier:
        classifier = self._classifiers.get(labels)
        if classifier is None:
            classifier = self._classifiers[labels] = ItemClassifier(self._vocabulary, labels)
        return classifier

    # -- one feed ------------------------------------------------------------------------

    async def _poll_guarded(self, snapshot: FeedSnapshot) -> PollOutcome:
        """Poll one feed; whatever goes wrong stays with this feed."""
        try:
            return await self._poll(snapshot)
        except SQLAlchemyError as error:
            # Not the feed's fault: nothing was stored, the next poll fetches it again.
            log.warning(
                "feed %s: could not record the poll (%s); trying again in %s",
                snapshot.id,
                type(error).__name__,
                UNRECORDED_HOLD,
            )
            self._held_until[snapshot.id] = self._clock.now() + UNRECORDED_HOLD
            return PollOutcome(snapshot.id, "skipped", error=f"storage: {type(error).__name__}")
        except Exception as error:  # a bug, or a document that broke the parser
            log.exception("feed %s: unexpected error while polling", snapshot.id)
            reason = f"unexpected error ({type(error).__name__}); see the logs"
            try:
                return await self._record_failure(snapshot, reason, None)
            except Exception:
                log.exception("feed %s: could not record the failure", snapshot.id)
                self._held_until[snapshot.id] = self._clock.now() + UNRECORDED_HOLD
                return PollOutcome(snapshot.id, "skipped", error=reason)

    async def _poll(self, snapshot: FeedSnapshot) -> PollOutcome:
        try:
            async with self._limiter.slot(snapshot.url):
                result = await self._fetcher.fetch(
                    snapshot.url, snapshot.etag, snapshot.last_modified
                )
            if result.status == "not_modified":
                return await self._record_not_modified(snapshot, result)
            # feedparser is CPU-bound and some documents never end: parsed in a process
            # that is killed past the deadline, so the event loop and the others go on.
            parsed = await self._parser.parse(result.body, result.content_type, result.final_url)
        except FeedFetchError as error:
            return await self._record_failure(snapshot, error.message, error.retry_after)
        except FeedParseError as error:
            return await self._record_failure(snapshot, str(error), None)
        return await self._record_items(snapshot, result, parsed)

    async def _record_not_modified(
        self, snapshot: FeedSnapshot, result: FetchResult
    ) -> PollOutcome:
        now = self._clock.now()
        next_poll = next_poll_after_success(
            now, await self._interval(snapshot), self._settings.jitter_fraction, self._rng
        )
        await self._not_modified.record(
            NotModified(snapshot.id, result.etag, result.last_modified, now, next_poll)
        )
        return PollOutcome(snapshot.id, "not_modified")

    async def _record_items(
        self, snapshot: FeedSnapshot, result: FetchResult, parsed: ParsedFeed
    ) -> PollOutcome:
        now = self._clock.now()
        interval = await self._interval(snapshot)
        settings = self._settings
        async with self._writes, self._db.transaction() as session:
            row = await session.get(Feed, snapshot.id)
            if row is None or not row.enabled or row.paused:
                return PollOutcome(snapshot.id, "skipped")  # removed or paused meanwhile
            known = await feed_queries.existing_item_keys(
                session, snapshot.id, {storable_key(item.key) for item in parsed.items}
            )
            fresh = chronological(
                [item for item in parsed.items if storable_key(item.key) not in known]
            )
            to_record = items_to_record(
                fresh,
                self._classifier(snapshot.labels),
                first_poll=not row.initialised,
                announce_first=settings.announce_first,
            )
            recorded = await self._announcements.record(
                session, FeedSource(row.id, row.name or parsed.title or row.id), to_record, now
            )
            row.initialised = True
            row.etag, row.last_modified = result.etag, result.last_modified
            row.last_success_at = now
            row.consecutive_failures = 0
            row.next_poll_at = next_poll_after_success(
                now, interval, settings.jitter_fraction, self._rng
            )
            if row.name is None and parsed.title:
                row.name = parsed.title[:200]
            if parsed.warning:  # a damaged document: items kept, worth an operator's look
                row.last_error, row.last_error_at = parsed.warning, now
        announced = sum(1 for item in recorded if item.announced)
        deliveries = sum(item.channels for item in recorded)
        if recorded:
            log.info(
                "feed %s: %d new item(s), %d announced to %d channel(s)",
                snapshot.id,
                len(recorded),
                announced,
                deliveries,
            )
        return PollOutcome(
            snapshot.id, "new", len(recorded), announced, deliveries, error=parsed.warning
        )

    async def _record_failure(
        self, snapshot: FeedSnapshot, reason: str, retry_after: float | None
    ) -> PollOutcome:
        now = self._clock.now()
        interval = await self._interval(snapshot)
        reason = hide_userinfo(reason)  # shown in /feeds and in notices
        async with self._writes, self._db.transaction() as session:
            row = await session.get(Feed, snapshot.id)
            if row is None or not row.enabled or row.paused:
                return PollOutcome(snapshot.id, "skipped", error=reason)
            failures = row.consecutive_failures + 1
            row.consecutive_failures = failures
            row.last_error, row.last_error_at = reason, now
            next_poll = backoff_after_failure(now, interval, failures, self._rng)
            if retry_after is not None:  # the server said when; never beyond the backoff cap
                next_poll = max(next_poll, now + min(timedelta(seconds=retry_after), MAX_BACKOFF))
            row.next_poll_at = next_poll
            paused = should_pause(failures, self._settings.pause_after)
            if paused:
                row.paused = True
                if not row.pause_notified:
                    await notify_admins(
                        session,
                        organisation_id=await self._organisation_of(session, row.added_by),
                        outbox=self._outbox,
                        translate=self._translate,
                        now=now,
                        key="feed.paused",
                        feed=row.id,
                        url=hide_userinfo(row.url),
                        failures=failures,
                        reason=reason,
                    )
                    row.pause_notified = True
        log.warning(
            "feed %s: poll failed (failure %d in a row)%s",
            snapshot.id,
            failures,
            "; paused" if paused else "",
        )
        log.debug("feed %s: %s", snapshot.id, reason)
        return PollOutcome(snapshot.id, "paused" if paused else "failed", error=reason)

    @staticmethod
    async def _organisation_of(session: AsyncSession, added_by: str | None) -> str | None:
        """The organisation of the member who added a feed from chat (its admins hear about
        it along with the network admins); None for configured feeds."""
        if not added_by or ":" not in added_by:
            return None
        platform, user = added_by.split(":", 1)
        member = await queries.member_by_account(session, platform, user)
        return member.organisation_id if member else None
