"""Prometheus metrics of one application, in its own registry (no global one).

Counters and the latency histogram are fed as things happen (`alerts.metrics.Metrics`);
the outbox and the connection states are read when `/metrics` is scraped. Label values
come from small fixed sets (platform, kind, priority, outcome): anything else is counted
as "other", so no label can ever carry an id, an address or a text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import get_args

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector

from alerts.clock import Clock
from alerts.messages import DeliveryResult
from bot.web.health import HealthChecks
from bot.web.server import Route
from feeds.polls import PollStatus
from storage import outbox_stats
from storage.database import Database

KINDS = ("alert", "mobilisation", "announcement", "digest", "notice")
POLL_OUTCOMES: tuple[str, ...] = get_args(PollStatus)
OTHER = "other"
# From a vital alert in tens of milliseconds to a morning after quiet hours.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 86400)
SCRAPE_DATABASE_TIMEOUT = 2.0


def _known(value: str, known: Iterable[str]) -> str:
    return value if value in known else OTHER


@dataclass(frozen=True)
class ScrapeState:
    """What is read at scrape time; the outbox figures are None when the database is away."""

    depth_by_priority: dict[int, int] | None = None
    oldest_due_seconds: float | None = None
    relays_connected: dict[str, bool] = field(default_factory=dict)


class _ScrapeCollector(Collector):
    def __init__(self, platforms: frozenset[str]) -> None:
        self.state = ScrapeState()
        self._platforms = platforms

    def collect(self) -> Iterator[Metric]:
        state = self.state
        database = GaugeMetricFamily(
            "tocsin_database_up", "1 when the database answered the last scrape's queries"
        )
        database.add_metric([], 0.0 if state.depth_by_priority is None else 1.0)
        yield database
        if state.depth_by_priority is not None:
            depth = GaugeMetricFamily(
                "tocsin_outbox_depth",
                "Deliveries not yet taken by their platform (due, held or leased)",
                labels=["priority"],
            )
            for priority, count in sorted(state.depth_by_priority.items()):
                depth.add_metric([str(priority)], float(count))
            yield depth
            oldest = GaugeMetricFamily(
                "tocsin_outbox_oldest_due_seconds",
                "Seconds since the pending delivery due the longest became due (0: none)",
            )
            oldest.add_metric([], state.oldest_due_seconds or 0.0)
            yield oldest
        connected = GaugeMetricFamily(
            "tocsin_relay_connected",
            "1 when the relay reached its platform lately",
            labels=["platform"],
        )
        for platform, up in sorted(state.relays_connected.items()):
            connected.add_metric([_known(platform, self._platforms)], 1.0 if up else 0.0)
        yield connected

    def describe(self) -> Iterator[Metric]:
        for name in (
            "tocsin_database_up",
            "tocsin_outbox_depth",
            "tocsin_outbox_oldest_due_seconds",
            "tocsin_relay_connected",
        ):
            yield GaugeMetricFamily(name, "")


class PrometheusMetrics:
    """The `alerts.metrics.Metrics` of `tocsin run` and `tocsin worker`."""

    def __init__(self, platforms: Iterable[str], registry: CollectorRegistry | None = None) -> None:
        """`platforms`: the platform labels (the root's catalogue); others count as "other"."""
        self._platforms = frozenset(platforms)
        self.registry = registry or CollectorRegistry()
        by_delivery = ("platform", "kind")

        def counter(name: str, text: str, labels: tuple[str, ...]) -> Counter:
            return Counter(name, text, labels, registry=self.registry)

        self._sent = counter("tocsin_deliveries_sent", "Sends the platform took", by_delivery)
        self._retried = counter(
            "tocsin_deliveries_retried",
            "Sends to try again (transient error, 429, migrated chat)",
            by_delivery,
        )
        self._failed = counter(
            "tocsin_deliveries_failed", "Sends the platform refused for good", by_delivery
        )
        self._dead = counter(
            "tocsin_deliveries_dead", "Deliveries given up on (admins told)", by_delivery
        )
        self._rate_limited = counter(
            "tocsin_rate_limited", "429 answers (Telegram, Matrix M_LIMIT_EXCEEDED)", ("platform",)
        )
        self._latency = Histogram(
            "tocsin_delivery_latency_seconds",
            "From the fact's acceptance to the platform taking the message",
            by_delivery,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._alerts = counter(
            "tocsin_alerts_received", "Alerts and mobilisations accepted", ("platform", "kind")
        )
        self._polls = counter("tocsin_feed_polls", "Feed polls by outcome", ("outcome",))
        for outcome in POLL_OUTCOMES:
            self._polls.labels(outcome)
        self._scrape = _ScrapeCollector(self._platforms)
        self.registry.register(self._scrape)

    def expect(self, platforms: Iterable[str]) -> None:
        """Create the configured platforms' series at 0, so a rate has a starting point."""
        for platform in platforms:
            platform = _known(platform, self._platforms)
            self._rate_limited.labels(platform)
            for kind in KINDS:
                for counter in (self._sent, self._retried, self._failed, self._dead):
                    counter.labels(platform, kind)
                if kind in ("alert", "mobilisation"):
                    self._alerts.labels(platform, kind)

    # -- alerts.metrics.Metrics --------------------------------------------------------

    def delivery_reported(
        self, platform: str, kind: str, result: DeliveryResult, since_accepted: float
    ) -> None:
        labels = (_known(platform, self._platforms), _known(kind, KINDS))
        if result.outcome == "sent":
            self._sent.labels(*labels).inc()
            self._latency.labels(*labels).observe(max(since_accepted, 0.0))
        elif result.outcome in ("retry", "moved"):
            self._retried.labels(*labels).inc()
        else:
            self._failed.labels(*labels).inc()
        if result.rate_limited:
            self._rate_limited.labels(labels[0]).inc()

    def delivery_dead(self, platform: str, kind: str) -> None:
        self._dead.labels(_known(platform, self._platforms), _known(kind, KINDS)).inc()

    def alert_received(self, platform: str, kind: str) -> None:
        self._alerts.labels(_known(platform, self._platforms), _known(kind, KINDS)).inc()

    def feed_polled(self, outcome: str) -> None:
        self._polls.labels(_known(outcome, POLL_OUTCOMES)).inc()

    # -- scraping ----------------------------------------------------------------------

    def exposition(self, state: ScrapeState) -> bytes:
        """The text format with `state` as the scrape-time values."""
        self._scrape.state = state
        return generate_latest(self.registry)


class MetricsEndpoint:
    """`/metrics`: reads the outbox and the relays' states, then renders the registry."""

    def __init__(
        self,
        metrics: PrometheusMetrics,
        database: Database,
        checks: HealthChecks,
        clock: Clock,
        *,
        database_timeout: float = SCRAPE_DATABASE_TIMEOUT,
    ) -> None:
        self._metrics = metrics
        self._database = database
        self._checks = checks
        self._clock = clock
        self._database_timeout = database_timeout

    async def state(self) -> ScrapeState:
        outbox, relays = await asyncio.gather(self._outbox(), self._checks.relays())
        depth, oldest = outbox
        return ScrapeState(
            depth_by_priority=depth,
            oldest_due_seconds=oldest,
            relays_connected={name: health.connected for name, health in relays.items()},
        )

    async def _outbox(self) -> tuple[dict[int, int] | None, float | None]:
        now = self._clock.now()
        try:
            async with asyncio.timeout(self._database_timeout), self._database.sessions() as s:
                depth = await outbox_stats.pending_by_priority(s)
                due_since = await outbox_stats.oldest_due(s, now)
        except Exception:  # the database is away: tocsin_database_up says so
            return None, None
        return depth, (now - due_since).total_seconds() if due_since is not None else None

    async def handle(self, _request: web.Request) -> web.Response:
        body = self._metrics.exposition(await self.state())
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    def routes(self) -> list[Route]:
        return [Route("GET", "/metrics", self.handle)]
