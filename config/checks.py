"""Checks of single configuration values, each failing with a sentence an operator can act
on. The schema attaches them to its fields; the loader turns a failure into one
`file: key: problem` line, for `tocsin check` and at every start alike."""

from __future__ import annotations

import re
from datetime import time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from config.durations import parse_duration

_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_QUIET = re.compile(r"(\d{2}:\d{2})-(\d{2}:\d{2})")
_MATRIX_USER = re.compile(r"@[^:\s]+:\S+")
_MATRIX_ROOM = re.compile(r"![^:\s]+(:\S+)?")  # room version 12 ids name no server
_TELEGRAM_CHAT = re.compile(r"(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})(:\d{1,10})?")
_DIGITS = re.compile(r"\d{1,20}")
# The host is everything before the last colon, as the webhook server reads it ("::1:8443").
_DATABASES = "sqlite+aiosqlite:///file.db or postgresql+asyncpg://user@host/database"


def identifier(value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError(
            f'invalid id "{value}" (lowercase letters, digits, "-" and "_", starting with a '
            "letter or digit, at most 64 characters)"
        )
    return value


def duration(value: object) -> object:
    """`30s`, `15m`, `2h`, `1d`; a bare number is refused (seconds or minutes?)."""
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool | int | float):
        # pydantic reports a ValueError as a validation error; a TypeError would escape.
        raise ValueError(  # noqa: TRY004
            f'invalid duration {value!r} (write it with a unit, e.g. "30s", "15m")'
        )
    return value


def positive_duration(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("the duration must be positive (e.g. 30s, 15m, 2h, 1d)")
    return value


def timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            f'unknown time zone "{value}" (an IANA name such as "Europe/Paris" or "UTC")'
        ) from error
    return value


def cron(value: str) -> str:
    """Five fields, read by APScheduler (the digest's scheduler) exactly as it will run."""
    fields = value.split()
    try:
        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as error:
        raise ValueError(
            f'invalid cron expression "{value}" ({error}); five fields are expected: '
            'minute hour day month weekday, e.g. "0 8 * * mon"'
        ) from None
    if len(fields) == 5 and any(ch.isdigit() for ch in fields[4]):
        # APScheduler counts weekdays from 0 = Monday, cron from 0 = Sunday: a number would
        # silently run on another day than the operator meant.
        raise ValueError(
            f'cron expression "{value}": write the weekday as a name (mon, tue … sun, or '
            "mon-fri), not a number: numbers mean different days to cron and to APScheduler"
        )
    return value


def quiet_hours(value: str) -> str:
    match = _QUIET.fullmatch(value)
    problem = "expected HH:MM-HH:MM, e.g. 22:00-07:00"
    if match is not None:
        try:
            start, end = (time.fromisoformat(part) for part in match.groups())
        except ValueError:
            problem = "not a time of day; " + problem
        else:
            if start != end:
                return value
            problem = "the window starts and ends at the same time"
    raise ValueError(f'invalid quiet hours "{value}" ({problem})')


def web_url(value: str) -> str:
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018  # raises on a port that is not a number
    except ValueError:
        parts = urlsplit("")
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() for c in value)
    ):
        raise ValueError(f'invalid address "{value}" (a full http:// or https:// URL is expected)')
    return value


def database_url(value: str) -> str:
    """Never echoes the URL: it may hold a password."""
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(f"not a database URL (expected {_DATABASES})") from None
    if url.get_backend_name() == "sqlite" or url.drivername == "postgresql+asyncpg":
        return value
    raise ValueError(f'unsupported database "{url.drivername}" (use {_DATABASES})')


def split_listen(value: str) -> tuple[str, int]:
    """`host:port` (`[::1]:8470` for IPv6) as (host, port); ValueError names the problem."""
    host, colon, port = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if (
        not colon
        or not host
        or not port.isdigit()
        or any(c.isspace() or c in "[]" for c in host)
    ):
        raise ValueError(
            f'invalid listen address "{value}" '
            "(expected host:port, e.g. 127.0.0.1:8470 or [::1]:8470)"
        )
    if int(port) > 65535:
        raise ValueError(f'invalid listen address "{value}": port {port} is out of range')
    return host, int(port)


def listen_address(value: str) -> str:
    split_listen(value)
    return value


def matrix_user(value: str) -> str:
    if not _MATRIX_USER.fullmatch(value):
        raise ValueError(f'invalid Matrix user id "{value}" (expected @name:server)')
    return value


def account(platform: str, user: str) -> str | None:
    """What is wrong with a member's account name on its platform, if anything."""
    if platform == "telegram" and not _DIGITS.fullmatch(user):
        return f'invalid Telegram user id "{user}" (the numeric id, e.g. 111111)'
    if platform == "matrix" and not _MATRIX_USER.fullmatch(user):
        return f'invalid Matrix user id "{user}" (expected @name:server)'
    return None


def channel_address(platform: str, address: str) -> str | None:
    """What is wrong with a channel's address on its platform, if anything."""
    if platform == "telegram" and not _TELEGRAM_CHAT.fullmatch(address):
        return (
            f'invalid Telegram chat address "{address}" (a chat id such as -1001234567890, '
            'or "chat_id:topic_id" for a forum topic)'
        )
    if platform == "matrix" and not _MATRIX_ROOM.fullmatch(address):
        return f'invalid Matrix room id "{address}" (expected !id:server, or !id)'
    return None


def feed_address_key(url: str) -> str:
    """What makes two feed addresses the same feed: scheme, case of the host, a default
    port and a trailing slash do not count."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    host = (parts.hostname or "").lower()
    if port is not None and port not in (80, 443):
        host += f":{port}"
    path = parts.path.rstrip("/") or "/"
    return f"{host}{path}" + (f"?{parts.query}" if parts.query else "")
