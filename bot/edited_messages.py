"""A member's edited message, and the alert (or call) it had raised: what both the alert
corrections and the refusal to correct a call start from."""

from __future__ import annotations

from bot.context import Request
from storage import alert_queries
from storage.models import Alert


def is_member_edit(request: Request) -> bool:
    inbound = request.inbound
    return inbound.edited and inbound.event == "message" and request.member is not None


async def alert_raised_by(request: Request) -> Alert | None:
    """The alert the edited message had raised, if any."""
    inbound = request.inbound
    return await alert_queries.alert_from_message(
        request.session, inbound.platform, inbound.chat, inbound.message_id
    )
