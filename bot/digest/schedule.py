"""When digests are due: the instants of `[digest] cron` in `[digest] timezone`, read by
APScheduler's own CronTrigger (the one the job runs on), in UTC.

A wall-clock time that occurs twice (the October change of clocks) is one digest: the
first of the two instants. One that does not occur (March) is sent once, as APScheduler
places it (an hour later, in the new time)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

# How far back to look for the latest instant: longer than any cron's gap but a yearly one.
_LOOKBACK = (timedelta(days=8), timedelta(days=32), timedelta(days=367))


class DigestSchedule:
    def __init__(self, cron: str, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)
        self.timezone = timezone
        self.trigger = CronTrigger.from_crontab(cron, timezone=self.zone)

    def instants(self, after: datetime, until: datetime) -> Iterator[datetime]:
        """The due instants in (after, until], in UTC, one per local wall time."""
        moment = after + timedelta(microseconds=1)
        last: datetime | None = None
        last_wall: datetime | None = None
        while True:
            fire = self.trigger.get_next_fire_time(None, moment)
            if fire is None:
                return
            instant = fire.astimezone(UTC)
            if instant > until:
                return
            if last is not None and instant <= last:
                # A wall time that does not exist (March) can come back unchanged for a
                # moment past it: step on until the trigger moves.
                moment += timedelta(minutes=1)
                continue
            wall = instant.astimezone(self.zone).replace(tzinfo=None, fold=0)
            if wall != last_wall:
                yield instant
            last, last_wall, moment = instant, wall, instant + timedelta(seconds=1)

    def latest(self, now: datetime) -> datetime | None:
        """The latest due instant at or before `now`."""
        for back in _LOOKBACK:
            found = None
            for instant in self.instants(now - back, now):
                found = instant
            if found is not None:
                return found
        return None

    def due_at(self, now: datetime, *, grace: timedelta) -> datetime | None:
        """The instant a job firing at `now` stands for: the latest one, if it is at most
        `grace` old (APScheduler fires a little late; a repeated wall time fires twice)."""
        latest = self.latest(now)
        if latest is None or now - latest > grace:
            return None
        return latest
