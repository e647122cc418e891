"""The one-line call: `/mobilise 2 observateurs, 1 interprète gare d'Hendaye 18h !urgent`.

Place, border, themes and urgency are read as for an alert (`alerts.parsing`); the call
adds its needs, an optional start time and an optional `!escalate=15m`. A call without
a recognisable need is refused with a question, never guessed."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from alerts.mobilisations.needs import Need, parse_needs
from alerts.mobilisations.times import StartTimeError, parse_start
from alerts.parsing import AlertDraft, AlertInputError, parse_alert_line
from alerts.types import Kind
from alerts.vocabulary import Vocabulary

_ESCALATE = re.compile(r"(?<!\S)!(?:escalate|escalade|escalader)=(\S+)", re.IGNORECASE)
_DURATION = re.compile(r"^(\d{1,5})(s|m|min|h|d|j)$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "j": 86400}


@dataclass(frozen=True)
class MobilisationDraft:
    alert: AlertDraft
    needs: dict[Need, int]
    starts_at: datetime | None = None
    escalate_after: timedelta | None = None  # None: the configured default

    def with_border(self, border: str) -> MobilisationDraft:
        return replace(self, alert=replace(self.alert, border=border, border_choices=()))


def parse_mobilisation_line(
    text: str,
    vocabulary: Vocabulary,
    *,
    now: datetime,
    max_length: int,
    timezone: str = "Europe/Paris",
) -> MobilisationDraft:
    """Raises `AlertInputError` ("empty", "too_long", "no_need", "start_past",
    "start_bad", "escalate_bad") with the user-facing code."""
    escalate_after = None
    marker = _ESCALATE.search(text)
    if marker is not None:
        escalate_after = _duration(marker.group(1))
        text = _ESCALATE.sub("", text)
    draft = parse_alert_line(text, vocabulary, max_length=max_length, kind=Kind.MOBILISATION)
    needs = parse_needs(draft.text)
    if not needs:
        raise AlertInputError("no_need")
    try:
        start = parse_start(draft.text, now, timezone)
    except StartTimeError as error:
        raise AlertInputError(error.code) from error
    return MobilisationDraft(
        alert=draft,
        needs=needs,
        starts_at=start.at if start else None,
        escalate_after=escalate_after,
    )


def _duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) <= 0:
        raise AlertInputError("escalate_bad", value=text[:24])
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2).lower()])
