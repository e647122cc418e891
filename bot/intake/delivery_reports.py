"""Telling an alert's author when some channels could not be reached (once per new
failure, in the author's language, in a private chat with the bot)."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.clock import Clock
from alerts.i18n import Translator
from alerts.messages import text_message
from alerts.notices import private_address
from alerts.outbox import NOTICE, Outbox, Target
from alerts.types import NOTICE_PRIORITY
from storage import alert_queries, platform_state
from storage.database import Database

log = logging.getLogger(__name__)
_FAILED = ("dead", "cancelled")


class DeliveryReports:
    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        translate: Translator,
        outbox: Outbox,
        language: str = "fr",
        report_window: timedelta = timedelta(days=2),
    ) -> None:
        self._db = database
        self._clock = clock
        self._translate = translate
        self._outbox = outbox
        self._language = language
        self._report_window = report_window

    async def report_unreached_channels(self) -> None:
        now = self._clock.now()
        since = now - self._report_window
        async with self._db.transaction() as session:
            rows = await alert_queries.channel_outcomes_of_failing_alerts(
                session, since, failed=_FAILED
            )
            channels: dict[int, dict[str, bool]] = {}
            for alert_id, channel_id, status in rows:
                if alert_id is None or channel_id is None:
                    continue
                reached = channels.setdefault(alert_id, {})
                reached[channel_id] = reached.get(channel_id, True) and status not in _FAILED
            for alert_id, reached in sorted(channels.items()):
                await self._report(session, alert_id, reached)

    async def _report(self, session: AsyncSession, alert_id: int, reached: dict[str, bool]) -> None:
        failed = sorted(channel for channel, ok in reached.items() if not ok)
        told = await platform_state.unreached_told(session, alert_id)
        if told is not None and told >= len(failed):
            return
        now = self._clock.now()
        await platform_state.set_unreached_told(session, alert_id, len(failed), now)
        author = await alert_queries.alert_author(session, alert_id)
        if author is None:
            return
        address = await private_address(
            session, self._outbox.platforms, author.platform, author.user_ref
        )
        if address is None:
            return
        text = self._translate(
            author.language or self._language,
            "report.failed",
            id=alert_id,
            failed=len(failed),
            total=len(reached),
            channels=", ".join(failed),
        )
        self._outbox.enqueue(
            session,
            Target(author.platform, address),
            text_message(text),
            fact=NOTICE,
            priority=NOTICE_PRIORITY,
            now=now,
        )
        log.info("alert %s: author told that %d channel(s) were not reached", alert_id, len(failed))
