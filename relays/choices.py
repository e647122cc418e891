"""Choices without buttons: where a platform has no buttons (Matrix, the console), a
question's buttons become a numbered list, and a typed number becomes the button press.

A question whose choices are counts (how many people: 1, 2, 3, 5 …) is listed unnumbered
and a typed number is the count itself; `answer_of` is the one reading both relays use."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from alerts.messages import Button, OutboundMessage, Paragraph, Span

KEYCAPS = (*(f"{digit}\ufe0f\u20e3" for digit in "123456789"), "🔟")
_NUMBER = re.compile(r"\s*(\d{1,2})\s*[.)]?\s*")


def choices_of(message: OutboundMessage) -> list[Button]:
    return [button for row in message.buttons for button in row]


def with_numbered_choices(
    message: OutboundMessage, hint: str, *, counts_by_value: bool = False
) -> OutboundMessage:
    """The message with its buttons as a numbered list and a hint on how to answer.

    `counts_by_value`: when the choices are counts, list them unnumbered (see `chosen`).
    """
    choices = choices_of(message)
    if not choices:
        return message
    unnumbered = counts_by_value and has_counts(choices)
    lines: list[Span] = []
    for number, button in enumerate(choices, start=1):
        if lines:
            lines.append(Span("\n"))
        lines += [Span("• " if unnumbered else f"{number}. "), Span(button.label, "bold")]
    extra = (Paragraph(tuple(lines)), Paragraph((Span(hint, "italic"),)))
    return replace(message, paragraphs=message.paragraphs + extra, buttons=())


def choice_number(text: str) -> int | None:
    """1 for "1", "1.", " 1) " or the keycap 1️⃣; None for anything else."""
    stripped = text.strip()
    if stripped in KEYCAPS:
        return KEYCAPS.index(stripped) + 1
    if stripped.endswith("\u20e3"):  # a keycap typed without the variation selector
        return choice_number(stripped.replace("\ufe0f", "").rstrip("\u20e3"))
    match = _NUMBER.fullmatch(stripped)
    return int(match.group(1)) if match else None


def chosen(choices: Sequence[Button], text: str) -> Button | None:
    """The choice a typed answer names: its number in the list, or its label typed out
    (its first words are enough when only one label starts with them).

    A question whose choices are themselves counts (1, 2, 3, 5, 10 …) reads a typed
    number as the count: "4" must mean four people, not the fourth choice ("5").
    """
    typed = _words(text)
    if not text.strip() or not choices:
        return None
    if typed:  # a label's words, without its emoji: "normale" for "📣 Normale"
        exact = [button for button in choices if _words(button.label) == typed]
        starting = [b for b in choices if _words(b.label)[: len(typed)] == typed]
        named = exact or starting
        if len(named) == 1:
            return named[0]
    number = choice_number(text)
    if number is None or has_counts(choices):
        return None
    return choices[number - 1] if 1 <= number <= len(choices) else None


def answer_of(choices: Sequence[Button], text: str) -> Button | str | None:
    """What a typed answer (or a keycap reaction) to a question means: the choice it
    names (see `chosen`); for a question of counts, a number that names no choice is the
    count, as text ("4" for "4", "4." or 4️⃣); None when it means neither."""
    choice = chosen(choices, text)
    if choice is not None:
        return choice
    number = choice_number(text)
    return str(number) if number is not None and has_counts(choices) else None


def _words(text: str) -> list[str]:
    cleaned = "".join(ch if ch.isalnum() else " " for ch in text.casefold())
    return cleaned.split()


def has_counts(choices: Sequence[Button]) -> bool:
    """Whether the choices are counts (some labels are bare numbers)."""
    return any(button.label.strip().isdigit() for button in choices)
