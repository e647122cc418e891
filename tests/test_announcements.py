"""Announcement rendering and routing, and the configured feeds' sync, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from alerts.feed_announcements import (
    AnnouncementRenderer,
    AnnouncementView,
    channels_for,
    storable_key,
)
from alerts.routing import ChannelTarget, SubscriptionSpec
from alerts.types import Kind, Urgency
from bot.wiring.texts import translator
from bot.wiring.vocabulary import vocabulary_from
from config.loader import build_settings
from config.schema import FeedSettings
from feeds.sync import sync_configured_feeds
from relays.markup import to_html, to_plain
from storage.database import Database
from storage.models import Feed

VOCABULARY = vocabulary_from(build_settings({}, "test.toml"))
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def view(**changes: object) -> AnnouncementView:
    fields: dict[str, object] = {
        "feed_name": "Conseil d'État",
        "title": "Zones d'attente : accès des associations",
        "link": "https://www.conseil-etat.fr/actualites/za",
        "summary": "Ordonnance du juge des référés.",
        "published": datetime(2025, 1, 13, 23, 30, tzinfo=UTC),
        "borders": ("zones-attente",),
        "themes": ("juridique", "enfermement"),
    }
    fields.update(changes)
    return AnnouncementView(**fields)  # type: ignore[arg-type]


def test_an_announcement_shows_feed_title_link_summary_and_labels() -> None:
    renderer = AnnouncementRenderer(VOCABULARY, translator())
    message = renderer.render(view(), "fr", "Europe/Paris")
    assert to_plain(message, " | ") == (
        "📰 Annonce · Conseil d'État | Zones d'attente : accès des associations "
        "(https://www.conseil-etat.fr/actualites/za) | Ordonnance du juge des référés. | "
        # 23:30 UTC is already the 14th in Paris.
        "Publié le 14/01/2025 · Frontières : Zones d'attente (aéroports et ports) · "
        "Thèmes : Décisions de justice, Enfermement"
    )
    assert message.silent  # a press release does not ring phones
    english = renderer.render(view(borders=(), themes=(), published=None), "en", "UTC")
    assert to_plain(english, " | ").startswith("📰 Announcement · Conseil d'État | Zones")
    assert len(english.paragraphs) == 3


def test_feed_text_is_escaped_by_the_relays_not_before() -> None:
    renderer = AnnouncementRenderer(VOCABULARY, translator())
    hostile = view(
        title='<script>alert("x")</script> & co',
        link='https://example.test/?a=1&b="2"',
        summary="<b>gras</b>",
        feed_name="Flux <i>",
    )
    message = renderer.render(hostile, "fr", "UTC")
    assert message.paragraphs[1].spans[0].text == '<script>alert("x")</script> & co'
    html = to_html(message)
    assert '&lt;script&gt;alert("x")&lt;/script&gt; &amp; co</a>' in html
    assert 'href="https://example.test/?a=1&amp;b=&quot;2&quot;"' in html
    assert "&lt;b&gt;gras&lt;/b&gt;" in html
    assert "Flux &lt;i&gt;" in html
    assert "<script>" not in html


def test_an_item_without_a_link_or_title_still_reads() -> None:
    renderer = AnnouncementRenderer(VOCABULARY, translator())
    message = renderer.render(view(title="", link=None), "fr", "UTC")
    assert message.paragraphs[1].spans[0].text == "(sans titre)"
    assert message.paragraphs[1].spans[0].style == "bold"


def target(channel_id: str, borders: set[str], themes: set[str], kinds: set[Kind]) -> ChannelTarget:
    spec = SubscriptionSpec(frozenset(kinds), frozenset(borders), frozenset(themes))
    return ChannelTarget(
        id=channel_id,
        platform="console",
        address=channel_id,
        organisation_id="o",
        language="fr",
        timezone="UTC",
        quiet=None,
        muted_until=None,
        share_locations=False,
        subscriptions=(spec,),
    )


def test_routing_reaches_any_of_the_items_borders_and_all_borders_channels() -> None:
    announcement = {Kind.ANNOUNCEMENT}
    channels = [
        target("italie", {"franco-italienne"}, {"*"}, announcement),
        target("manche", {"manche"}, {"*"}, announcement),
        target("tout", {"*"}, {"*"}, announcement),
        target("juridique", {"*"}, {"juridique"}, announcement),
        target("alertes", {"*"}, {"*"}, {Kind.ALERT}),
    ]

    def ids(borders: tuple[str, ...], themes: tuple[str, ...]) -> list[str]:
        chosen, fact = channels_for(borders, themes, channels)
        assert fact.kind is Kind.ANNOUNCEMENT
        assert fact.urgency is Urgency.INFO
        return sorted(channel.id for channel in chosen)

    assert ids(("franco-italienne", "manche"), ("asile",)) == ["italie", "manche", "tout"]
    assert ids((), ("juridique",)) == ["juridique", "tout"]  # no border: "*" channels only
    assert ids(("manche",), ()) == ["manche", "tout"]


def test_storable_keys_fit_the_column_and_stay_stable() -> None:
    assert storable_key("ce-actu-1") == "ce-actu-1"
    long_key = "https://example.test/?" + "x" * 600
    assert storable_key(long_key) == storable_key(long_key)
    assert storable_key(long_key).startswith("sha256:")
    assert len(storable_key(long_key)) < 512
    assert storable_key("a\nb").startswith("sha256:")


async def test_configured_feeds_follow_the_file_and_chat_feeds_are_kept(
    database: Database,
) -> None:
    def feed(feed_id: str, url: str, **extra: object) -> FeedSettings:
        return FeedSettings.model_validate({"id": feed_id, "url": url, **extra})

    async with database.transaction() as session:
        await sync_configured_feeds(
            session,
            [
                feed("ce", "https://ce.test/rss", every="2h", themes=["juridique"]),
                feed("old", "https://old.test/rss"),
            ],
            NOW,
        )
        session.add(
            Feed(
                id="chat-feed",
                url="https://chat.test/rss",
                every_seconds=1800,
                source="chat",
                enabled=True,
                initialised=True,
            )
        )
    async with database.transaction() as session:
        ce = await session.get(Feed, "ce")
        assert ce is not None
        ce.initialised, ce.etag, ce.consecutive_failures = True, '"v1"', 3
        ce.paused = True
    later = NOW + timedelta(days=1)
    async with database.transaction() as session:
        await sync_configured_feeds(
            session,
            [feed("ce", "https://ce.test/nouveau-rss", every="1h", keywords=["étranger"])],
            later,
        )
    async with database.sessions() as session:
        rows = {row.id: row for row in await session.scalars(select(Feed))}
    assert set(rows) == {"ce", "old", "chat-feed"}
    assert not rows["old"].enabled  # dropped from the file: disabled, items kept
    assert rows["chat-feed"].enabled
    assert rows["chat-feed"].source == "chat"
    ce = rows["ce"]
    assert (ce.url, ce.every_seconds, json.loads(ce.keywords)) == (
        "https://ce.test/nouveau-rss",
        3600,
        ["étranger"],
    )
    # A new address starts over: silent first poll, no stale validators, not paused.
    assert not ce.initialised
    assert ce.etag is None
    assert not ce.paused
    assert ce.consecutive_failures == 0
    assert ce.next_poll_at == later
