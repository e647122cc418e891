"""`tocsin purge` (the retention purge, now) and `tocsin audit [--since 7d]`."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any, TextIO

from alerts.clock import SystemClock
from alerts.retention import Purger
from bot.people.audit import audit_lines
from config.durations import parse_duration
from config.loader import ConfigError
from config.schema import Settings
from storage import audit_queries
from storage.database import open_database

COMMANDS = ("purge", "audit")


def add_arguments(sub: Any) -> None:
    purge = sub.add_parser("purge", help="purge content older than [privacy] retention, now")
    purge.add_argument("--config", help="TOML file (default: $TOCSIN_CONFIG)")
    audit = sub.add_parser("audit", help="print the audit log")
    audit.add_argument("--config", help="TOML file (default: $TOCSIN_CONFIG)")
    audit.add_argument("--since", default="7d", help="how far back (30m, 12h, 7d; default 7d)")


async def run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    clock = SystemClock()
    since: timedelta | None = None
    if args.command == "audit":
        try:
            since = parse_duration(args.since)
        except ValueError as error:
            raise ConfigError(f"--since: {error}") from None
    database = await open_database(settings.storage.url)
    try:
        if since is None:
            purger = Purger(
                database=database,
                clock=clock,
                retention=settings.privacy.retention,
                batch=settings.privacy.purge_batch,
            )
            report = await purger.purge()
            print(f"purged content older than {settings.privacy.retention}:", file=out)
            for line in report.lines():
                print(f"  {line}", file=out)
            return 0
        async with database.sessions() as session:
            entries = await audit_queries.since(session, clock.now() - since)
        for line in audit_lines(entries, "-"):
            print(line, file=out)
        return 0
    finally:
        await database.close()
