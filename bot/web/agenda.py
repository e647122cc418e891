"""`/agenda.ics`: the open calls with a start time as an iCalendar feed (the `icalendar`
library writes the format: escaping, line folding, dates). Each event's UID is stable
(the call's number), so a calendar updates an event rather than duplicating it. The
place is the named place only — never coordinates — and the description is the
count, not the call's words (they may describe people)."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from icalendar import Calendar, Event

from alerts.clock import Clock
from alerts.i18n import Translator
from alerts.mobilisations.copies import call_view
from alerts.mobilisations.counts import count_line
from bot.web.server import Route
from storage import mobilisation_queries
from storage.database import Database

_LENGTH = timedelta(hours=2)  # a call states when to be there, not how long it lasts


class AgendaFeed:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        translate: Translator,
        *,
        language: str = "fr",
        domain: str = "tocsin.invalid",
    ) -> None:
        self._db = database
        self._clock = clock
        self._t = translate
        self._language = language
        self._domain = domain

    def routes(self) -> list[Route]:
        return [Route("GET", "/agenda.ics", self.ics)]

    async def calendar(self) -> bytes:
        now = self._clock.now()
        lang = self._language

        def t(key: str, /, **params: object) -> str:
            return self._t(lang, key, **params)

        calendar = Calendar()
        calendar.add("prodid", "-//Tocsin//mobilisations//FR")
        calendar.add("version", "2.0")
        async with self._db.sessions() as session:
            calls = await mobilisation_queries.open_calls_with_start(session, now - _LENGTH)
            for alert, mobilisation in calls:
                if mobilisation.starts_at is None:
                    continue  # the query reads calls with a start only
                view = await call_view(session, alert, mobilisation)
                event = Event()
                event.add("uid", f"mobilisation-{alert.id}@{self._domain}")
                event.add("dtstamp", alert.updated_at)
                event.add("dtstart", mobilisation.starts_at)
                event.add("dtend", mobilisation.starts_at + _LENGTH)
                event.add("summary", f"{t('kind.mobilisation')} #{alert.id}")
                # The counts only: the call's own words may describe people.
                event.add("description", count_line(list(view.counts), t))
                if alert.place:
                    event.add("location", alert.place)
                calendar.add_component(event)
        return bytes(calendar.to_ical())

    async def ics(self, _request: web.Request) -> web.Response:
        return web.Response(
            body=await self.calendar(), content_type="text/calendar", charset="utf-8"
        )
