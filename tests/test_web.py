"""The health and metrics web server over real HTTP on loopback, on SQLite and PostgreSQL:
liveness, readiness (database and relays), the Prometheus exposition and its values."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from alerts.clock import ManualClock
from alerts.i18n import Translator
from alerts.messages import (
    DeliveryResult,
    InboundMessage,
    OutboundMessage,
    SendContext,
    text_message,
)
from alerts.outbox import FactRef, Outbox, Target
from bot.app import Wiring, build
from bot.web.health import HealthChecks
from bot.web.metrics import MetricsEndpoint, PrometheusMetrics, ScrapeState
from bot.web.server import WebServer
from bot.wiring.platforms import platform_catalogue
from relays.base import RelayHealth
from relays.dispatch_policy import RetryPolicy
from relays.dispatcher import Dispatcher
from relays.matrix.relay import MatrixRelay
from relays.ratelimit import PlatformLimits
from relays.telegram.relay import TelegramRelay
from storage.database import Database, open_database
from tests.feed_server import FeedServer
from tests.support.console import config_from, demo_raw, write_config
from tests.support.feeds import Entry, feed_entry, publish, rss, watch_harness
from tests.support.matrix_app import new_scene, relay_for
from tests.support.running import RunningApp
from tests.support.scripted_relay import ScriptedRelay
from tests.support.synapse import SynapseServer, synapse_server  # noqa: F401
from tests.support.telegram_app import TOKEN, add_scene_chats, running_tocsin, scene_config
from tests.telegram_api import BotApiServer
from tests.test_cli import tocsin
from tests.test_delivery_faults import raise_alert

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(exposition: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def get(port: int, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}{path}") as r:
        return r.status, r.headers.get("Content-Type", ""), await r.text()


async def get_json(port: int, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}{path}") as r:
        return r.status, await r.json()


async def scrape(port: int) -> Samples:
    status, content_type, body = await get(port, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4")
    return samples(body)


@asynccontextmanager
async def console_tocsin(database_url: str) -> AsyncIterator[Wiring]:
    raw = demo_raw()
    raw["console"] = {"interactive": False, "user": "local"}
    raw["web"] = {"listen": "127.0.0.1:0"}
    wiring = await build(config_from(raw, database_url), console_output=io.StringIO())
    async with RunningApp(wiring, receive=True):
        assert wiring.web is not None
        for _ in range(100):  # bound by the supervisor's task starting
            if wiring.web.port:
                break
            await asyncio.sleep(0.01)
        yield wiring


async def test_health_endpoints_and_metrics_change_after_a_delivery(database_url: str) -> None:
    async with console_tocsin(database_url) as wiring:
        assert wiring.web is not None
        assert wiring.web.port
        port = wiring.web.port
        assert await get_json(port, "/livez") == (200, {"live": True})
        assert await get_json(port, "/readyz") == (200, {"ready": True, "not_ready": {}})
        before = await scrape(port)

        await raise_alert(wiring, "/alert 12 personnes refoulées à Menton dont 3 mineurs")
        await wiring.dispatcher.wait_drained()
        after = await scrape(port)
        status, _, text = await get(port, "/metrics")

    sent = ("tocsin_deliveries_sent_total", {"platform": "console", "kind": "alert"})
    received = ("tocsin_alerts_received_total", {"platform": "console", "kind": "alert"})
    latency = ("tocsin_delivery_latency_seconds_count", {"platform": "console", "kind": "alert"})
    assert value(before, sent[0], **sent[1]) == 0  # the series exists from the start
    assert (sent[0], frozenset(sent[1].items())) in before
    assert value(after, sent[0], **sent[1]) == 2  # vigie-italie and mineurs-partout
    assert value(after, received[0], **received[1]) == 1
    assert value(after, latency[0], **latency[1]) == 2
    assert value(after, "tocsin_database_up") == 1
    assert value(after, "tocsin_relay_connected", platform="console") == 1
    assert value(after, "tocsin_outbox_oldest_due_seconds") == 0  # all sent
    # The receipt to the author is a notice, also sent.
    assert value(after, "tocsin_deliveries_sent_total", platform="console", kind="notice") >= 1
    assert value(after, "tocsin_feed_polls_total", outcome="new") == 0
    # No label carries a chat, a person or a text.
    for needle in ("vigie", "local", "Menton", "mineurs-partout"):
        assert needle not in text
    assert status == 200


async def test_outbox_depth_and_oldest_due_are_read_at_scrape_time(database: Database) -> None:
    clock = ManualClock()
    metrics = PrometheusMetrics(platform_catalogue())
    checks = HealthChecks(database, {"console": ScriptedRelay()})
    endpoint = MetricsEndpoint(metrics, database, checks, clock)
    server = WebServer("127.0.0.1:0", endpoint.routes(), source="test.toml")
    await server.start()
    try:
        assert server.port
        empty = await scrape(server.port)
        async with database.transaction() as session:
            for priority, address in ((90, "a"), (20, "b"), (20, "c")):
                Outbox(platform_catalogue()).enqueue(
                    session,
                    Target("console", address),
                    text_message("x"),
                    fact=FactRef("alert", 1, "alert"),
                    priority=priority,
                    now=clock.now(),
                )
        clock.advance(timedelta(seconds=42))
        queued = await scrape(server.port)
    finally:
        await server.close()
    assert ("tocsin_outbox_depth", frozenset({("priority", "20")})) not in empty
    assert value(empty, "tocsin_outbox_oldest_due_seconds") == 0
    assert value(queued, "tocsin_outbox_depth", priority="90") == 1
    assert value(queued, "tocsin_outbox_depth", priority="20") == 2
    assert value(queued, "tocsin_outbox_oldest_due_seconds") == pytest.approx(42)


async def test_retries_429s_failures_and_dead_rows_are_counted(database: Database) -> None:
    """The dispatcher's reports, through a relay at the seam answering as a platform would."""
    clock = ManualClock()

    def script(address: str, _m: OutboundMessage, _c: SendContext, attempt: int) -> Any:
        if address == "limited" and attempt == 1:
            return DeliveryResult.retry("Too Many Requests", after=0.0, rate_limited=True)
        if address == "refused":
            return DeliveryResult.failed("message refused")
        return None

    relay = ScriptedRelay(script=script)
    metrics = PrometheusMetrics(platform_catalogue())
    dispatcher = Dispatcher(
        database=database,
        relays={"console": relay},
        limits={"console": PlatformLimits()},
        clock=clock,
        outbox=Outbox(platform_catalogue()),
        translate=Translator(),
        retry=RetryPolicy(first_delay=0.0),
        metrics=metrics,
    )
    async with database.transaction() as session:
        for address, kind in (("limited", "alert"), ("refused", "announcement")):
            Outbox(platform_catalogue()).enqueue(
                session,
                Target("console", address),
                text_message("x"),
                fact=FactRef("alert", 1, kind),
                priority=20,
                now=clock.now(),
            )
    task = asyncio.create_task(dispatcher.run())
    try:
        async with asyncio.timeout(10):
            await dispatcher.wait_drained()
    finally:
        dispatcher.stop()
        await task
    found = samples(metrics.exposition(ScrapeState()).decode())
    alert_labels = {"platform": "console", "kind": "alert"}
    console_announce = {"platform": "console", "kind": "announcement"}
    assert value(found, "tocsin_deliveries_retried_total", **alert_labels) == 1
    assert value(found, "tocsin_rate_limited_total", platform="console") == 1
    assert value(found, "tocsin_deliveries_sent_total", **alert_labels) == 1
    assert value(found, "tocsin_deliveries_failed_total", **console_announce) == 1
    assert value(found, "tocsin_deliveries_dead_total", **console_announce) == 1
    assert value(found, "tocsin_deliveries_sent_total", **console_announce) == 0


async def test_feed_polls_are_counted_by_outcome(database: Database) -> None:
    """The real watcher against the local feed server: a first poll, a 304, a 404."""
    server = FeedServer()
    await server.start()
    metrics = PrometheusMetrics(platform_catalogue())
    publish(server, "ce", rss(Entry("a", "Rapport annuel")), version=1)
    feeds = [
        feed_entry("ce", server.url("/feeds/ce"), every="1s"),
        feed_entry("gone", server.url("/status/404"), every="1s"),
    ]
    try:
        async with watch_harness(database, server, feeds, metrics=metrics) as h:
            await h.watcher.poll_once()
            await h.watcher.poll_once()
    finally:
        await server.stop()
    found = samples(metrics.exposition(ScrapeState()).decode())
    assert value(found, "tocsin_feed_polls_total", outcome="new") == 1
    assert value(found, "tocsin_feed_polls_total", outcome="not_modified") == 1
    assert value(found, "tocsin_feed_polls_total", outcome="failed") == 2
    assert value(found, "tocsin_feed_polls_total", outcome="skipped") == 0


class _Unreachable(ScriptedRelay):
    async def health(self) -> RelayHealth:
        return RelayHealth(False, "no answer from the platform lately")


async def test_readyz_names_the_relay_that_is_not_connected(database: Database) -> None:
    relays: Mapping[str, Any] = {"console": ScriptedRelay(), "matrix": _Unreachable()}
    checks = HealthChecks(database, relays)
    metrics = PrometheusMetrics(platform_catalogue())
    routes = [*checks.routes(), *MetricsEndpoint(metrics, database, checks, ManualClock()).routes()]
    server = WebServer("127.0.0.1:0", routes, source="test.toml")
    await server.start()
    try:
        assert server.port
        ready = await get_json(server.port, "/readyz")
        found = await scrape(server.port)
    finally:
        await server.close()
    assert ready == (
        503,
        {"ready": False, "not_ready": {"matrix": "no answer from the platform lately"}},
    )
    assert value(found, "tocsin_relay_connected", platform="matrix") == 0
    assert value(found, "tocsin_relay_connected", platform="console") == 1


async def test_readyz_follows_the_telegram_bot_api(tmp_path: Path) -> None:
    """The real relay against the project's Bot API server: ready while it answers, not
    ready once it is gone, ready again when it is back."""
    database_url = f"sqlite+aiosqlite:///{tmp_path}/tocsin.db"
    server = BotApiServer(TOKEN, limits=False)
    await server.start()
    raw = scene_config(server, database_url, add_scene_chats(server))
    raw["web"] = {"listen": "127.0.0.1:0"}
    port_of_api = int(server.base_url.rsplit(":", 1)[1])
    try:
        async with running_tocsin(server, raw) as wiring:
            assert wiring.web is not None
            assert wiring.web.port
            assert isinstance(wiring.relays["telegram"], TelegramRelay)
            port = wiring.web.port
            assert (await get_json(port, "/readyz"))[0] == 200
            await server.stop()
            down = await wait_for_status(port, 503, within=20)
            found = await scrape(port)
            await server.start(port=port_of_api)
            up = await wait_for_status(port, 200, within=30)
    finally:
        await server.stop()
    assert down["not_ready"] == {"telegram": "no answer from the Bot API lately"}
    assert value(found, "tocsin_relay_connected", platform="telegram") == 0
    assert up == {"ready": True, "not_ready": {}}


@pytest.mark.synapse
async def test_matrix_is_connected_while_its_syncs_are_answered(
    synapse_server: SynapseServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A real Synapse: not signed in before the start; connected while syncs come back;
    not connected once no sync answered for twice the sync timeout (here the hand-over
    hangs, as when the database does not answer)."""
    scene = await new_scene(synapse_server)
    room = await scene.room("santé")
    database = await open_database(f"sqlite+aiosqlite:///{tmp_path}/matrix.db")
    relay: MatrixRelay = relay_for(scene, database, ManualClock(), sync_timeout_ms=500)
    stuck = asyncio.Event()

    async def hanging_sink(_inbound: InboundMessage) -> None:
        stuck.set()
        await asyncio.Event().wait()

    before = await relay.health()
    await relay.start(hanging_sink)
    try:
        async with asyncio.timeout(20):
            await relay.synced.wait()
        connected = await relay.health()
        await scene.say(room, "bonjour")
        async with asyncio.timeout(20):
            await stuck.wait()
        await asyncio.sleep(1.5)
        stale = await relay.health()
    finally:
        await relay.stop()
        await database.close()
    assert before == RelayHealth(False, "not signed in")
    assert connected == RelayHealth(True)
    assert stale == RelayHealth(False, "no sync answered lately")


async def wait_for_status(port: int, status: int, *, within: float) -> Any:
    async with asyncio.timeout(within):
        while True:
            got, body = await get_json(port, "/readyz")
            if got == status:
                return body
            await asyncio.sleep(0.2)


# -- bad input: through the command line ---------------------------------------------------


def test_listen_address_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(
            tmp_path / "tocsin.toml",
            f'[storage]\nurl = "sqlite+aiosqlite:///{tmp_path}/t.db"\n'
            f'[web]\nlisten = "127.0.0.1:{port}"\n',
        )
        result = tocsin("run", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"tocsin: {config}: web.listen: address 127.0.0.1:{port} is already in use"
    )
    assert "Traceback" not in result.stderr


EXPECTED_LISTEN = "(expected host:port, e.g. 127.0.0.1:8470 or [::1]:8470)"


@pytest.mark.parametrize(
    ("listen", "problem"),
    [
        ("8470", f'invalid listen address "8470" {EXPECTED_LISTEN}'),
        ("127.0.0.1:http", f'invalid listen address "127.0.0.1:http" {EXPECTED_LISTEN}'),
        ("127.0.0.1:70000", 'invalid listen address "127.0.0.1:70000": port 70000 is out of range'),
        (":8470", f'invalid listen address ":8470" {EXPECTED_LISTEN}'),
    ],
)
def test_check_refuses_a_malformed_listen_value(tmp_path: Path, listen: str, problem: str) -> None:
    config = write_config(tmp_path / "tocsin.toml", f'[web]\nlisten = "{listen}"\n')
    result = tocsin("check", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"tocsin: {config}: web.listen: {problem}"
