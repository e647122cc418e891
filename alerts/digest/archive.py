"""The network's archive rendered: one HTML page per period (with its SVG chart), the
index of periods, and the Atom feed (feedgen, a maintained generator: it writes valid
Atom and escapes for us). Everything is deterministic for the same facts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from feedgen.feed import FeedGenerator

from alerts.digest.chart import chart
from alerts.digest.model import DigestView, Period
from alerts.digest.render import Words, environment
from alerts.i18n import Translator
from alerts.vocabulary import Vocabulary


@dataclass(frozen=True)
class Entry:
    """One archived period, as the index and the feed list it."""

    scheduled_for: datetime
    period: Period
    totals: dict[str, int]


def page_name(scheduled_for: datetime, timezone: str) -> str:
    local = scheduled_for.astimezone(ZoneInfo(timezone))
    return local.strftime("digest-%Y-%m-%d-%H%M.html")


def tag_id(authority: str, scheduled_for: datetime, timezone: str) -> str:
    """A permanent id (RFC 4151): the same period always gets the same one."""
    local = scheduled_for.astimezone(ZoneInfo(timezone))
    return f"tag:{authority},{local:%Y-%m-%d}:digest/{local:%Y-%m-%dT%H%M}"


def totals_of(view: DigestView) -> dict[str, int]:
    return {
        "alerts": view.total,
        "mobilisations": len(view.mobilisations) + view.more_mobilisations,
        "announcements": sum(len(g.items) + g.more for g in view.announcements),
    }


def totals_json(view: DigestView) -> str:
    return json.dumps(totals_of(view), sort_keys=True)


def read_totals(text: str | None) -> dict[str, int]:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): int(v) for k, v in data.items() if isinstance(v, int)}


def safe_link(href: str | None) -> str | None:
    """Only web and mail links reach the page (no `javascript:`)."""
    if href and urlsplit(href).scheme in ("http", "https"):
        return href
    return None


class ArchiveRenderer:
    def __init__(
        self, vocabulary: Vocabulary, translate: Translator, language: str, authority: str
    ) -> None:
        self._env = environment()
        self._env.globals["safe_link"] = safe_link
        self._words = Words(vocabulary, translate, language)
        self._vocabulary = vocabulary
        self._authority = authority

    def page(self, view: DigestView) -> str:
        w = self._words
        names_b = {row.border: w.border(row.border) for row in view.counts}
        names_t = {row.theme: w.theme(row.theme) for row in view.counts}
        order: list[str | None] = [theme.id for theme in self._vocabulary.themes]
        drawn = chart(view.counts, names_b, names_t, order)
        return self._env.get_template("page.html.j2").render(
            view=view, w=w, t=w.t, chart=drawn, title=w.t("digest.chart")
        )

    def _summary(self, entry: Entry) -> str:
        totals = entry.totals
        return self._words.t(
            "digest.entry_summary",
            total=totals.get("alerts", 0),
            mobilisations=totals.get("mobilisations", 0),
            announcements=totals.get("announcements", 0),
        )

    def index(self, entries: list[Entry]) -> str:
        rows = [
            {
                "page": page_name(e.scheduled_for, e.period.timezone),
                "label": self._words.period(e.period),
                "summary": self._summary(e),
            }
            for e in entries
        ]
        return self._env.get_template("index.html.j2").render(
            entries=rows, w=self._words, t=self._words.t
        )

    def atom(self, entries: list[Entry], base_url: str = "") -> bytes:
        """The feed of the archived periods, latest first; links relative to the folder
        unless `base_url` is given."""
        w = self._words
        feed = FeedGenerator()
        feed.id(f"tag:{self._authority},2026:digests")
        feed.title(w.t("digest.archive_index"))
        feed.language(w.language)
        feed.link(href=f"{base_url}index.html", rel="alternate")
        feed.link(href=f"{base_url}feed.atom", rel="self")
        updated = max((e.scheduled_for for e in entries), default=datetime(2026, 1, 1, tzinfo=UTC))
        feed.updated(updated)
        for entry in reversed(entries):  # feedgen lists the last added first
            item = feed.add_entry()
            item.id(tag_id(self._authority, entry.scheduled_for, entry.period.timezone))
            item.title(f"{w.t('digest.title_network')} — {w.period(entry.period)}")
            item.link(href=base_url + page_name(entry.scheduled_for, entry.period.timezone))
            item.updated(entry.scheduled_for)
            item.published(entry.scheduled_for)
            item.summary(self._summary(entry))
        result: bytes = feed.atom_str(pretty=True)
        return result
