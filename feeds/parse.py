"""Turn fetched feed bytes into plain-text items, tolerating broken feeds.

feedparser does the format work (RSS 0.9x/1.0/2.0, Atom, encoding detection and the
fallback to a lenient parser for malformed XML). This module adds what Tocsin needs on
top: a guard against entity-expansion bombs, plain text instead of HTML (escaping for a
chat platform happens when rendering), a stable key per item, and keeping only items the
feed actually finished writing.

Why the entity guard: feedparser first parses with expat, whose amplification limit stops
a billion-laughs document, but then falls back to its lenient parser, which re-reads the
same bytes and expands every "simple" entity (a literal value) itself, with no limit. A
100 kB entity referenced 20 000 times inside a 160 kB file produced a 2 GB title and a
6 GB memory peak with feedparser 6.0.14 on its own. Feeds have no use for custom
entities, so any document declaring one is refused before feedparser sees it.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit
from xml.sax import SAXException

import feedparser
from typing_extensions import override

from feeds.addresses import hide_userinfo

TITLE_MAX_CHARS = 300
SUMMARY_MAX_CHARS = 1000
# Markup-heavy HTML needs many source characters per character of text.
RAW_CHARS_PER_KEPT_CHAR = 20


class FeedParseError(Exception):
    """Nothing usable could be read: not a feed, or a refused (dangerous) document."""


@dataclass(frozen=True)
class FeedItem:
    key: str  # stable identity for dedup: guid, else link, else "sha256:" of title+date
    title: str  # plain text, may be empty
    link: str | None  # absolute http(s) URL only
    summary: str  # plain text, at most SUMMARY_MAX_CHARS
    published: datetime | None  # UTC-aware
    guid: str | None


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    link: str | None
    items: tuple[FeedItem, ...]
    # Set when the document was not well-formed: the items are those read before the
    # damage. Worth showing to the feed's admin, not a failure.
    warning: str | None = None


# "<!ENTITY" as it appears in every encoding feedparser can detect (it also reads UTF-16,
# UTF-32 and EBCDIC), so the guard cannot be dodged by re-encoding the bomb.
_ENTITY_DECLARATION_NEEDLES = tuple(
    {
        "<!ENTITY".encode(encoding)
        for encoding in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp037")
    }
)
_ENTITY_DECLARATION_ANY_CASE = re.compile(rb"<!entity", re.IGNORECASE)
_CLOSED_ITEM = re.compile(r"</(?:[\w.-]+:)?(?:item|entry)\s*>", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


def declares_entities(body: bytes) -> bool:
    return any(needle in body for needle in _ENTITY_DECLARATION_NEEDLES) or bool(
        _ENTITY_DECLARATION_ANY_CASE.search(body)
    )


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment; entities are decoded by convert_charrefs."""

    _SKIPPED = frozenset({"script", "style", "template", "noscript"})
    # Tags after which words must not run together once tags are gone.
    _BREAKING = frozenset(
        {
            "br",
            "p",
            "div",
            "li",
            "ul",
            "ol",
            "tr",
            "td",
            "th",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "blockquote",
            "pre",
            "hr",
            "table",
            "section",
            "article",
            "dd",
            "dt",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._skipping = 0

    @override
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag in self._BREAKING:
            self._parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BREAKING:
            self._parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._parts.append(data)

    def text(self) -> str:
        return "".join(self._parts)


def collapse_whitespace(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, spaces collapsed."""
    extractor = _TextExtractor()
    extractor.feed(fragment)
    extractor.close()
    return collapse_whitespace(extractor.text())


def truncate(text: str, limit: int) -> str:
    """Cut at a word boundary when one is near, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _plain(value: Any, detail: Any, limit: int) -> str:
    """Plain text of a feed field, cut to ``limit`` characters."""
    if not isinstance(value, str):
        return ""
    kind = detail.get("type", "text/html") if isinstance(detail, dict) else "text/html"
    # Only the beginning is kept, so only the beginning is parsed: this bounds the work
    # of the HTML parser on a hostile multi-megabyte field.
    raw = value[: limit * RAW_CHARS_PER_KEPT_CHAR]
    # feedparser has already decoded text/plain values; parsing them as HTML would eat
    # a literal "<" in, say, "mineurs <16 ans".
    if kind == "text/plain":
        return truncate(collapse_whitespace(raw), limit)
    if len(raw) < len(value) and raw.rfind("<") > raw.rfind(">"):
        raw = raw[: raw.rfind("<")]  # a tag cut in half would otherwise show up as text
    return truncate(html_to_text(raw), limit)


def _safe_link(value: Any) -> str | None:
    # Only web links go out to chat: a javascript: or data: URL must never be relayed.
    if not isinstance(value, str) or not value.strip():
        return None
    link = value.strip()
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return link


def _published(entry: Any) -> datetime | None:
    for field in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(field)
        if isinstance(value, time.struct_time):
            try:
                # feedparser normalises dates to UTC struct_time.
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _summary(entry: Any) -> str:
    summary = entry.get("summary")
    detail = entry.get("summary_detail")
    if not summary:
        contents = entry.get("content") or []
        if contents:
            summary = contents[0].get("value")
            detail = contents[0]
    return _plain(summary, detail, SUMMARY_MAX_CHARS)


def _item_key(
    guid: str | None, link: str | None, title: str, published: datetime | None, summary: str
) -> str:
    if guid:
        return guid
    if link:
        return link
    # No identity given by the feed: derive one from what the item says, so the same
    # item polled again gets the same key. The summary joins in only without a title.
    stamp = published.isoformat() if published else ""
    material = "\n".join([title, stamp] if title else ["", stamp, summary])
    return "sha256:" + hashlib.sha256(material.encode("utf-8")).hexdigest()


def _item(entry: Any) -> FeedItem | None:
    title = _plain(entry.get("title"), entry.get("title_detail"), TITLE_MAX_CHARS)
    raw_link = entry.get("link")
    link = _safe_link(raw_link)
    guid_value = entry.get("id")
    guid = guid_value.strip() if isinstance(guid_value, str) and guid_value.strip() else None
    summary = _summary(entry)
    if not (title or link or guid or summary):
        return None  # an empty shell, e.g. an item cut off right after its start tag
    published = _published(entry)
    identity_link = raw_link.strip() if isinstance(raw_link, str) and raw_link.strip() else None
    return FeedItem(
        key=_item_key(guid, identity_link, title, published, summary),
        title=title,
        link=link,
        summary=summary,
        published=published,
        guid=guid,
    )


def _closed_item_count(body: bytes, encoding: str | None) -> int:
    try:
        text = body.decode(encoding or "utf-8", "replace")
    except LookupError:
        text = body.decode("utf-8", "replace")
    return len(_CLOSED_ITEM.findall(text))


def parse_feed(body: bytes, content_type: str | None, base_url: str) -> ParsedFeed:
    """Parse an RSS or Atom document. Raises FeedParseError when nothing can be read."""
    # Relative links are resolved against the base: a feed's user name and password must
    # not end up in the links relayed to channels (nor in an error).
    base_url = hide_userinfo(base_url)
    if not body.strip():
        raise FeedParseError(f"the document from {base_url} is empty")
    if declares_entities(body):
        raise FeedParseError(
            f"the document from {base_url} declares XML entities (<!ENTITY ...>); refused "
            'because entity expansion can exhaust memory ("billion laughs"), and real '
            "feeds do not need them"
        )
    headers = {"content-location": base_url}
    if content_type:
        headers["content-type"] = content_type
    # A BytesIO, never the bytes themselves: feedparser treats a bare string as a path
    # or URL to open.
    result = feedparser.parse(io.BytesIO(body), response_headers=headers)

    entries = list(result.get("entries", []))
    error = result.get("bozo_exception") if result.get("bozo") else None
    warning = None
    if isinstance(error, SAXException):
        # The lenient parser re-read a broken document: keep only the items whose end
        # tag was reached, not the fragment of one cut off by the damage.
        entries = entries[: _closed_item_count(body, result.get("encoding"))]
        warning = (
            f"the feed is not well-formed XML ({error}); kept the {len(entries)} complete "
            "item(s) read before the error"
        )

    if not result.get("version") and not entries:
        reason = f": {error}" if error else ""
        raise FeedParseError(
            f"the document from {base_url} is not an RSS or Atom feed "
            f"(content type {content_type or 'unknown'}{reason})"
        )

    items: list[FeedItem] = []
    seen: set[str] = set()
    for entry in entries:
        item = _item(entry)
        if item is None or item.key in seen:  # feeds do repeat items
            continue
        seen.add(item.key)
        items.append(item)

    feed = result.get("feed", {})
    title = _plain(feed.get("title"), feed.get("title_detail"), TITLE_MAX_CHARS)
    return ParsedFeed(
        title=title or None,
        link=_safe_link(feed.get("link")),
        items=tuple(items),
        warning=warning,
    )
