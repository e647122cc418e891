"""Fan-out benchmark: prints figures, asserts nothing.

    python bench/fanout.py                      # real Telegram limits, 1,000 channels
    python bench/fanout.py --rate-scale 10      # limits ten times faster (quicker run)

Everything runs on loopback: Tocsin in this process, the project's Bot API test server
(tests/telegram_api) in another, python-telegram-bot talking to it over real HTTP.

Figures:
1. one alert to N Telegram groups under real limits: time until all delivered, the floor
   the limits impose (N / overall rate), their ratio, 429s, lost and duplicated;
2. alert → first delivery latency p50/p99 with the limits off;
3. intake: alerts/s accepted, routed and enqueued (no sending), SQLite and PostgreSQL,
   one after the other and in bursts (as concurrent webhook requests arrive);
4. a vital alert raised while a 1,000-message announcement fan-out is draining;
5. for comparison, python-telegram-bot's own AIORateLimiter (its default limits, 30/s
   overall and 20/min per group, with 10 retries of a 429 instead of none, so nothing
   is lost) sending the same fan-out straight from a PTB bot;
6. pre-emption: an urgent alert to the N groups raised while a normal alert to the same
   N drains, and one raised behind a 1,000-item announcement backlog to the same N: time
   until all urgent deliveries, against their own floor (N / overall rate);
7. a flood: one Telegram member sends 300 /alert in 30 s at one place (raw intake, so
   the dispatcher is measured, not the intake limits); meanwhile another member's
   /urgent there, and a normal alert to an unrelated idle channel: their first delivery,
   and the share of sends Telegram answered 429.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from alerts.messages import InboundMessage, text_message
from alerts.outbox import FactRef, Target
from alerts.types import Kind, Urgency, delivery_priority
from bot.app import Wiring, build
from config.loader import LoadedConfig, Secrets, build_settings
from storage.models import Delivery
from tests.support.databases import private_postgres_url, reset_postgres
from tests.support.running import RunningApp
from tests.support.telegram_process import TelegramServerProcess

GROUP_BASE = -1001000000000
VITAL_CHANNELS = 50
FLOODER = 5_000_001
IDLE_CHAT = -1009000000001


def chat_id(index: int) -> int:
    return GROUP_BASE - index


MEMBERS = 100


def make_config(
    database_url: str,
    server: TelegramServerProcess | None,
    channels: int,
    scale: float,
    per_member_per_minute: int = 10,
) -> LoadedConfig:
    raw: dict[str, Any] = {
        "storage": {"url": database_url},
        "alerts": {"per_member_per_minute": per_member_per_minute},
        "telegram": {
            "base_url": server.api_url if server else "http://127.0.0.1:9/bot",
            "base_file_url": f"{server.base_url}/file/bot" if server else None,
        },
        "delivery": {
            "telegram_global_per_second": 30 * scale,
            "telegram_private_per_second": 1 * scale,
            "telegram_group_per_minute": 18 * scale + 2,  # see tests: 20 at real limits
        },
        "organisations": [{"id": "bench", "name": "Banc d'essai"}],
        # Alerts come from many volunteers, each under the per-member limit (10 a minute).
        "members": [
            *(
                {"platform": "console", "user": f"bench-{n}", "organisation": "bench"}
                | {"role": "admin"}
                for n in range(MEMBERS)
            ),
            {"platform": "telegram", "user": str(FLOODER), "organisation": "bench"},
        ],
        "channels": [
            {
                "id": "idle",
                "platform": "telegram",
                "address": str(IDLE_CHAT),
                "organisation": "bench",
                "min_urgency": "info",
                "borders": ["manche"],
            }
        ]
        + [
            {
                "id": f"g{index}",
                "platform": "telegram",
                "address": str(chat_id(index)),
                "organisation": "bench",
                "min_urgency": "info",
                "borders": ["franco-italienne", "franco-espagnole"]
                if index < VITAL_CHANNELS
                else ["franco-italienne"],
            }
            for index in range(channels)
        ],
    }
    if server is None:
        raw.pop("telegram")
    raw["telegram"] = {k: v for k, v in raw.get("telegram", {}).items() if v is not None}
    return LoadedConfig(
        settings=build_settings(raw, "bench"),
        secrets=Secrets(telegram_token=server.token if server else None),
        source="bench",
        embedded=False,
    )


def inbound(text: str, number: int) -> InboundMessage:
    return InboundMessage(
        platform="console",
        update_id=f"bench-{time.time_ns()}-{number}",
        chat="bench",
        chat_type="private",
        sender=f"bench-{number % MEMBERS}",
        text=text,
    )


async def sent_count(
    wiring: Wiring, fact_type: str = "alert", priority: int | None = None, address: str = ""
) -> int:
    conditions = [
        Delivery.status == "sent",
        Delivery.platform == "telegram",
        Delivery.fact_type == fact_type,
    ]
    if priority is not None:
        conditions.append(Delivery.priority == priority)
    if address:
        conditions.append(Delivery.address == address)
    async with wiring.database.sessions() as session:
        return int(
            await session.scalar(select(func.count()).select_from(Delivery).where(*conditions)) or 0
        )


async def fresh_url(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{folder}/bench-{time.time_ns()}.db"
    url = os.environ.get("TOCSIN_BENCH_DATABASE_URL") or os.environ.get("TOCSIN_TEST_DATABASE_URL")
    if not url:
        raise SystemExit("PostgreSQL figures need TOCSIN_BENCH_DATABASE_URL")
    url = await private_postgres_url(url)
    await reset_postgres(url)
    return url


async def fanout(channels: int, scale: float, folder: Path) -> dict[str, float]:
    with TelegramServerProcess(rate_scale=scale) as server:
        for index in range(channels):
            server.add_chat(chat_id(index), title=f"Groupe {index}")
        wiring = await build(
            make_config(await fresh_url("sqlite", folder), server, channels, scale),
            console_output=io.StringIO(),
        )
        async with RunningApp(wiring, settle=0.3):
            started = time.perf_counter()
            await wiring.router(inbound("/alert contrôle à Menton, 12 personnes !info", 0))
            while await sent_count(wiring) < channels:  # noqa: ASYNC110 (polls the DB)
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - started
        return fanout_figures(server, channels, scale, elapsed)


def fanout_figures(
    server: TelegramServerProcess, channels: int, scale: float, elapsed: float
) -> dict[str, float]:
    """What the server saw of a fan-out to groups 0…channels-1 of the Menton alert."""
    messages = server.sent()
    stats = server.stats()
    per_chat = Counter(m["chat_id"] for m in messages if "Menton" in (m.get("text") or ""))
    floor = channels / (30 * scale)
    sends = stats["sends_accepted"] + stats["too_many_requests"]
    return {
        "channels": channels,
        "seconds": elapsed,
        "floor": floor,
        "ratio": elapsed / floor,
        "429s": stats["too_many_requests"],
        "429_share": stats["too_many_requests"] / max(sends, 1),
        "lost": sum(1 for i in range(channels) if per_chat[chat_id(i)] == 0),
        "duplicated": sum(count - 1 for count in per_chat.values() if count > 1),
    }


async def ptb_rate_limiter(channels: int, scale: float) -> dict[str, float]:
    """The same fan-out sent by python-telegram-bot alone: every message handed to an
    ExtBot with AIORateLimiter at once, as its documentation suggests; a 429 is retried by
    the limiter itself."""
    # Imported here: SDK types stay out of the rest of the benchmark, as out of Tocsin.
    from telegram.ext import AIORateLimiter, ExtBot
    from telegram.request import HTTPXRequest

    with TelegramServerProcess(rate_scale=scale) as server:
        for index in range(channels):
            server.add_chat(chat_id(index), title=f"Groupe {index}")
        limiter: AIORateLimiter = AIORateLimiter(
            overall_max_rate=30 * scale,
            group_max_rate=20 * scale,
            max_retries=10,
        )
        bot = ExtBot(
            server.token,
            base_url=server.api_url,
            request=HTTPXRequest(connection_pool_size=64, pool_timeout=120),
            rate_limiter=limiter,
        )
        async with bot:
            started = time.perf_counter()
            results = await asyncio.gather(
                *(
                    bot.send_message(chat_id(index), "contrôle à Menton, 12 personnes")
                    for index in range(channels)
                ),
                return_exceptions=True,
            )
            elapsed = time.perf_counter() - started
        figures = fanout_figures(server, channels, scale, elapsed)
    figures["failed"] = sum(1 for result in results if isinstance(result, BaseException))
    return figures


async def latency(samples: int, folder: Path) -> dict[str, float]:
    with TelegramServerProcess(limits=False) as server:
        server.add_chat(chat_id(0), title="Groupe 0")
        # Limits off on both sides: this measures Tocsin's own path, not the pacing.
        wiring = await build(
            make_config(await fresh_url("sqlite", folder), server, 1, 1000.0),
            console_output=io.StringIO(),
        )
        timings: list[float] = []
        async with RunningApp(wiring, settle=0.3):
            for number in range(samples):
                started = time.perf_counter()
                await wiring.router(inbound(f"/alert latence {number} à Menton !info", number))
                # a blocking long poll of the server's control API: off the event loop
                await asyncio.to_thread(server.sent, chat_id(0), number + 1, 10)
                timings.append(time.perf_counter() - started)
    timings.sort()
    return {
        "samples": samples,
        "p50_ms": statistics.median(timings) * 1000,
        "p99_ms": timings[int(len(timings) * 0.99) - 1] * 1000,
    }


async def intake(
    kind: str, alerts: int, channels: int, burst: int, folder: Path
) -> dict[str, float]:
    """Alerts handed to the router `burst` at a time (1: one after the other; more: as a
    webhook's concurrent requests or a sync batch deliver them, which group commit
    handles in one transaction)."""
    wiring = await build(
        make_config(await fresh_url(kind, folder), None, channels, 1.0),
        console_output=io.StringIO(),
    )
    started = time.perf_counter()
    for first in range(0, alerts, burst):
        await asyncio.gather(
            *(
                wiring.router(inbound(f"/alert intake {number} à Menton !info", number))
                for number in range(first, min(first + burst, alerts))
            )
        )
    elapsed = time.perf_counter() - started
    async with wiring.database.sessions() as session:
        rows = await session.scalar(select(func.count()).select_from(Delivery))
    await wiring.database.close()
    return {
        "database": kind,
        "alerts": alerts,
        "burst": burst,
        "channels_each": channels,
        "alerts_per_s": alerts / elapsed,
        "deliveries_written": float(rows or 0),
    }


async def first_and_all(
    wiring: Wiring, text: str, deliveries: int, priority: int | None = None
) -> tuple[float, float]:
    """Raise the alert; seconds until its first and until all its deliveries were sent."""
    started = time.perf_counter()
    await wiring.router(inbound(text, 1))
    first = None
    while (done := await sent_count(wiring, priority=priority)) < deliveries:
        if first is None and done:
            first = time.perf_counter() - started
        await asyncio.sleep(0.005)
    all_done = time.perf_counter() - started
    return (first if first is not None else all_done), all_done


async def vital_during_backlog(channels: int, scale: float, folder: Path) -> dict[str, float]:
    with TelegramServerProcess(rate_scale=scale) as server:
        for index in range(channels):
            server.add_chat(chat_id(index), title=f"Groupe {index}")
        wiring = await build(
            make_config(await fresh_url("sqlite", folder), server, channels, scale),
            console_output=io.StringIO(),
        )
        now = wiring.clock.now()
        async with wiring.database.transaction() as session:
            for index in range(channels):
                wiring.outbox.enqueue(
                    session,
                    Target("telegram", str(chat_id(index)), f"g{index}"),
                    text_message(f"Annonce hebdomadaire {index}"),
                    fact=FactRef("feed_item", 1, "announcement"),
                    priority=0,
                    now=now,
                )
        async with RunningApp(wiring, settle=0.3):
            await asyncio.sleep(2.0 / scale)  # the backlog is draining
            backlog_sent = await sent_count(wiring, "feed_item")
            first, all_done = await first_and_all(
                wiring, "/alert personne en danger à Hendaye !vital", VITAL_CHANNELS
            )
    own_floor = VITAL_CHANNELS / (30 * scale)
    return {
        "backlog": channels,
        "backlog_sent_before": backlog_sent,
        "vital_channels": VITAL_CHANNELS,
        "first_s": first,
        "all_s": all_done,
        "own_floor_s": own_floor,
        "ratio": all_done / own_floor,
    }


async def urgent_behind(
    channels: int, scale: float, folder: Path, backlog: str
) -> dict[str, float]:
    """An urgent alert to every group, raised while `backlog` drains to the same groups:
    "normal" (a normal alert) or "announcements" (1,000 announcements)."""
    urgent = delivery_priority(Kind.ALERT, Urgency.URGENT)
    with TelegramServerProcess(rate_scale=scale) as server:
        for index in range(channels):
            server.add_chat(chat_id(index), title=f"Groupe {index}")
        server.add_chat(IDLE_CHAT, title="Manche")
        wiring = await build(
            make_config(await fresh_url("sqlite", folder), server, channels, scale),
            console_output=io.StringIO(),
        )
        if backlog == "announcements":
            async with wiring.database.transaction() as session:
                for index in range(1000):
                    wiring.outbox.enqueue(
                        session,
                        Target("telegram", str(chat_id(index % channels)), f"g{index % channels}"),
                        text_message(f"Annonce hebdomadaire {index}"),
                        fact=FactRef("feed_item", 1, "announcement"),
                        priority=0,
                        now=wiring.clock.now(),
                    )
        async with RunningApp(wiring, settle=0.3):
            if backlog == "normal":
                await wiring.router(inbound("/alert contrôle à Menton, 12 personnes", 0))
            await asyncio.sleep(2.0 / scale)  # the backlog is draining
            first, all_done = await first_and_all(
                wiring, "/alert personnes en danger à Vintimille !urgent", channels, urgent
            )
        stats = server.stats()
    own_floor = channels / (30 * scale)
    return {
        "backlog": backlog,
        "urgent_channels": channels,
        "first_s": first,
        "all_s": all_done,
        "own_floor_s": own_floor,
        "ratio": all_done / own_floor,
        "429s": stats["too_many_requests"],
    }


async def flood(alerts: int, seconds: float, scale: float, folder: Path) -> dict[str, float]:
    """One member's `alerts` /alert at Hendaye spread over `seconds` (scaled), each
    fanned out to the VITAL_CHANNELS groups of that border and answered in his private
    chat; a third of the way in, another member's /urgent there; then a normal alert at
    Calais, to an idle channel nobody floods."""
    channels = VITAL_CHANNELS * 2
    urgent = delivery_priority(Kind.ALERT, Urgency.URGENT)
    with TelegramServerProcess(rate_scale=scale) as server:
        for index in range(channels):
            server.add_chat(chat_id(index), title=f"Groupe {index}")
        server.add_chat(IDLE_CHAT, title="Manche")
        server.call("POST", "/users", user_id=FLOODER, first_name="Flood")
        # The flood measures the dispatcher: the per-member limit (which would refuse all
        # but 10 of these alerts at intake) is off here.
        config = make_config(
            await fresh_url("sqlite", folder), server, channels, scale, per_member_per_minute=0
        )
        wiring = await build(config, console_output=io.StringIO())
        span = seconds / scale
        urgent_at, idle_at = span / 3, span / 3 + 1.0 / scale
        async with RunningApp(wiring, settle=0.3):
            started = time.perf_counter()
            raised: dict[str, float] = {}
            first: dict[str, float] = {}
            for number in range(alerts):
                due = started + span * number / alerts
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                await wiring.router(
                    InboundMessage(
                        platform="telegram",
                        update_id=f"flood-{number}",
                        chat=str(FLOODER),
                        chat_type="private",
                        sender=str(FLOODER),
                        message_id=str(number + 1),
                        text=f"/alert contrôle numéro {number} à Hendaye",
                    )
                )
                elapsed = time.perf_counter() - started
                if "urgent" not in raised and elapsed >= urgent_at:
                    raised["urgent"] = time.perf_counter()
                    await wiring.router(inbound("/alert mineur en danger à Hendaye !urgent", 1))
                if "idle" not in raised and elapsed >= idle_at:
                    raised["idle"] = time.perf_counter()
                    await wiring.router(inbound("/alert contrôle à Calais", 2))
                for name in raised.keys() - first.keys():
                    if await arrived(wiring, name, urgent):
                        first[name] = time.perf_counter() - raised[name]
            while first.keys() != {"urgent", "idle"}:
                for name in raised.keys() - first.keys():
                    if await arrived(wiring, name, urgent):
                        first[name] = time.perf_counter() - raised[name]
                await asyncio.sleep(0.01)
            await asyncio.sleep(max(0.0, started + 1.3 * span - time.perf_counter()))
            sent = await sent_count(wiring)
            receipts = await sent_count(wiring, "notice", address=str(FLOODER))
            async with wiring.database.sessions() as session:
                written, left = (
                    await session.execute(
                        select(Delivery.created_at, Delivery.sent_at).where(
                            Delivery.address == str(IDLE_CHAT)
                        )
                    )
                ).one()
        stats = server.stats()
        sends = stats["sends_accepted"] + stats["too_many_requests"]
    return {
        "flood_alerts": alerts,
        "over_s": span,
        "groups_flooded": VITAL_CHANNELS,
        "urgent_first_s": first["urgent"],
        "idle_first_s": first["idle"],
        "idle_outbox_s": (left - written).total_seconds(),
        "alert_sends": sent,
        "private_sends": receipts,
        "sends": sends,
        "429s": stats["too_many_requests"],
        "429s_private": stats["per_chat_429"].get(str(FLOODER), 0),
        "429_share": stats["too_many_requests"] / max(sends, 1),
    }


async def arrived(wiring: Wiring, name: str, urgent: int) -> bool:
    if name == "urgent":
        return await sent_count(wiring, priority=urgent) > 0
    return await sent_count(wiring, address=str(IDLE_CHAT)) > 0


def machine_reference() -> dict[str, float]:
    """A fixed workload (Python and SQLite, no Tocsin code), so figures taken on different
    days or machines can be compared: the shared CI machine's speed varies a lot."""
    started = time.perf_counter()
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT)")
    for number in range(20_000):
        payload = json.dumps({"text": f"alerte {number}", "themes": ["mineurs", "refoulement"]})
        connection.execute("INSERT INTO t (payload) VALUES (?)", (payload,))
        if number % 10 == 0:
            connection.commit()
    connection.close()
    return {"reference_ms": (time.perf_counter() - started) * 1000}


def show(title: str, figures: dict[str, Any]) -> None:
    parts = [f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()]
    print(f"{title}: " + " ".join(parts), flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--rate-scale", type=float, default=1.0)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--intake-alerts", type=int, default=1000)
    parser.add_argument("--intake-channels", type=int, default=5)
    parser.add_argument("--intake-burst", type=int, default=10)
    parser.add_argument(
        "--only", choices=["fanout", "latency", "intake", "vital", "preempt", "flood", "ptb"]
    )
    args = parser.parse_args()
    show("machine", machine_reference())
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        if args.only in (None, "fanout"):
            show("fanout", await fanout(args.channels, args.rate_scale, folder))
        if args.only in (None, "latency"):
            show("latency", await latency(args.latency_samples, folder))
        if args.only in (None, "intake"):
            kinds = ["sqlite"]
            if os.environ.get("TOCSIN_BENCH_DATABASE_URL") or os.environ.get(
                "TOCSIN_TEST_DATABASE_URL"
            ):
                kinds.append("postgresql")
            for kind in kinds:
                for burst in sorted({1, args.intake_burst}):
                    figures = await intake(
                        kind, args.intake_alerts, args.intake_channels, burst, folder
                    )
                    show("intake", figures)
        if args.only in (None, "vital"):
            show("vital", await vital_during_backlog(args.channels, args.rate_scale, folder))
        if args.only in (None, "preempt"):
            for backlog in ("normal", "announcements"):
                figures = await urgent_behind(args.channels, args.rate_scale, folder, backlog)
                show("urgent_behind", figures)
        if args.only in (None, "flood"):
            show("flood", await flood(300, 30.0, args.rate_scale, folder))
        if args.only in (None, "ptb"):
            show("ptb_aioratelimiter", await ptb_rate_limiter(args.channels, args.rate_scale))


if __name__ == "__main__":
    asyncio.run(main())
