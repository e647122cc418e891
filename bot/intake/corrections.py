"""An edited message that had raised an alert: a correction of that alert's text, people
and place, applied to the relayed copies (edits) within the grouping window — or a note
saying why it was not applied. Border, themes and urgency stay: they chose the channels.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from alerts.outbox import FactRef, Target
from alerts.parsing import AlertInputError, place_key
from alerts.rendering import AlertRenderer
from alerts.stored_views import alert_view
from alerts.types import Kind, Urgency, delivery_priority
from bot.context import Fallback, Request
from bot.edited_messages import alert_raised_by, is_member_edit
from bot.intake.reading import LineReader
from storage import alert_queries, channel_queries
from storage.models import Alert, Delivery

log = logging.getLogger(__name__)
_COMMAND = re.compile(r"^[/!][A-Za-z_]+(?:@\S+)?\s*")


class AlertCorrections(Fallback):
    def __init__(
        self,
        *,
        renderer: AlertRenderer,
        reader: LineReader,
        window: timedelta,
    ) -> None:
        self._renderer = renderer
        self._reader = reader
        self._window = window

    async def handle(self, request: Request) -> bool:
        inbound = request.inbound
        if not is_member_edit(request):
            return False
        alert = await alert_raised_by(request)
        if alert is None:
            if inbound.chat_type == "private":
                request.reply(request.t("edit.ignored"))
            return True  # an edit is never a new command or a new alert
        if request.now - alert.created_at > self._window:
            minutes = int(self._window.total_seconds() // 60)
            request.reply(request.t("edit.too_late", id=alert.id, minutes=minutes))
            return True
        await self._correct(request, alert)
        return True

    async def _correct(self, request: Request, alert: Alert) -> None:
        text = _COMMAND.sub("", request.inbound.text, count=1)
        try:
            draft = self._reader.parse(text, kind=Kind(alert.kind))
        except AlertInputError as error:
            reason = request.t(f"error.{error.code}", **error.params)
            request.reply(request.t("edit.invalid", id=alert.id, error=reason))
            return
        if draft.border_choices or (draft.border and draft.border != alert.border):
            request.reply(request.t("edit.border_changed", id=alert.id))
            return
        alert.text = draft.text
        alert.people = draft.people
        alert.minors = draft.minors
        if draft.place:
            alert.place, alert.place_key = draft.place, place_key(draft.place, alert.border)
        alert.updated_at = request.now
        edited, skipped = await self._edit_copies(request, alert)
        log.info("%s: alert %s corrected (%d copies)", request.inbound.platform, alert.id, edited)
        reply = request.t("edit.applied", id=alert.id, count=edited)
        if skipped:
            reply += request.t("edit.partly", skipped=skipped)
        request.reply(reply)

    async def _edit_copies(self, request: Request, alert: Alert) -> tuple[int, int]:
        session = request.session
        rows = await alert_queries.editable_copies(session, alert.id)
        by_chat: dict[tuple[str, str], list[Delivery]] = {}
        for row in rows:
            by_chat.setdefault((row.platform, row.address), []).append(row)
        view = await alert_view(session, alert)
        priority = delivery_priority(Kind(alert.kind), Urgency(alert.urgency))
        edited = skipped = 0
        for (platform, address), parts in by_chat.items():
            channel_id = parts[0].channel_id
            channel = await channel_queries.channel(session, channel_id) if channel_id else None
            if channel is None:
                continue
            message = self._renderer.render(view, channel.language, channel.share_locations)
            if len(parts) > 1 or len(request.outbox.split(message, platform)) > 1:
                skipped += 1  # one message cannot become several by an edit
                continue
            original = parts[0]
            request.outbox.enqueue(
                session,
                Target(platform, address, channel.id),
                message,
                fact=FactRef("alert", alert.id, alert.kind),
                priority=priority,  # same as the original, so never ahead of it in the chat
                now=request.now,
                deliver_at=original.next_attempt_at if original.status == "pending" else None,
                edit_of_delivery_id=original.id,
            )
            edited += 1
        return edited, skipped
