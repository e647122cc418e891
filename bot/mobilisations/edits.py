"""An edited message that had raised a call: the call is not corrected (its copies carry
a live count and answers that an alert correction would wipe); the author is told how to
correct it instead. Ahead of the alert corrections in the router's fallbacks."""

from __future__ import annotations

from bot.context import Fallback, Request
from storage import alert_queries


class EditedCall(Fallback):
    async def handle(self, request: Request) -> bool:
        inbound = request.inbound
        if not inbound.edited or inbound.event != "message" or request.member is None:
            return False
        alert = await alert_queries.alert_from_message(
            request.session, inbound.platform, inbound.chat, inbound.message_id
        )
        if alert is None or alert.kind != "mobilisation":
            return False
        request.reply(request.t("mob.edit_refused", id=alert.id))
        return True
