"""Platform events that are not messages, answered so that nobody meets silence.

- `undecryptable`: a message (or a whole room) the bot cannot read because it is
  end-to-end encrypted. The room gets a clear notice — at most one per room per
  `notice_every`, so a busy encrypted room is told without being flooded.
- `keys_missing`: with encryption on, a message whose room key never reached the bot
  (asked for, waited for); the same notice budget per room.
- `redacted`: a message was deleted. Nothing to relay; when the deleted message had
  raised an alert, the room is told that the relayed copies stay where they are.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from bot.context import Fallback, Request
from storage import alert_queries, channel_queries, platform_state

log = logging.getLogger(__name__)

TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "event.undecryptable": (
            "🔒 Ce salon est chiffré de bout en bout : Tocsin ne peut pas encore y lire les "
            "messages. Rien de ce qui est écrit ici n'est lu ni relayé. Pour une alerte, "
            "écrivez dans un salon non chiffré où Tocsin est présent, ou à Tocsin en message "
            "direct non chiffré."
        ),
        "event.keys_missing": (
            "🔒 Tocsin n'a pas pu déchiffrer un message de ce salon : sa clé ne lui est pas "
            "parvenue. Ce message n'est ni lu ni relayé. Renvoyez-le ; si cela se répète, "
            "vérifiez que votre application partage ses clés avec l'appareil de Tocsin."
        ),
        "event.redacted_alert": (
            "🗑 Le message supprimé avait été relayé comme alerte #{id}. Les copies déjà "
            "relayées ne sont pas retirées automatiquement : si elles doivent l'être, "
            "prévenez un·e coordinateur·ice."
        ),
    },
    "en": {
        "event.undecryptable": (
            "🔒 This room is end-to-end encrypted: Tocsin cannot read its messages yet. "
            "Nothing written here is read or relayed. For an alert, write in an unencrypted "
            "room where Tocsin is present, or to Tocsin in an unencrypted direct message."
        ),
        "event.keys_missing": (
            "🔒 Tocsin could not decrypt a message in this room: its key never reached "
            "Tocsin. That message is neither read nor relayed. Send it again; if this "
            "happens again, check that your app shares its keys with Tocsin's device."
        ),
        "event.redacted_alert": (
            "🗑 The deleted message had been relayed as alert #{id}. Copies already relayed "
            "are not withdrawn automatically: if they must be, tell a coordinator."
        ),
    },
}


class EventNotices(Fallback):
    def __init__(self, *, notice_every: timedelta = timedelta(hours=1)):
        self._notice_every = notice_every

    async def handle(self, request: Request) -> bool:
        event = request.inbound.event
        if event in ("undecryptable", "keys_missing"):
            await self._undecryptable(request)
            return True
        if event == "redacted":
            await self._redacted(request)
            return True
        return False

    async def _undecryptable(self, request: Request) -> None:
        inbound = request.inbound
        digest = hashlib.sha256(inbound.chat.encode()).hexdigest()[:32]
        if not await platform_state.claim_undecryptable_notice(
            request.session, inbound.platform, digest, request.now, every=self._notice_every
        ):
            log.info("%s: unreadable message; the room was told recently", inbound.platform)
            return
        await self._use_channel_language(request)
        log.info("%s: unreadable (encrypted) message; notice sent to the room", inbound.platform)
        request.reply(request.t(f"event.{inbound.event}"))

    async def _redacted(self, request: Request) -> None:
        inbound = request.inbound
        if inbound.reply_to is None:
            return  # seen only after its deletion: there is nothing left to handle
        alert_id = await alert_queries.alert_id_from_message(
            request.session, inbound.platform, inbound.chat, inbound.reply_to
        )
        if alert_id is None:
            return
        log.info("%s: the source message of alert %s was deleted", inbound.platform, alert_id)
        await self._use_channel_language(request)
        request.reply(request.t("event.redacted_alert", id=alert_id))

    @staticmethod
    async def _use_channel_language(request: Request) -> None:
        """A room notice speaks the channel's language when the room is a channel."""
        if request.member is not None:
            return
        language = await channel_queries.language_at(
            request.session, request.inbound.platform, request.inbound.chat
        )
        if language:
            request.language = language
