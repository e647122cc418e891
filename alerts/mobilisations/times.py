"""A call's start time from a coordinator's words: `18h`, `18h30`, `18:00`, `à 18h`,
`demain 9h`, `dans 1h`, `dans 30 min`; in English `6pm`, `at 18:00`, `tomorrow 9am`,
`in 1h`, `in 30 minutes`. Read in the deployment's time zone, returned in UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.text import fold

_IN = re.compile(
    r"(?<![\w])(?:dans|in)\s+(\d{1,3})\s*(h|heures?|hours?|hrs?|min|minutes?|mn|m)"
    r"(?:\s*(\d{1,2})(?:\s*(?:min|minutes?|mn|m))?)?(?![\w])"
)
_TOMORROW = r"(?:(demain|tomorrow)\s+(?:a\s+|at\s+)?)?"
_CLOCK_FR = re.compile(rf"(?<![\w]){_TOMORROW}(?:a\s+)?(\d{{1,2}})\s*h\s*(\d{{2}})?(?![\w])")
_CLOCK_COLON = re.compile(rf"(?<![\w]){_TOMORROW}(?:a\s+|at\s+)?(\d{{1,2}}):(\d{{2}})(?![\w])")
_CLOCK_EN = re.compile(
    rf"(?<![\w]){_TOMORROW}(?:at\s+)?(\d{{1,2}})(?::(\d{{2}}))?\s*(am|pm)(?![\w])"
)


@dataclass(frozen=True)
class StartTime:
    at: datetime  # UTC
    span: tuple[int, int]  # where the words were, in the folded text


class StartTimeError(ValueError):
    """A start time that cannot be: `code` names the answer ("start_past", "start_bad")."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def parse_start(text: str, now: datetime, timezone: str = "Europe/Paris") -> StartTime | None:
    """The first start time the text names, or None. A time already past is an error,
    never moved to tomorrow by guess; so is an hour that does not exist (25h)."""
    folded = fold(text)
    relative = _IN.search(folded)
    if relative is not None:
        return StartTime(now + _relative(relative), relative.span())
    zone = ZoneInfo(timezone)
    for pattern, twelve_hour in ((_CLOCK_COLON, False), (_CLOCK_EN, True), (_CLOCK_FR, False)):
        match = pattern.search(folded)
        if match is None:
            continue
        tomorrow, hour, minute = match.group(1), int(match.group(2)), int(match.group(3) or 0)
        if twelve_hour:
            if not 1 <= hour <= 12:
                raise StartTimeError("start_bad")
            hour = hour % 12 + (12 if match.group(4) == "pm" else 0)
        if hour > 23 or minute > 59:
            raise StartTimeError("start_bad")
        local = now.astimezone(zone)
        day = local.date() + timedelta(days=1 if tomorrow else 0)
        at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)
        if at <= now:
            raise StartTimeError("start_past")
        return StartTime(at, match.span())
    return None


def _relative(match: re.Match[str]) -> timedelta:
    amount, unit, extra = int(match.group(1)), match.group(2), match.group(3)
    if unit.startswith("h"):
        return timedelta(hours=amount, minutes=int(extra or 0))
    return timedelta(minutes=amount)
