"""An edited message that had raised a call: the call is not corrected (its copies carry
a live count and answers that an alert correction would wipe); the author is told how to
correct it instead. Ahead of the alert corrections in the router's fallbacks."""

from __future__ import annotations

from bot.context import Fallback, Request
from bot.edited_messages import alert_raised_by, is_member_edit


class EditedCall(Fallback):
    async def handle(self, request: Request) -> bool:
        if not is_member_edit(request):
            return False
        alert = await alert_raised_by(request)
        if alert is None or alert.kind != "mobilisation":
            return False
        request.reply(request.t("mob.edit_refused", id=alert.id))
        return True
