"""Rendering neutral rich text: HTML (Telegram's subset, Matrix's formatted_body) and plain.

Every user string goes through `html.escape` here and only here, so `<script>` and `&`
arrive verbatim as text on every platform.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

from alerts.messages import OutboundMessage, Paragraph, Span

_TAGS = {"bold": "b", "italic": "i", "code": "code"}


def _safe_href(href: str | None) -> str | None:
    if not href:
        return None
    return href if urlsplit(href).scheme in ("http", "https", "mailto") else None


def span_html(span: Span) -> str:
    text = escape(span.text, quote=False)
    if span.style == "link":
        href = _safe_href(span.href)
        return f'<a href="{escape(href, quote=True)}">{text}</a>' if href else text
    tag = _TAGS.get(span.style)
    return f"<{tag}>{text}</{tag}>" if tag else text


def paragraph_html(paragraph: Paragraph, newline: str = "\n") -> str:
    return "".join(span_html(span) for span in paragraph.spans).replace("\n", newline)


def to_html(message: OutboundMessage, *, newline: str = "\n", separator: str = "\n\n") -> str:
    """Telegram wants real newlines; Matrix HTML wants `<br>` (pass newline/separator)."""
    return separator.join(paragraph_html(p, newline) for p in message.paragraphs)


def span_plain(span: Span) -> str:
    href = _safe_href(span.href) if span.style == "link" else None
    return f"{span.text} ({href})" if href and href != span.text else span.text


def to_plain(message: OutboundMessage, separator: str = "\n\n") -> str:
    return separator.join(
        "".join(span_plain(span) for span in paragraph.spans) for paragraph in message.paragraphs
    )


def to_one_line(message: OutboundMessage) -> str:
    """The console's form: a whole message on one line, paragraphs joined by ' | '."""
    text = to_plain(message, " | ")
    return " / ".join(line for line in text.split("\n"))
