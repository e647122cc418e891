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
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from alerts.messages import InboundMessage, text_message
from alerts.outbox import FactRef, Target
from alerts.types import Kind, Urgency, delivery_priority
from bench.fanout_setup import (
    FLOODER,
    IDLE_CHAT,
    VITAL_CHANNELS,
    chat_id,
    fresh_url,
    groups_app,
    inbound,
    machine_reference,
    make_config,
    sent_count,
    show,
)
from bot.app import Wiring, build
from storage.models import Delivery
from tests.support.running import RunningApp
from tests.support.telegram_process import TelegramServerProcess


async def fanout(channels: int, scale: float, folder: Path) -> dict[str, float]:
    with TelegramServerProcess(rate_scale=scale) as server:
        wiring = await groups_app(server, channels, scale, folder)
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
        wiring = await groups_app(server, channels, scale, folder)
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
        server.add_chat(IDLE_CHAT, title="Manche")
        wiring = await groups_app(server, channels, scale, folder)
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
        async with RunningApp(wiring, settle=0.3):
            started = time.perf_counter()
            first = await _raise_flood(wiring, alerts, span, 1.0 / scale)
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


async def _raise_flood(wiring: Wiring, alerts: int, span: float, second: float) -> dict[str, float]:
    """Raise the flood over `span` seconds, the urgent alert a third of the way in and the
    idle channel's alert one (scaled) `second` later; seconds from each of these two to
    its first delivery."""
    urgent = delivery_priority(Kind.ALERT, Urgency.URGENT)
    urgent_at, idle_at = span / 3, span / 3 + second
    started = time.perf_counter()
    raised: dict[str, float] = {}
    first: dict[str, float] = {}
    for number in range(alerts):
        due = started + span * number / alerts
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        await wiring.router(flood_message(number))
        elapsed = time.perf_counter() - started
        if "urgent" not in raised and elapsed >= urgent_at:
            raised["urgent"] = time.perf_counter()
            await wiring.router(inbound("/alert mineur en danger à Hendaye !urgent", 1))
        if "idle" not in raised and elapsed >= idle_at:
            raised["idle"] = time.perf_counter()
            await wiring.router(inbound("/alert contrôle à Calais", 2))
        await _note_arrivals(wiring, raised, first, urgent)
    while first.keys() != {"urgent", "idle"}:
        await _note_arrivals(wiring, raised, first, urgent)
        await asyncio.sleep(0.01)
    return first


def flood_message(number: int) -> InboundMessage:
    return InboundMessage(
        platform="telegram",
        update_id=f"flood-{number}",
        chat=str(FLOODER),
        chat_type="private",
        sender=str(FLOODER),
        message_id=str(number + 1),
        text=f"/alert contrôle numéro {number} à Hendaye",
    )


async def _note_arrivals(
    wiring: Wiring, raised: dict[str, float], first: dict[str, float], urgent: int
) -> None:
    for name in raised.keys() - first.keys():
        if await arrived(wiring, name, urgent):
            first[name] = time.perf_counter() - raised[name]


async def arrived(wiring: Wiring, name: str, urgent: int) -> bool:
    if name == "urgent":
        return await sent_count(wiring, priority=urgent) > 0
    return await sent_count(wiring, address=str(IDLE_CHAT)) > 0


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
    parser.add_argument("--only", choices=list(_PARTS))
    args = parser.parse_args()
    show("machine", machine_reference())
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for part, run in _PARTS.items():
            if args.only in (None, part):
                await run(args, folder)


async def _intake_part(args: argparse.Namespace, folder: Path) -> None:
    kinds = ["sqlite"]
    if os.environ.get("TOCSIN_BENCH_DATABASE_URL") or os.environ.get("TOCSIN_TEST_DATABASE_URL"):
        kinds.append("postgresql")
    for kind in kinds:
        for burst in sorted({1, args.intake_burst}):
            figures = await intake(kind, args.intake_alerts, args.intake_channels, burst, folder)
            show("intake", figures)


async def _preempt_part(args: argparse.Namespace, folder: Path) -> None:
    for backlog in ("normal", "announcements"):
        figures = await urgent_behind(args.channels, args.rate_scale, folder, backlog)
        show("urgent_behind", figures)


async def _fanout_part(args: argparse.Namespace, folder: Path) -> None:
    show("fanout", await fanout(args.channels, args.rate_scale, folder))


async def _latency_part(args: argparse.Namespace, folder: Path) -> None:
    show("latency", await latency(args.latency_samples, folder))


async def _vital_part(args: argparse.Namespace, folder: Path) -> None:
    show("vital", await vital_during_backlog(args.channels, args.rate_scale, folder))


async def _flood_part(args: argparse.Namespace, folder: Path) -> None:
    show("flood", await flood(300, 30.0, args.rate_scale, folder))


async def _ptb_part(args: argparse.Namespace, _folder: Path) -> None:
    show("ptb_aioratelimiter", await ptb_rate_limiter(args.channels, args.rate_scale))


# The parts in the order they run (`--only` picks one).
_PARTS: dict[str, Callable[[argparse.Namespace, Path], Awaitable[None]]] = {
    "fanout": _fanout_part,
    "latency": _latency_part,
    "intake": _intake_part,
    "vital": _vital_part,
    "preempt": _preempt_part,
    "flood": _flood_part,
    "ptb": _ptb_part,
}


if __name__ == "__main__":
    asyncio.run(main())
