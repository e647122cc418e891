"""Feed commands: `/feeds` lists the watched feeds; `/feed add|remove|resume` manage them.

A feed added from chat gets the same safety check as a configured one: its address must
resolve to public addresses only (unless `[feed_watch] allow_private`), checked before
anything is stored. The watcher polls it within a minute; that first poll records what
the feed already holds without announcing it.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from alerts.types import Role
from alerts.vocabulary import Vocabulary
from bot.context import Command, Request
from config.durations import format_duration, parse_duration
from feeds.addresses import Resolver, UnsafeFeedAddress, check_public_url, hide_userinfo
from feeds.polls import json_labels
from feeds.sync import CHAT_SOURCE, CONFIG_SOURCE
from storage import audit_queries, feed_queries
from storage.models import Feed

URL_MAX_CHARS = 2000
DEFAULT_EVERY = timedelta(minutes=30)
_NOT_ID_CHARS = re.compile(r"[^a-z0-9]+")

TEXTS_FR = {
    "help.feeds": "{prefix}feeds — flux surveillés, dernier succès, dernière erreur",
    "help.feed": (
        "{prefix}feed add <url> [thèmes…] [30m] | remove <id> | resume <id> — gérer les flux "
        "(coordinateur·ice)"
    ),
    "feeds.title": "📰 Flux surveillés ({count}) :",
    "feeds.none": "Aucun flux n'est surveillé. Ajoutez-en un : {prefix}feed add <url> [thèmes…]",
    "feeds.entry": "• {id} — {name} ({origin}, toutes les {every})",
    "feeds.origin.config": "configuration",
    "feeds.origin.chat": "ajouté depuis le chat",
    "feeds.labels": "  frontières et thèmes : {labels}",
    "feeds.state": "  dernier succès : {success} · prochaine relève : {next}",
    "feeds.error": "  dernière erreur ({at}) : {error}",
    "feeds.paused": "  ⏸ en pause après {failures} échecs — {prefix}feed resume {id}",
    "feeds.never": "jamais",
    "feeds.time": "%d/%m %H:%M",
    "feed.usage": (
        "Usage : {prefix}feed add <url> [thèmes…] [intervalle], {prefix}feed remove <id>, "
        "{prefix}feed resume <id>"
    ),
    "feed.add.bad_url": (
        "Adresse invalide : {url}. Donnez une adresse http:// ou https:// complète."
    ),
    "feed.add.unsafe": (
        "Flux refusé : cette adresse mène à un réseau privé ou réservé, que Tocsin ne "
        "consulte pas. Détail : {reason}"
    ),
    "feed.add.unresolved": "Flux refusé : impossible de trouver le serveur de {url} ({reason}).",
    "feed.add.unknown_label": (
        "Thème ou frontière inconnu : {label}. Thèmes : {themes}. Frontières : {borders}."
    ),
    "feed.add.duplicate": "Ce flux est déjà surveillé sous l'identifiant {id}.",
    "feed.add.done": (
        "✅ Flux {id} ajouté (toutes les {every}). La première relève, d'ici une minute, "
        "enregistre les articles existants sans les annoncer ; les suivants seront relayés."
    ),
    "feed.unknown": "Flux inconnu : {id}. {prefix}feeds donne la liste.",
    "feed.remove.config": (
        "Le flux {id} est défini dans le fichier de configuration : retirez-le de ce fichier."
    ),
    "feed.remove.done": "🗑 Flux {id} retiré.",
    "feed.resume.not_paused": "Le flux {id} n'est pas en pause.",
    "feed.resume.done": "▶️ Flux {id} relancé : prochaine relève d'ici une minute.",
}

TEXTS_EN = {
    "help.feeds": "{prefix}feeds — watched feeds, last success, last error",
    "help.feed": (
        "{prefix}feed add <url> [themes…] [30m] | remove <id> | resume <id> — manage feeds "
        "(coordinator)"
    ),
    "feeds.title": "📰 Watched feeds ({count}):",
    "feeds.none": "No feed is watched. Add one: {prefix}feed add <url> [themes…]",
    "feeds.entry": "• {id} — {name} ({origin}, every {every})",
    "feeds.origin.config": "configuration",
    "feeds.origin.chat": "added from chat",
    "feeds.labels": "  borders and themes: {labels}",
    "feeds.state": "  last success: {success} · next poll: {next}",
    "feeds.error": "  last error ({at}): {error}",
    "feeds.paused": "  ⏸ paused after {failures} failures — {prefix}feed resume {id}",
    "feeds.never": "never",
    "feeds.time": "%Y-%m-%d %H:%M",
    "feed.usage": (
        "Usage: {prefix}feed add <url> [themes…] [interval], {prefix}feed remove <id>, "
        "{prefix}feed resume <id>"
    ),
    "feed.add.bad_url": "Invalid address: {url}. Give a full http:// or https:// address.",
    "feed.add.unsafe": (
        "Feed refused: this address leads to a private or reserved network, which Tocsin "
        "does not fetch from. Detail: {reason}"
    ),
    "feed.add.unresolved": "Feed refused: cannot find the server of {url} ({reason}).",
    "feed.add.unknown_label": (
        "Unknown theme or border: {label}. Themes: {themes}. Borders: {borders}."
    ),
    "feed.add.duplicate": "This feed is already watched as {id}.",
    "feed.add.done": (
        "✅ Feed {id} added (every {every}). Its first poll, within a minute, records the "
        "existing items without announcing them; later ones will be relayed."
    ),
    "feed.unknown": "Unknown feed: {id}. {prefix}feeds lists them.",
    "feed.remove.config": "Feed {id} is defined in the configuration file: remove it there.",
    "feed.remove.done": "🗑 Feed {id} removed.",
    "feed.resume.not_paused": "Feed {id} is not paused.",
    "feed.resume.done": "▶️ Feed {id} resumed: next poll within a minute.",
}
TEXTS = {"fr": TEXTS_FR, "en": TEXTS_EN}


def feed_id_for(url: str, taken: set[str]) -> str:
    """A short readable id from the host (`www.lacimade.org` → `lacimade-org`), made
    unique with a number."""
    host = (urlsplit(url).hostname or "feed").lower().removeprefix("www.")
    base = _NOT_ID_CHARS.sub("-", host).strip("-")[:56] or "feed"
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}-{number}", number + 1
    return candidate


def added_by(request: Request) -> str:
    """Who added a feed, as `platform:user` (the watcher tells their organisation's admins
    when the feed is paused)."""
    return f"{request.inbound.platform}:{request.inbound.sender}"


class FeedCommands:
    def __init__(
        self,
        *,
        vocabulary: Vocabulary,
        allow_private: bool,
        resolver: Resolver | None = None,
        timezone: str = "Europe/Paris",
    ) -> None:
        self._vocabulary = vocabulary
        self._allow_private = allow_private
        self._resolver = resolver
        self._zone = ZoneInfo(timezone)

    def commands(self) -> list[Command]:
        return [
            Command("feeds", self.list_feeds, help_key="help.feeds", aliases=("flux",)),
            Command("feed", self.feed, Role.COORDINATOR, "help.feed"),
        ]

    # -- /feeds --------------------------------------------------------------------------

    async def list_feeds(self, request: Request) -> None:
        feeds = [feed for feed in await feed_queries.all_feeds(request.session) if feed.enabled]
        if not feeds:
            request.reply(request.t("feeds.none"))
            return
        lines = [request.t("feeds.title", count=len(feeds))]
        for feed in feeds:
            lines.extend(self._describe(request, feed))
        request.reply("\n".join(lines))

    def _describe(self, request: Request, feed: Feed) -> list[str]:
        origin = "config" if feed.source == CONFIG_SOURCE else "chat"
        shown = hide_userinfo(feed.url)  # a feed's password is for fetching it only
        lines = [
            request.t(
                "feeds.entry",
                id=feed.id,
                name=feed.name or shown,
                origin=request.t(f"feeds.origin.{origin}"),
                every=format_duration(timedelta(seconds=feed.every_seconds)),
            ),
            f"  {shown}",
        ]
        labels = [*json_labels(feed.borders), *json_labels(feed.themes)]
        if labels:
            lines.append(request.t("feeds.labels", labels=", ".join(labels)))
        next_poll = None if feed.paused else feed.next_poll_at
        lines.append(
            request.t(
                "feeds.state",
                success=self._when(request, feed.last_success_at),
                next=self._when(request, next_poll),
            )
        )
        if feed.last_error:
            lines.append(
                request.t(
                    "feeds.error",
                    at=self._when(request, feed.last_error_at),
                    error=hide_userinfo(feed.last_error),
                )
            )
        if feed.paused:
            lines.append(request.t("feeds.paused", failures=feed.consecutive_failures, id=feed.id))
        return lines

    def _when(self, request: Request, moment: datetime | None) -> str:
        if moment is None:
            return request.t("feeds.never")
        return moment.astimezone(self._zone).strftime(request.t("feeds.time"))

    # -- /feed add | remove | resume -----------------------------------------------------

    async def feed(self, request: Request) -> None:
        action, _, rest = request.args.partition(" ")
        handlers = {
            "add": self._add,
            "ajouter": self._add,
            "remove": self._remove,
            "retirer": self._remove,
            "resume": self._resume,
            "relancer": self._resume,
        }
        handler = handlers.get(action.lower())
        if handler is None or not rest.strip():
            request.reply(request.t("feed.usage"))
            return
        await handler(request, rest.split())

    async def _add(self, request: Request, words: list[str]) -> None:
        url, labels = words[0], words[1:]
        if not _is_web_url(url):
            request.reply(request.t("feed.add.bad_url", url=hide_userinfo(url)[:200]))
            return
        read = self._read_labels(request, labels)
        if read is None or not await self._may_watch(request, url):
            return
        themes, borders, every = read
        taken = {feed.id for feed in await feed_queries.all_feeds(request.session)}
        feed_id = feed_id_for(url, taken)
        feed_queries.add_feed(
            request.session,
            Feed(
                id=feed_id,
                url=url,
                name=None,
                every_seconds=int(every.total_seconds()),
                themes=json.dumps(list(dict.fromkeys(themes))),
                borders=json.dumps(list(dict.fromkeys(borders))),
                keywords="[]",
                source=CHAT_SOURCE,
                added_by=added_by(request),
                enabled=True,
                paused=False,
                pause_notified=False,
                initialised=False,
                consecutive_failures=0,
                next_poll_at=request.now,
            ),
        )
        _audit(request, "feed.added", feed_id)
        request.reply(request.t("feed.add.done", id=feed_id, every=format_duration(every)))

    def _read_labels(
        self, request: Request, labels: list[str]
    ) -> tuple[list[str], list[str], timedelta] | None:
        """Themes, borders and the polling interval the labels name; None once an unknown
        label is answered."""
        themes: list[str] = []
        borders: list[str] = []
        every = DEFAULT_EVERY
        for label in labels:
            theme = self._vocabulary.theme_by_label(label)
            border = self._vocabulary.border_by_label(label)
            if theme is not None:
                themes.append(theme.id)
            elif border is not None:
                borders.append(border.id)
            elif _is_duration(label):
                every = parse_duration(label)
            else:
                request.reply(
                    request.t(
                        "feed.add.unknown_label",
                        label=label[:100],
                        themes=", ".join(theme.id for theme in self._vocabulary.themes),
                        borders=", ".join(border.id for border in self._vocabulary.borders),
                    )
                )
                return None
        return themes, borders, every

    async def _may_watch(self, request: Request, url: str) -> bool:
        """Whether the address is new and public; if not, the reply says why."""
        existing = await feed_queries.watched_feed_by_url(request.session, url)
        if existing is not None:
            request.reply(request.t("feed.add.duplicate", id=existing.id))
            return False
        try:
            await check_public_url(url, self._allow_private, self._resolver)
        except UnsafeFeedAddress as error:
            request.reply(request.t("feed.add.unsafe", reason=error.reason))
            return False
        except OSError as error:
            request.reply(
                request.t(
                    "feed.add.unresolved",
                    url=hide_userinfo(url)[:200],
                    reason=hide_userinfo(str(error)),
                )
            )
            return False
        return True

    async def _remove(self, request: Request, words: list[str]) -> None:
        feed = await feed_queries.feed(request.session, words[0])
        if feed is None or not feed.enabled:
            request.reply(request.t("feed.unknown", id=words[0][:100]))
            return
        if feed.source == CONFIG_SOURCE:
            request.reply(request.t("feed.remove.config", id=feed.id))
            return
        await feed_queries.delete_feed(request.session, feed.id)
        _audit(request, "feed.removed", feed.id)
        request.reply(request.t("feed.remove.done", id=feed.id))

    async def _resume(self, request: Request, words: list[str]) -> None:
        feed = await feed_queries.feed(request.session, words[0])
        if feed is None or not feed.enabled:
            request.reply(request.t("feed.unknown", id=words[0][:100]))
            return
        if not feed.paused:
            request.reply(request.t("feed.resume.not_paused", id=feed.id))
            return
        feed.paused = feed.pause_notified = False
        feed.consecutive_failures = 0
        feed.next_poll_at = request.now
        request.reply(request.t("feed.resume.done", id=feed.id))


def _audit(request: Request, action: str, feed_id: str) -> None:
    """The audit log (people, issue #15): who added or removed which feed."""
    member = request.member
    audit_queries.record(
        request.session,
        action=action,
        actor_member_id=member.id if member else None,
        organisation_id=member.organisation_id if member else None,
        at=request.now,
        detail=feed_id,
    )


def _is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a port that is not a number)
    except ValueError:
        return False
    return (
        len(url) <= URL_MAX_CHARS
        and parts.scheme.lower() in ("http", "https")
        and bool(parts.hostname)
    )


def _is_duration(text: str) -> bool:
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True
