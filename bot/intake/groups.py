"""The bot added to (or removed from) a group.

Added by an org-admin, or to a group that already is a channel: a short hello. Added by
anyone else: the bot explains itself and starts a timer; `UnclaimedGroups` makes it leave if
nobody authorised claims the group (`/subscribe` creates its channel) in time. The timer
is a `platform_state` row, so a restart keeps it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from alerts.types import Role
from bot.context import Fallback, Request
from storage import channel_queries, platform_state

log = logging.getLogger(__name__)


class GroupMembership(Fallback):
    def __init__(self, *, unclaimed_timeout: timedelta) -> None:
        self._timeout = unclaimed_timeout

    async def handle(self, request: Request) -> bool:
        inbound = request.inbound
        if inbound.event == "left_group":
            await platform_state.forget_unclaimed(request.session, inbound.platform, inbound.chat)
            log.info("%s: the bot left or was removed from a group", inbound.platform)
            return True
        if inbound.event != "joined_group":
            return False
        role = request.role
        if (
            role is not None and role.at_least(Role.ORG_ADMIN)
        ) or await channel_queries.chat_has_channel(
            request.session, inbound.platform, inbound.chat
        ):
            request.reply(request.t("group.hello_member"))
            return True
        deadline = request.now + self._timeout
        await platform_state.set_unclaimed(
            request.session, inbound.platform, inbound.chat, deadline, request.now
        )
        log.info("%s: added to a group by a non-admin; leaving unless claimed", inbound.platform)
        minutes = max(1, int(self._timeout.total_seconds() // 60))
        request.reply(request.t("group.hello_stranger", minutes=minutes))
        return True
