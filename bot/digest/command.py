"""`/digest [7d]` in a channel: that channel's digest of the last days, previewed in the
chat (org-admin and above). Nothing is recorded and no other channel gets anything."""

from __future__ import annotations

from datetime import timedelta

from alerts.channel_cache import ChannelCache
from alerts.digest.audience import select_view
from alerts.digest.gather import gather
from alerts.digest.model import Period
from alerts.types import Role
from bot.config_sync import REMOVED
from bot.context import Command, Request
from bot.digest.service import DigestService, audience_of
from config.durations import parse_duration

MAX_SINCE = timedelta(days=366)


def since_of(text: str, default: timedelta) -> timedelta:
    """`7d`, `48h` … (ValueError otherwise), at most a year."""
    if not text.strip():
        return default
    try:
        value = parse_duration(text)
    except OverflowError:
        raise ValueError(text) from None
    return min(value, MAX_SINCE)


class DigestCommand:
    def __init__(self, service: DigestService, directory: ChannelCache) -> None:
        self._service = service
        self._directory = directory

    def commands(self) -> list[Command]:
        return [Command("digest", self.preview, min_role=Role.ORG_ADMIN, help_key="help.digest")]

    async def preview(self, request: Request) -> None:
        inbound = request.inbound
        try:
            since = since_of(request.args, self._service.period)
        except ValueError:
            request.reply(request.t("digest.command.bad_since", value=request.args.strip()[:40]))
            return
        targets = await self._directory.targets(request.session)
        target = next(
            (t for t in targets if t.platform == inbound.platform and t.address == inbound.chat),
            None,
        )
        if target is None:
            request.reply(request.t("digest.command.not_channel"))
            return
        audience = audience_of(target)
        if audience is None:
            request.reply(request.t("digest.command.not_subscribed"))
            return
        period = Period(request.now - since, request.now, self._service.timezone)
        facts = await gather(request.session, period, removed_reason=REMOVED)
        request.reply(request.t("digest.command.preview"))
        view = select_view(facts, audience)
        request.reply(self._service.render(view, target.language))
