"""Durations written as `30s`, `15m`, `2h`, `1d` in the configuration and in chat."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdj])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "j": 86400}


def parse_duration(text: str) -> timedelta:
    """Parse `30s`, `15m`, `2h` or `1d` (`j` accepted for French `jour`)."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f'invalid duration "{text}" (expected e.g. 30s, 15m, 2h, 1d)')
    amount, unit = int(match.group(1)), match.group(2).lower()
    if amount <= 0:
        raise ValueError(f'invalid duration "{text}" (must be positive)')
    return timedelta(seconds=amount * _UNIT_SECONDS[unit])


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
