"""Accepting an alert or a mobilisation: store the fact, group it, route it, and write
its deliveries — all inside the caller's transaction."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.channel_cache import ChannelCache
from alerts.clock import Clock
from alerts.messages import Location, OutboundMessage, PhotoRef
from alerts.metrics import Metrics, NoMetrics
from alerts.outbox import FactRef, Outbox, Target
from alerts.parsing import AlertDraft, place_key
from alerts.rendering import AlertRenderer, AlertView
from alerts.routing import ChannelTarget, RoutableFact, deliver_at, route
from alerts.types import Kind, delivery_priority
from storage import audit_queries, queries
from storage.after_commit import after_commit


@dataclass(frozen=True)
class Author:
    member_id: int
    organisation_id: str
    organisation_name: str


@dataclass(frozen=True)
class Origin:
    platform: str
    chat: str
    message_id: str | None = None


@dataclass(frozen=True)
class AcceptedAlert:
    alert_id: int
    kind: Kind
    channels: int
    held: int  # channels that get it later (quiet hours, silence)
    parent_id: int | None


class AlertService:
    def __init__(
        self,
        *,
        renderer: AlertRenderer,
        outbox: Outbox,
        directory: ChannelCache,
        clock: Clock,
        group_window: timedelta,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or NoMetrics()
        self._renderer = renderer
        self._outbox = outbox
        self._directory = directory
        self._clock = clock
        self._group_window = group_window

    async def raise_alert(
        self,
        session: AsyncSession,
        draft: AlertDraft,
        author: Author,
        origin: Origin,
        *,
        photo: PhotoRef | None = None,
        location: Location | None = None,
    ) -> AcceptedAlert:
        if draft.border is None:
            raise ValueError("an alert needs a border before it is raised")
        now = self._clock.now()
        key = place_key(draft.place, draft.border)
        parent_id = await self._group_parent(session, draft, key)
        alert_id = await queries.insert_alert(
            session, _alert_row(draft, author, origin, key, parent_id, now, photo, location)
        )
        audit_queries.record(  # the audit log: who raised what, never its text
            session,
            action="mobilisation.created" if draft.kind is Kind.MOBILISATION else "alert.raised",
            actor_member_id=author.member_id,
            organisation_id=author.organisation_id,
            at=now,
            detail=f"#{alert_id} {draft.urgency.value}",
        )
        view = AlertView(
            id=alert_id,
            kind=draft.kind,
            text=draft.text,
            urgency=draft.urgency,
            border=draft.border,
            place=draft.place,
            themes=draft.themes,
            people=draft.people,
            minors=draft.minors,
            organisation_name=author.organisation_name,
            parent_id=parent_id,
            location=location,
            photo=photo,
        )
        fact = RoutableFact(draft.kind, draft.border, frozenset(draft.themes), draft.urgency)
        channels = route(fact, await self._directory.targets(session))
        replies = await queries.first_parts_of(session, "alert", parent_id) if parent_id else {}
        held = self._enqueue_copies(session, view, fact, channels, replies, now)
        received = functools.partial(
            self._metrics.alert_received, origin.platform, draft.kind.value
        )
        after_commit(session.sync_session, received)
        return AcceptedAlert(alert_id, draft.kind, len(channels), held, parent_id)

    def _enqueue_copies(
        self,
        session: AsyncSession,
        view: AlertView,
        fact: RoutableFact,
        channels: list[ChannelTarget],
        replies: Mapping[tuple[str, str], int],
        now: datetime,
    ) -> int:
        """One outbox row per channel, rendered once per language and location choice;
        returns how many are held (quiet hours, silence)."""
        priority = delivery_priority(view.kind, view.urgency)
        rendered: dict[tuple[str, bool], OutboundMessage] = {}
        held = 0
        for channel in channels:
            shares = channel.share_locations and view.location is not None
            cache_key = (channel.language, shares)
            message = rendered.get(cache_key)
            if message is None:
                message = self._renderer.render(view, channel.language, shares)
                rendered[cache_key] = message
            at = deliver_at(channel, fact, now)
            held += at > now
            self._outbox.enqueue(
                session,
                Target(channel.platform, channel.address, channel.id),
                message,
                fact=FactRef("alert", view.id, view.kind.value),
                priority=priority,
                now=now,
                deliver_at=at,
                reply_to_delivery_id=replies.get((channel.platform, channel.address)),
            )
        return held

    async def _group_parent(
        self, session: AsyncSession, draft: AlertDraft, key: str | None
    ) -> int | None:
        """A recent alert at the same place with overlapping themes becomes the parent."""
        if key is None or draft.kind is not Kind.ALERT:
            return None
        since = self._clock.now() - self._group_window
        for candidate_id, candidate_themes in await queries.recent_alerts_at(session, key, since):
            themes = set(json.loads(candidate_themes))
            if not themes or not draft.themes or themes.intersection(draft.themes):
                return candidate_id
        return None


def _alert_row(
    draft: AlertDraft,
    author: Author,
    origin: Origin,
    key: str | None,
    parent_id: int | None,
    now: datetime,
    photo: PhotoRef | None,
    location: Location | None,
) -> dict[str, object]:
    """The alerts row of a draft about to be raised."""
    return {
        "kind": draft.kind.value,
        "text": draft.text,
        "border": draft.border,
        "themes": json.dumps(list(draft.themes)),
        "urgency": draft.urgency.value,
        "place": draft.place,
        "place_key": key,
        "people": draft.people,
        "minors": draft.minors,
        "latitude": location.latitude if location else None,
        "longitude": location.longitude if location else None,
        "photo": json.dumps({"platform": photo.platform, "ref": photo.ref}) if photo else None,
        "author_member_id": author.member_id,
        "organisation_id": author.organisation_id,
        "status": "open",
        "parent_id": parent_id,
        "source_platform": origin.platform,
        "source_chat": origin.chat,
        "source_message_id": origin.message_id,
        "created_at": now,
        "updated_at": now,
    }
