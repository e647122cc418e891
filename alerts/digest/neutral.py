"""A chat digest is written as a small HTML subset by an autoescaping Jinja2 template
(`chat.html.j2`) and read back here into the neutral `OutboundMessage` every relay renders
in its own markup. Autoescape makes the reading unambiguous: a user's `<b>` arrives as
text, never as a tag. Each `<section>` is one paragraph, so the splitter cuts between
sections first."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from alerts.messages import OutboundMessage, Paragraph, Span, SpanStyle

_STYLES: dict[str, SpanStyle] = {"b": "bold", "i": "italic", "code": "code"}
_SPACES = re.compile(r"[ \t\r\n]+")


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[list[Span]] = []
        self._spans: list[Span] | None = None
        self._style: list[SpanStyle] = []
        self._href: str | None = None
        self._line_start = True  # the template's indentation at a line start is dropped

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self._spans = []
            self.paragraphs.append(self._spans)
            self._line_start = True
        elif tag == "br":
            self._end_line()
            self._add("\n", raw=True)
            self._line_start = True
        elif tag == "a":
            self._href = dict(attrs).get("href")
            self._style.append("link")
        elif tag in _STYLES:
            self._style.append(_STYLES[tag])

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._end_line()
            self._spans = None
        elif (tag == "a" or tag in _STYLES) and self._style:
            self._style.pop()
            if tag == "a":
                self._href = None

    def handle_data(self, data: str) -> None:
        text = _SPACES.sub(" ", data)
        if self._line_start:
            text = text.lstrip(" ")
        if text:
            self._line_start = False
            self._add(text)

    def _end_line(self) -> None:
        """Spaces the template's layout left at the end of a line removed."""
        spans = self._spans
        while spans and spans[-1].text.endswith(" "):
            last = spans.pop()
            if last.text.rstrip(" "):
                spans.append(Span(last.text.rstrip(" "), last.style, last.href))

    def _add(self, text: str, *, raw: bool = False) -> None:
        if self._spans is None or not text:
            return
        style: SpanStyle = self._style[-1] if self._style and not raw else "plain"
        href = self._href if style == "link" else None
        spans = self._spans
        if spans and spans[-1].style == style and spans[-1].href == href:
            spans[-1] = Span(spans[-1].text + text, style, href)
        else:
            spans.append(Span(text, style, href))


def read_message(html: str) -> OutboundMessage:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    paragraphs = tuple(Paragraph(tuple(spans)) for spans in reader.paragraphs if spans)
    return OutboundMessage(paragraphs, silent=True)
