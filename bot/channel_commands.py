"""Managing the current chat as a channel from chat: subscriptions and silences.

`/subscribe <border|*> [themes…]`, `/unsubscribe [border]`, `/subscriptions`,
`/mute 2h`, `/unmute` — org-admin and above, on every platform.
"""

from __future__ import annotations

import difflib
import re

from alerts.channel_cache import ChannelCache
from alerts.routing import ALL, SubscriptionSpec
from alerts.types import Kind, Role, Urgency
from alerts.vocabulary import Vocabulary
from bot.context import Command, Request
from config.durations import format_duration, parse_duration
from storage import audit_queries, channel_queries, queries
from storage.models import Channel
from storage.outbox import release_held

TEXTS = {
    "fr": {
        "help.subscribe": "{prefix}subscribe <frontière|*> [thèmes…] [!urgent] — abonner ce canal",
        "help.unsubscribe": "{prefix}unsubscribe [frontière] — retirer les abonnements",
        "help.subscriptions": "{prefix}subscriptions — abonnements de ce canal",
        "help.mute": "{prefix}mute 2h / {prefix}unmute — mettre ce canal en sourdine",
        "sub.usage": "Usage : {prefix}subscribe <frontière|*> [thèmes…] [!urgent]. "
        "Exemple : {prefix}subscribe franco-italienne mineurs refoulement",
        "sub.unknown_border": "Frontière inconnue : « {value} »{hint}. Frontières : {known}.",
        "sub.unknown_theme": "Thème inconnu : « {value} »{hint}. Thèmes : {known}.",
        "sub.hint": " (vouliez-vous dire « {close} » ?)",
        "sub.done": "✅ Ce canal reçoit désormais : {spec}.",
        "sub.other_org": "Ce canal appartient à une autre organisation ({organisation}).",
        "sub.none": "Ce canal n'a aucun abonnement.",
        "sub.list": "Abonnements de ce canal ({channel}) :",
        "sub.removed": "Abonnement(s) retiré(s) : {count}.",
        "sub.config_kept": " {count} abonnement(s) viennent du fichier de configuration : "
        "demandez à l'opérateur·ice de les modifier.",
        "sub.not_channel": "Ce salon n'est pas un canal Tocsin. Utilisez {prefix}subscribe.",
        "mute.done": "🔕 Sourdine jusqu'à {until} UTC : seules les alertes vitales passent ; "
        "les autres attendent la fin de la sourdine.",
        "mute.usage": "Usage : {prefix}mute <durée> (ex. 30m, 2h, 1d).",
        "unmute.done": "🔔 Sourdine levée.",
        "spec": "{kinds} · frontières {borders} · thèmes {themes} · urgence ≥ {urgency}",
        "all": "toutes",
    },
    "en": {
        "help.subscribe": "{prefix}subscribe <border|*> [themes…] [!urgent] — subscribe this "
        "channel",
        "help.unsubscribe": "{prefix}unsubscribe [border] — remove subscriptions",
        "help.subscriptions": "{prefix}subscriptions — this channel's subscriptions",
        "help.mute": "{prefix}mute 2h / {prefix}unmute — silence this channel",
        "sub.usage": "Usage: {prefix}subscribe <border|*> [themes…] [!urgent]. "
        "Example: {prefix}subscribe franco-italienne mineurs refoulement",
        "sub.unknown_border": "Unknown border: “{value}”{hint}. Borders: {known}.",
        "sub.unknown_theme": "Unknown theme: “{value}”{hint}. Themes: {known}.",
        "sub.hint": " (did you mean “{close}”?)",
        "sub.done": "✅ This channel now receives: {spec}.",
        "sub.other_org": "This channel belongs to another organisation ({organisation}).",
        "sub.none": "This channel has no subscription.",
        "sub.list": "Subscriptions of this channel ({channel}):",
        "sub.removed": "Subscription(s) removed: {count}.",
        "sub.config_kept": " {count} subscription(s) come from the configuration file: ask "
        "the operator to change them.",
        "sub.not_channel": "This chat is not a Tocsin channel. Use {prefix}subscribe.",
        "mute.done": "🔕 Muted until {until} UTC: only vital alerts go through; the others "
        "wait for the end of the silence.",
        "mute.usage": "Usage: {prefix}mute <duration> (e.g. 30m, 2h, 1d).",
        "unmute.done": "🔔 Unmuted.",
        "spec": "{kinds} · borders {borders} · themes {themes} · urgency ≥ {urgency}",
        "all": "all",
    },
}

_URGENCY = re.compile(r"^!(info|normal|urgent|vital)$", re.IGNORECASE)


def _urgency_and_labels(words: list[str]) -> tuple[Urgency, list[str]]:
    """`!urgent`-style words set the least urgency (the last one wins); the rest are labels."""
    urgency = Urgency.NORMAL
    labels = []
    for word in words:
        match = _URGENCY.match(word)
        if match:
            urgency = Urgency(match.group(1).lower())
        else:
            labels.append(word)
    return urgency, labels


class ChannelCommands:
    def __init__(self, *, vocabulary: Vocabulary, directory: ChannelCache) -> None:
        self._vocabulary = vocabulary
        self._directory = directory

    def commands(self) -> list[Command]:
        return [
            Command(
                "subscribe", self.subscribe, Role.ORG_ADMIN, "help.subscribe", aliases=("abonner",)
            ),
            Command(
                "unsubscribe",
                self.unsubscribe,
                Role.ORG_ADMIN,
                "help.unsubscribe",
                aliases=("desabonner",),
            ),
            Command(
                "subscriptions",
                self.subscriptions,
                Role.ORG_ADMIN,
                "help.subscriptions",
                aliases=("abonnements",),
            ),
            Command("mute", self.mute, Role.ORG_ADMIN, "help.mute", aliases=("sourdine",)),
            Command("unmute", self.unmute, Role.ORG_ADMIN),
        ]

    async def _channel(self, request: Request) -> Channel | None:
        inbound = request.inbound
        return await channel_queries.channel_at(request.session, inbound.platform, inbound.chat)

    async def _managed_channel(self, request: Request) -> Channel | None:
        """The current chat's channel if the member may manage it; otherwise say why."""
        channel = await self._channel(request)
        if channel is None:
            request.reply(request.t("sub.not_channel"))
            return None
        return channel if self._may_manage(request, channel) else None

    def _may_manage(self, request: Request, channel: Channel) -> bool:
        member = request.known_member
        if Role(member.role) is Role.ADMIN or channel.organisation_id == member.organisation_id:
            return True
        request.reply(request.t("sub.other_org", organisation=channel.organisation_id))
        return False

    async def subscribe(self, request: Request) -> None:
        urgency, labels = _urgency_and_labels(request.args.split())
        if not labels:
            request.reply(request.t("sub.usage"))
            return
        chosen = self._border_and_themes(request, labels[0], labels[1:])
        if chosen is None:
            return
        border_id, themes = chosen
        channel = await self._channel_to_subscribe(request)
        if channel is None:
            return
        channel.active, channel.inactive_reason = True, None
        spec = SubscriptionSpec(
            kinds=frozenset(Kind),
            borders=frozenset({border_id}),
            themes=frozenset(themes or [ALL]),
            min_urgency=urgency,
        )
        channel_queries.add_subscription(request.session, channel.id, spec.to_json(), "chat")
        self._directory.changed_in(request.session)
        _audit(request, "subscription.changed", channel, f"{channel.id} +{border_id}")
        request.reply(request.t("sub.done", spec=self._describe(request, spec)))

    def _border_and_themes(
        self, request: Request, border_label: str, theme_labels: list[str]
    ) -> tuple[str, list[str]] | None:
        """The border and theme ids the labels name; None once an unknown one is answered."""
        if border_label == ALL:
            border_id = ALL
        else:
            border = self._vocabulary.border_by_label(border_label)
            if border is None:
                self._unknown(
                    request,
                    "sub.unknown_border",
                    border_label,
                    [b.id for b in self._vocabulary.borders],
                )
                return None
            border_id = border.id
        themes: list[str] = []
        for label in theme_labels:
            theme = self._vocabulary.theme_by_label(label)
            if theme is None:
                self._unknown(
                    request, "sub.unknown_theme", label, [t.id for t in self._vocabulary.themes]
                )
                return None
            themes.append(theme.id)
        return border_id, themes

    async def _channel_to_subscribe(self, request: Request) -> Channel | None:
        """This chat's channel, made on its first subscription; None (answered) when the
        member may not manage it."""
        channel = await self._channel(request)
        member = request.known_member
        if channel is None:
            channel = Channel(
                id=_channel_id(request.inbound.platform, request.inbound.chat),
                platform=request.inbound.platform,
                address=request.inbound.chat,
                organisation_id=member.organisation_id,
                language=request.language,
                timezone="Europe/Paris",
                share_locations=False,
                active=True,
                source="chat",
                created_at=request.now,
            )
            await channel_queries.add_channel(request.session, channel)
        elif not self._may_manage(request, channel):
            return None
        return channel

    def _unknown(self, request: Request, key: str, value: str, known: list[str]) -> None:
        close = difflib.get_close_matches(value.lstrip("#").lower(), known, n=1, cutoff=0.6)
        hint = request.t("sub.hint", close=close[0]) if close else ""
        request.reply(request.t(key, value=value, hint=hint, known=", ".join(known)))

    def _describe(self, request: Request, spec: SubscriptionSpec) -> str:
        every = request.t("all")
        kinds = ", ".join(request.t(f"kind.{kind.value}") for kind in Kind if kind in spec.kinds)
        return request.t(
            "spec",
            kinds=kinds,
            borders=every if ALL in spec.borders else ", ".join(sorted(spec.borders)),
            themes=every if ALL in spec.themes else ", ".join(sorted(spec.themes)),
            urgency=spec.min_urgency.value,
        )

    async def subscriptions(self, request: Request) -> None:
        channel = await self._channel(request)
        if channel is None:
            request.reply(request.t("sub.not_channel"))
            return
        rows = await queries.subscriptions_of(request.session, [channel.id])
        if not rows:
            request.reply(request.t("sub.none"))
            return
        lines = [request.t("sub.list", channel=channel.id)]
        for row in rows:
            try:
                lines.append(
                    f"• {self._describe(request, SubscriptionSpec.from_json(row.spec))}"
                    f" ({row.source})"
                )
            except (ValueError, KeyError, TypeError):
                lines.append(f"• #{row.id}: ?")
        request.reply("\n".join(lines))

    async def unsubscribe(self, request: Request) -> None:
        channel = await self._managed_channel(request)
        if channel is None:
            return
        wanted = request.args.strip()
        border = self._vocabulary.border_by_label(wanted) if wanted and wanted != ALL else None
        rows = await queries.subscriptions_of(request.session, [channel.id])
        removed, from_config = 0, 0
        for row in rows:
            if row.source == "config":
                from_config += 1
                continue
            if wanted and wanted != ALL:
                try:
                    borders = SubscriptionSpec.from_json(row.spec).borders
                except (ValueError, KeyError, TypeError):
                    borders = frozenset()
                if border is None or border.id not in borders:
                    continue
            await channel_queries.delete_subscription(request.session, row.id)
            removed += 1
        self._directory.changed_in(request.session)
        if removed:
            _audit(request, "subscription.changed", channel, f"{channel.id} -{removed}")
        text = request.t("sub.removed", count=removed)
        if from_config:
            text += request.t("sub.config_kept", count=from_config)
        request.reply(text)

    async def mute(self, request: Request) -> None:
        channel = await self._managed_channel(request)
        if channel is None:
            return
        try:
            duration = parse_duration(request.args.strip() or "x")
        except ValueError:
            request.reply(request.t("mute.usage"))
            return
        self._directory.changed_in(request.session)
        channel.muted_until = request.now + duration
        _audit(request, "channel.muted", channel, f"{channel.id} {format_duration(duration)}")
        until = channel.muted_until.strftime("%Y-%m-%d %H:%M")
        request.reply(request.t("mute.done", until=until, duration=format_duration(duration)))

    async def unmute(self, request: Request) -> None:
        channel = await self._managed_channel(request)
        if channel is None:
            return
        self._directory.changed_in(request.session)
        channel.muted_until = None
        _audit(request, "channel.unmuted", channel, channel.id)
        request.reply(request.t("unmute.done"))
        # Deliveries held by the silence become due now.
        await release_held(request.session, (channel.platform, channel.address), request.now)


def _audit(request: Request, action: str, channel: Channel, detail: str) -> None:
    """The audit log (people, issue #15): who changed which channel; no text."""
    audit_queries.record(
        request.session,
        action=action,
        actor_member_id=request.member.id if request.member else None,
        organisation_id=channel.organisation_id,
        at=request.now,
        detail=detail,
    )


def _channel_id(platform: str, address: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", address.lower()).strip("-")[:48] or "chat"
    return f"{platform[:2]}-{slug}"
