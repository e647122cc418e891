"""`tocsin feeds check URL`: fetch a feed once and print its items with their
classification, so an operator can tune a feed's keywords before enabling it.

The fetch and the parse go through the same guarded fetcher and parsing process as the
watcher (public addresses only unless `allow_private`, size, time and parse limits; a
URL's user name and password are never printed), and the labels fixed on the feed in the
configuration are applied when the URL is a configured feed's. Nothing is stored.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TextIO

import httpx

from bot.wiring.vocabulary import vocabulary_from
from config.schema import Settings
from feeds.addresses import Resolver, hide_userinfo
from feeds.classify import FeedLabels, ItemClassifier
from feeds.fetch import FeedFetcher, FeedFetchError, FetchSettings, make_feed_http_client
from feeds.parse import FeedParseError, ParsedFeed
from feeds.parse_worker import ParseWorker


def add_arguments(feeds: argparse.ArgumentParser) -> None:
    """The `tocsin feeds …` sub-commands."""
    sub = feeds.add_subparsers(dest="feeds_command", required=True)
    check = sub.add_parser("check", help="fetch a feed once and print its items, classified")
    check.add_argument("url", help="the feed's address")
    check.add_argument("--config", help="TOML file (default: $TOCSIN_CONFIG)")
    check.add_argument(
        "--keyword",
        action="append",
        dest="keywords",
        help="try this keyword filter instead of the configured one (repeatable)",
    )


def labels_for(settings: Settings, url: str, keywords: Sequence[str] | None) -> FeedLabels:
    configured = next((feed for feed in settings.feeds if feed.url == url), None)
    labels = (
        FeedLabels(configured.borders, configured.themes, configured.keywords)
        if configured
        else FeedLabels()
    )
    if keywords is not None:
        labels = FeedLabels(labels.borders, labels.themes, tuple(keywords))
    return labels


async def check_feed(
    settings: Settings,
    url: str,
    out: TextIO,
    err: TextIO,
    *,
    keywords: Sequence[str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
) -> int:
    """Print the classified items of ``url``; 0 when it could be read, 1 otherwise."""
    watch = settings.feed_watch
    fetch_settings = FetchSettings(max_bytes=watch.max_bytes, allow_private=watch.allow_private)
    parser = ParseWorker(watch.parse_timeout.total_seconds())
    async with make_feed_http_client(transport) as client:
        try:
            result = await FeedFetcher(client, fetch_settings, resolver).fetch(url)
            parsed = await parser.parse(result.body, result.content_type, result.final_url)
        except (FeedFetchError, FeedParseError) as error:
            print(f"tocsin: {hide_userinfo(str(error))}", file=err)
            return 1
        finally:
            await parser.close()
    labels = labels_for(settings, url, keywords)
    classifier = ItemClassifier(vocabulary_from(settings), labels)
    for line in _report(parsed, result.final_url, labels, classifier):
        print(line, file=out)
    return 0


def _report(
    parsed: ParsedFeed, url: str, labels: FeedLabels, classifier: ItemClassifier
) -> list[str]:
    shown = hide_userinfo(url)
    lines = [f"{parsed.title or '(untitled feed)'} — {shown}", f"{len(parsed.items)} item(s)"]
    if labels.borders or labels.themes:
        lines.append(f"fixed labels: {', '.join([*labels.borders, *labels.themes])}")
    if labels.keywords:
        lines.append(f"keywords: {', '.join(labels.keywords)}")
    if parsed.warning:
        lines.append(f"warning: {parsed.warning}")
    kept = 0
    for item in parsed.items:
        found = classifier.classify(item.title, item.summary)
        kept += found.kept
        date = item.published.strftime("%Y-%m-%d %H:%M UTC") if item.published else "no date"
        lines.append("")
        lines.append(f"- {item.title or '(untitled)'}")
        lines.append(f"  {item.link or '(no link)'} · {date}")
        lines.append(
            f"  borders: {', '.join(found.borders) or '-'} · "
            f"themes: {', '.join(found.themes) or '-'}"
        )
        if labels.keywords:
            verdict = (
                f"kept (matched: {', '.join(found.matched_keywords)})"
                if found.kept
                else "filtered out (no keyword matched)"
            )
            lines.append(f"  {verdict}")
    if labels.keywords:
        lines.append("")
        lines.append(f"{kept} of {len(parsed.items)} item(s) kept by the keywords")
    return lines
