"""Mobilisation benchmark: prints figures, asserts nothing.

    python bench/mobilise.py                     # 200 channels, 500 answers in 10 s
    python bench/mobilise.py --channels 50 --answers 100

Everything runs on loopback: Tocsin in this process (SQLite, the system clock), the
project's Bot API test server in another under Telegram's real limits (30 msg/s overall,
20 msg/min per group), python-telegram-bot talking to it over real HTTP. The answers are
handed to the router as the Telegram relay hands over button presses, spread over the
burst; an urgent alert to the same channels is raised in the middle of it.

Figures: when every copy shows the final count after the last answer, against the target
(`edit_every` + the floor of one edit to every copy at 30/s); edits per copy (all, and
the most within any `edit_every` window); 429s; the urgent alert's first delivery.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from alerts.messages import ButtonPress, InboundMessage, OutboundMessage
from bot.app import Wiring, build
from config.loader import LoadedConfig, Secrets, build_settings
from storage.models import Alert, Delivery
from tests.support.running import RunningApp
from tests.support.telegram_process import TelegramServerProcess

GROUP_BASE = -1002100000000
COORDINATOR = 5_999_999
MEMBER_BASE = 6_000_000
EDIT_EVERY = 5.0
FINAL = "complet"


def chat_id(index: int) -> int:
    return GROUP_BASE - index


def make_config(
    url: str, server: TelegramServerProcess, channels: int, answers: int
) -> LoadedConfig:
    def member(
        user: int | str, role: str = "observer", platform: str = "telegram"
    ) -> dict[str, str]:
        return {"platform": platform, "user": str(user), "organisation": "bench", "role": role}

    raw: dict[str, Any] = {
        "storage": {"url": url},
        "telegram": {"base_url": server.api_url},
        "delivery": {"telegram_group_per_minute": 20},
        "alerts": {"per_member_per_minute": 0},
        "mobilisations": {"edit_every": f"{int(EDIT_EVERY)}s"},
        "organisations": [{"id": "bench", "name": "Banc d'essai"}],
        "members": [
            member(COORDINATOR, "coordinator"),
            member("urgent", "observer", "console"),
            *(member(MEMBER_BASE + n) for n in range(answers)),
        ],
        "channels": [
            {
                "id": f"g{index}",
                "platform": "telegram",
                "address": str(chat_id(index)),
                "organisation": "bench",
                "borders": ["franco-espagnole"],
                "min_urgency": "info",
            }
            for index in range(channels)
        ],
    }
    return LoadedConfig(
        settings=build_settings(raw, "bench"),
        secrets=Secrets(telegram_token=server.token),
        source="bench",
        embedded=False,
    )


def press(number: int, channels: int, data: str) -> InboundMessage:
    update = f"press-{number}"
    return InboundMessage(
        platform="telegram",
        update_id=update,
        chat=str(chat_id(number % channels)),
        chat_type="group",
        sender=str(MEMBER_BASE + number),
        button=ButtonPress(data=data, press_id=update),
    )


async def rows(wiring: Wiring, alert_id: int) -> list[Delivery]:
    async with wiring.database.sessions() as session:
        found = await session.scalars(
            select(Delivery).where(Delivery.fact_type == "alert", Delivery.fact_id == alert_id)
        )
        return list(found)


async def wait_copies_sent(wiring: Wiring, channels: int) -> None:
    while True:
        copies = [r for r in await rows(wiring, 1) if r.edit_of_delivery_id is None]
        if sum(r.status == "sent" for r in copies) >= channels:
            return
        await asyncio.sleep(0.1)


async def final_everywhere(wiring: Wiring, channels: int) -> datetime:
    """When the last copy's newest sent edit showed the final count."""
    while True:
        latest: dict[int, Delivery] = {}
        for row in await rows(wiring, 1):
            if row.edit_of_delivery_id is None or row.status != "sent" or row.sent_at is None:
                continue
            known = latest.get(row.edit_of_delivery_id)
            if known is None or (known.sent_at or row.sent_at) <= row.sent_at:
                latest[row.edit_of_delivery_id] = row
        shown = [r for r in latest.values() if FINAL in OutboundMessage.from_json(r.payload).plain]
        if len(shown) >= channels:
            return max(r.sent_at for r in shown if r.sent_at is not None)
        await asyncio.sleep(0.2)


async def urgent_first_delivery(wiring: Wiring, started: float) -> float:
    while True:
        async with wiring.database.sessions() as session:
            alert_id = await session.scalar(select(Alert.id).where(Alert.kind == "alert"))
            sent = (
                await session.scalar(
                    select(Delivery.id).where(
                        Delivery.fact_type == "alert",
                        Delivery.fact_id == alert_id,
                        Delivery.status == "sent",
                    )
                )
                if alert_id
                else None
            )
        if sent is not None:
            return time.perf_counter() - started
        await asyncio.sleep(0.01)


def edit_figures(edits: list[Delivery]) -> tuple[int, float, int]:
    """Most edits of one copy, the mean, and the most of one copy within a window."""
    per_copy: dict[int, list[datetime]] = defaultdict(list)
    for row in edits:
        if row.edit_of_delivery_id is not None and row.sent_at is not None:
            per_copy[row.edit_of_delivery_id].append(row.sent_at)
    window = timedelta(seconds=EDIT_EVERY)
    most_in_window = 0
    for moments in per_copy.values():
        moments.sort()
        for index, start in enumerate(moments):
            inside = sum(1 for m in moments[index:] if m - start < window)
            most_in_window = max(most_in_window, inside)
    counts = [len(m) for m in per_copy.values()] or [0]
    return max(counts), sum(counts) / len(counts), most_in_window


def said(platform: str, user: str, text: str) -> InboundMessage:
    """A message in the member's private chat."""
    return InboundMessage(
        platform=platform,
        update_id=f"said-{time.time_ns()}",
        chat=user,
        chat_type="private",
        sender=user,
        text=text,
    )


async def burst(
    wiring: Wiring, channels: int, answers: int, seconds: float, urgent_alert: bool
) -> asyncio.Task[float] | None:
    """The answers handed to the router a round a second (80 % observers, the rest
    interpreters), the urgent alert raised after the middle round."""
    rounds = int(seconds)
    per_round = answers // rounds
    observers = answers - answers // 5
    urgent: asyncio.Task[float] | None = None
    started = time.perf_counter()
    for number in range(rounds):
        first = number * per_round
        last = answers if number == rounds - 1 else first + per_round
        await asyncio.gather(
            *(
                wiring.router(
                    press(n, channels, f"mb:1:g:{'observers' if n < observers else 'interpreter'}")
                )
                for n in range(first, last)
            )
        )
        if urgent_alert and number == rounds // 2:
            raised = time.perf_counter()
            await wiring.router(
                said("console", "urgent", "/urgent 3 personnes bloquées au col d'Ibardin, Hendaye")
            )
            urgent = asyncio.create_task(urgent_first_delivery(wiring, raised))
        await asyncio.sleep(max(0.0, started + number + 1 - time.perf_counter()))
    return urgent


async def run(channels: int, answers: int, seconds: float, urgent_alert: bool) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="tocsin-bench-mobilise-"))
    with TelegramServerProcess() as server:
        server.call("POST", "/users", user_id=COORDINATOR, first_name="Coord")
        for index in range(channels):
            server.add_chat(chat_id(index), title=f"Groupe {index}")
        url = f"sqlite+aiosqlite:///{folder}/bench.db"
        wiring = await build(
            make_config(url, server, channels, answers), console_output=io.StringIO()
        )
        async with RunningApp(wiring, receive=True, settle=0.5):
            observers, interpreters = answers - answers // 5, answers // 5
            call = f"/mobilise {observers} observateurs, {interpreters} interprètes gare d'Hendaye"
            await wiring.router(said("telegram", str(COORDINATOR), call))
            await wait_copies_sent(wiring, channels)
            server.call("POST", "/reset_counters")
            urgent = await burst(wiring, channels, answers, seconds, urgent_alert)
            last_answer = wiring.clock.now()
            final = await final_everywhere(wiring, channels)
            urgent_seconds = await urgent if urgent is not None else float("nan")
            edits = [r for r in await rows(wiring, 1) if r.edit_of_delivery_id is not None]
            stats = server.stats()
    most, mean, in_window = edit_figures(edits)
    return {
        "channels": channels,
        "answers": answers,
        "burst_seconds": seconds,
        "final_after_last_answer_s": (final - last_answer).total_seconds(),
        "target_s": EDIT_EVERY + channels / 30,
        "edits_per_copy_max": most,
        "edits_per_copy_mean": mean,
        "edits_per_copy_most_in_one_window": in_window,
        "429s": stats["too_many_requests"],
        "429s_in_private_chats": sum(
            count for chat, count in stats["per_chat_429"].items() if int(chat) > 0
        ),
        "edit_requests": stats["requests"].get("editmessagetext", 0),
        "messages_sent_during_burst": stats["sends_accepted"],  # edits not counted
        "urgent_first_delivery_s": urgent_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--answers", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-urgent", action="store_true", help="no urgent alert in the burst")
    options = parser.parse_args()
    figures = asyncio.run(
        run(options.channels, options.answers, options.seconds, not options.no_urgent)
    )
    for name, value in figures.items():
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        print(f"{name:38} {shown}")


if __name__ == "__main__":
    main()
