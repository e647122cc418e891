"""Announcements: a feed item becomes a fact, stored with its outbox rows in the caller's
transaction, and rendered for each subscribed channel in its language.

The watcher decides which items to announce (not on a feed's first poll, not when the
feed's keywords exclude them); this module stores every item it is given, so an item is
looked at once, and routes the ones to announce as `announcement` at the lowest priority:
a life at risk never waits behind a court press release.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.channel_cache import ChannelCache
from alerts.i18n import Translator
from alerts.messages import OutboundMessage, Paragraph, Span
from alerts.outbox import FactRef, Outbox, Target
from alerts.routing import ChannelTarget, RoutableFact, deliver_at, route
from alerts.text import clean_text
from alerts.types import Kind, Urgency, delivery_priority
from alerts.vocabulary import Vocabulary
from storage.models import FeedItem

ITEM_KEY_MAX_CHARS = 512  # feed_items.item_key

TEXTS_FR = {
    "announcement.header": "📰 {kind} · {feed}",
    "announcement.untitled": "(sans titre)",
    "announcement.published": "Publié le {date}",
    "announcement.date": "%d/%m/%Y",
    "announcement.borders": "Frontières : {borders}",
    "announcement.themes": "Thèmes : {themes}",
}
TEXTS_EN = {
    "announcement.header": "📰 {kind} · {feed}",
    "announcement.untitled": "(untitled)",
    "announcement.published": "Published {date}",
    "announcement.date": "%Y-%m-%d",
    "announcement.borders": "Borders: {borders}",
    "announcement.themes": "Themes: {themes}",
}
TEXTS = {"fr": TEXTS_FR, "en": TEXTS_EN}


def storable_key(key: str) -> str:
    """The item key as stored: a key too long for the column (some feeds use whole URLs
    with tracking parameters as guids) or holding control characters is hashed, which
    keeps it stable from one poll to the next."""
    if len(key) <= ITEM_KEY_MAX_CHARS and key.isprintable():
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class FeedSource:
    id: str
    name: str  # shown in announcements


@dataclass(frozen=True)
class ItemToRecord:
    key: str
    title: str  # plain text from the feed; escaped by each relay, never here
    link: str | None
    summary: str
    published: datetime | None
    borders: tuple[str, ...]
    themes: tuple[str, ...]
    announce: bool


@dataclass(frozen=True)
class RecordedItem:
    id: int
    key: str
    announced: bool
    channels: int  # channels it was queued for (0 when not announced or nobody subscribes)


@dataclass(frozen=True)
class AnnouncementView:
    feed_name: str
    title: str
    link: str | None
    summary: str
    published: datetime | None
    borders: tuple[str, ...]
    themes: tuple[str, ...]


class AnnouncementRenderer:
    def __init__(self, vocabulary: Vocabulary, translate: Translator) -> None:
        self._vocabulary = vocabulary
        self._t = translate

    def render(self, view: AnnouncementView, language: str, timezone: str) -> OutboundMessage:
        t, lang = self._t, language
        header = t(
            lang, "announcement.header", kind=t(lang, "kind.announcement"), feed=view.feed_name
        )
        title = view.title or t(lang, "announcement.untitled")
        title_span = Span(title, "link", view.link) if view.link else Span(title, "bold")
        paragraphs = [Paragraph((Span(header, "bold"),)), Paragraph((title_span,))]
        if view.summary:
            paragraphs.append(Paragraph((Span(view.summary),)))
        details: list[str] = []
        if view.published is not None:
            local = view.published.astimezone(ZoneInfo(timezone))
            date = local.strftime(t(lang, "announcement.date"))
            details.append(t(lang, "announcement.published", date=date))
        if view.borders:
            names = ", ".join(self._border_name(border) for border in view.borders)
            details.append(t(lang, "announcement.borders", borders=names))
        if view.themes:
            names = ", ".join(self._theme_name(theme) for theme in view.themes)
            details.append(t(lang, "announcement.themes", themes=names))
        if details:
            paragraphs.append(Paragraph((Span(" · ".join(details), "italic"),)))
        return OutboundMessage(tuple(paragraphs), silent=True)

    def _border_name(self, border_id: str) -> str:
        border = self._vocabulary.border(border_id)
        return border.name if border else border_id

    def _theme_name(self, theme_id: str) -> str:
        theme = self._vocabulary.theme(theme_id)
        return theme.name if theme else theme_id


def channels_for(
    borders: Sequence[str], themes: Sequence[str], channels: Sequence[ChannelTarget]
) -> tuple[list[ChannelTarget], RoutableFact]:
    """Channels subscribed to any of the item's borders (or to all borders) and themes.

    An item with no border only reaches channels subscribed to every border ("*").
    """
    theme_set = frozenset(themes)
    border_choices: list[str | None] = list(borders) or [None]
    facts = [
        RoutableFact(Kind.ANNOUNCEMENT, border, theme_set, Urgency.INFO)
        for border in border_choices
    ]
    chosen: dict[str, ChannelTarget] = {}
    for fact in facts:
        for channel in route(fact, channels):
            chosen.setdefault(channel.id, channel)
    return list(chosen.values()), facts[0]


class AnnouncementService:
    def __init__(
        self, *, renderer: AnnouncementRenderer, outbox: Outbox, directory: ChannelCache
    ) -> None:
        self._renderer = renderer
        self._outbox = outbox
        self._directory = directory

    async def record(
        self,
        session: AsyncSession,
        feed: FeedSource,
        items: Sequence[ItemToRecord],
        now: datetime,
    ) -> list[RecordedItem]:
        """Store ``items`` (new to this feed, in the order to announce them) and queue the
        announcements, all in ``session``'s transaction; the caller commits."""
        feed_name = clean_text(feed.name) or feed.id
        rows = [_feed_item(feed.id, item, now) for item in items]
        session.add_all(rows)
        await session.flush()  # one INSERT for the batch; the rows get their ids
        recorded: list[RecordedItem] = []
        targets: list[ChannelTarget] | None = None
        for item, row in zip(items, rows, strict=True):
            if not item.announce:
                recorded.append(RecordedItem(row.id, row.item_key, False, 0))
                continue
            if targets is None:  # read the directory once per batch, and only if needed
                targets = await self._directory.targets(session)
            channels, fact = channels_for(item.borders, item.themes, targets)
            view = AnnouncementView(
                feed_name=feed_name,
                title=row.title,
                link=row.link,
                summary=row.summary or "",
                published=item.published,
                borders=item.borders,
                themes=item.themes,
            )
            self._enqueue_copies(session, row.id, view, channels, fact, now)
            recorded.append(RecordedItem(row.id, row.item_key, True, len(channels)))
        return recorded

    def _enqueue_copies(
        self,
        session: AsyncSession,
        item_id: int,
        view: AnnouncementView,
        channels: list[ChannelTarget],
        fact: RoutableFact,
        now: datetime,
    ) -> None:
        """One outbox row per channel, rendered once per language and time zone."""
        priority = delivery_priority(Kind.ANNOUNCEMENT, Urgency.INFO)
        rendered: dict[tuple[str, str], OutboundMessage] = {}
        for channel in channels:
            cache_key = (channel.language, channel.timezone)
            message = rendered.get(cache_key)
            if message is None:
                message = self._renderer.render(view, channel.language, channel.timezone)
                rendered[cache_key] = message
            self._outbox.enqueue(
                session,
                Target(channel.platform, channel.address, channel.id),
                message,
                fact=FactRef("feed_item", item_id, Kind.ANNOUNCEMENT.value),
                priority=priority,
                now=now,
                deliver_at=deliver_at(channel, fact, now),
            )


def _feed_item(feed_id: str, item: ItemToRecord, now: datetime) -> FeedItem:
    """The feed_items row of an item, its texts cleaned; the link kept only if printable."""
    return FeedItem(
        feed_id=feed_id,
        item_key=storable_key(item.key),
        title=clean_text(item.title),
        link=item.link if item.link and item.link.isprintable() else None,
        summary=clean_text(item.summary) or None,
        published_at=item.published,
        borders=json.dumps(list(item.borders)),
        themes=json.dumps(list(item.themes)),
        announced=item.announce,
        created_at=now,
    )
