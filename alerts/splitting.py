"""Split a rich message to fit a platform's limit, on paragraph boundaries first.

Works on the neutral paragraphs, so a cut can never fall inside markup: each part is
rendered on its own by the relay. A paragraph too long alone is cut at a line, then a
word, then (last resort) a character boundary, keeping span styles on both sides.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace

from alerts.messages import OutboundMessage, Paragraph, Span


@dataclass(frozen=True)
class TextBudget:
    """How much text one platform message holds, measured on the visible text."""

    limit: int
    measure: Callable[[str], int]
    reserve: int = 64  # room for the relay's markup overhead per part


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def utf8_length(text: str) -> int:
    return len(text.encode("utf-8"))


SEPARATOR = 2  # the blank line between two paragraphs


def split_message(message: OutboundMessage, budget: TextBudget) -> list[OutboundMessage]:
    limit = budget.limit - budget.reserve
    measure = budget.measure
    if _size(message.paragraphs, measure) <= limit:
        return [message]
    parts: list[list[Paragraph]] = [[]]
    for paragraph in message.paragraphs:
        room = limit - _size(parts[-1], measure) - (SEPARATOR if parts[-1] else 0)
        size = measure(paragraph.plain)
        if size <= room:
            parts[-1].append(paragraph)
            continue
        if size <= limit:
            parts.append([paragraph])
            continue
        # Too long alone: fill what is left of this part (if worth it), then whole parts.
        first_room = room if room >= limit // 4 else limit
        if first_room == limit and parts[-1]:
            parts.append([])
        pieces = _cut_paragraph(paragraph, limit, measure, first_room)
        parts[-1].append(pieces[0])
        parts.extend([piece] for piece in pieces[1:])
    parts = [paragraphs for paragraphs in parts if paragraphs]
    first, last = 0, len(parts) - 1
    return [
        replace(
            message,
            paragraphs=tuple(paragraphs),
            # Buttons and the photo belong with the head of the message, location at the end.
            buttons=message.buttons if index == last else (),
            photo=message.photo if index == first else None,
            location=message.location if index == last else None,
        )
        for index, paragraphs in enumerate(parts)
    ]


def _size(
    paragraphs: tuple[Paragraph, ...] | list[Paragraph], measure: Callable[[str], int]
) -> int:
    if not paragraphs:
        return 0
    return sum(measure(p.plain) for p in paragraphs) + SEPARATOR * (len(paragraphs) - 1)


def _cut_paragraph(
    paragraph: Paragraph, limit: int, measure: Callable[[str], int], first_room: int
) -> list[Paragraph]:
    parts: list[list[Span]] = [[]]
    used = limit - first_room
    for span in paragraph.spans:
        remaining = span.text
        while remaining:
            room = limit - used
            if measure(remaining) <= room:
                parts[-1].append(replace(span, text=remaining))
                used += measure(remaining)
                break
            head, remaining = _cut_text(remaining, room, measure)
            if head:
                parts[-1].append(replace(span, text=head))
            parts.append([])
            used = 0
    return [Paragraph(tuple(spans)) for spans in parts if spans]


def _cut_text(text: str, room: int, measure: Callable[[str], int]) -> tuple[str, str]:
    """Longest prefix that fits in `room`, preferring a newline, then a space."""
    low, high = 0, len(text)
    while low < high:  # binary search on the measured length
        middle = (low + high + 1) // 2
        if measure(text[:middle]) <= room:
            low = middle
        else:
            high = middle - 1
    fit = text[:low]
    for breaker in ("\n", " "):
        cut = fit.rfind(breaker)
        if cut > len(fit) // 2:
            return text[:cut], text[cut + 1 :]
    # Never leave a lone surrogate half or a split combining sequence at a hard cut.
    cut = low
    while cut > 0 and cut < len(text) and _is_combining(text[cut]):
        cut -= 1
    cut = cut or max(low, 1)  # always make progress
    return text[:cut], text[cut:]


def _is_combining(char: str) -> bool:
    return unicodedata.combining(char) != 0 or char == "\u200d"
