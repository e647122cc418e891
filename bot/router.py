"""From a neutral inbound message to a handled request, exactly once.

Each inbound update is handled in one transaction that also records its platform id, so
an update delivered twice is recognised and ignored, and a reply is written to the outbox
together with whatever the command changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.clock import Clock
from alerts.i18n import Translator
from alerts.messages import InboundMessage
from alerts.outbox import Outbox
from alerts.platforms import PlatformCatalogue
from alerts.types import LOWEST_PRIORITY
from bot.context import Command, Fallback, Request
from relays.base import replace_lone_surrogates
from storage import platform_state, queries
from storage.database import Database, is_transient
from storage.models import Member

log = logging.getLogger(__name__)
DEFAULT_PREFIX = "/"  # on a platform the catalogue does not know (tests' own relays)
_COMMAND = re.compile(r"^[/!]([A-Za-z_]+)(?:@\S+)?(?:\s+|$)(.*)", re.DOTALL)


class InboundNotRecorded(Exception):
    """Nothing about this update could be stored: do not confirm it to the platform."""

    def __init__(self, platform: str, update_id: str) -> None:
        super().__init__(f"{platform} update {update_id} could not be recorded")


class MessageRouter:
    def __init__(
        self,
        *,
        database: Database,
        commands: Iterable[Command],
        fallbacks: Sequence[Fallback] = (),
        translate: Translator,
        outbox: Outbox,
        clock: Clock,
        default_language: str = "fr",
        platforms: PlatformCatalogue | None = None,
        max_batch: int = 50,
        stranger_answer_every: timedelta = timedelta(minutes=10),
    ) -> None:
        self._db = database
        self._commands: dict[str, Command] = {}
        for command in commands:
            for name in (command.name, *command.aliases):
                self._commands[name] = command
        self._fallbacks = list(fallbacks)
        self._translate = translate
        self._outbox = outbox
        self._clock = clock
        self._default_language = default_language
        self._platforms: PlatformCatalogue = platforms or {}
        self._listed = tuple(dict.fromkeys(self._commands.values()))
        self._max_batch = max_batch
        self._stranger_answer_every = stranger_answer_every
        self._waiting: list[tuple[InboundMessage, asyncio.Future[None]]] = []
        self._batcher: asyncio.Task[None] | None = None

    @property
    def commands(self) -> list[Command]:
        return list(self._listed)

    async def __call__(self, inbound: InboundMessage) -> None:
        """Handle one update; returns once its transaction is committed.

        Updates that arrive while a transaction is being written are handled together in
        the next one, in arrival order (group commit): a burst costs one commit per batch
        instead of one per update, and a lone update is handled at once.
        """
        handled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((inbound, handled))
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._handle_waiting(), name="router")
        # Shielded: a caller that stops waiting does not cancel the batch it is part of.
        await asyncio.shield(handled)

    async def _handle_waiting(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            try:
                await self._handle_batch(batch)
            except BaseException as error:  # cancelled: never leave a caller waiting forever
                stranded, self._waiting = batch + self._waiting, []
                for _, handled in stranded:
                    if handled.done():
                        continue
                    if isinstance(error, asyncio.CancelledError):
                        handled.cancel()
                    else:
                        handled.set_exception(error)
                raise

    async def _handle_batch(self, batch: list[tuple[InboundMessage, asyncio.Future[None]]]) -> None:
        if len(batch) > 1:
            try:
                async with self._db.transaction() as session:
                    for inbound, _ in batch:
                        await self._handle_in(session, inbound)
            except Exception:
                # One update failed: the batch was rolled back; handle each on its own, so
                # the others are not lost and the failing one gets its apology.
                log.warning("a batch of %d updates failed: handled one by one", len(batch))
            else:
                for _, handled in batch:
                    handled.set_result(None)
                return
        for inbound, handled in batch:
            try:
                await self._handle_alone(inbound)
            except InboundNotRecorded as error:
                handled.set_exception(error)
            else:
                handled.set_result(None)

    async def _handle_alone(self, inbound: InboundMessage) -> None:
        try:
            async with self._db.transaction() as session:
                await self._handle_in(session, inbound)
        except Exception as error:
            log.exception("%s update %s: handler failed", inbound.platform, inbound.update_id)
            # "Try again" is only true when the failure was the database's, for a moment;
            # anything else would fail the same way again.
            await self._apologise(
                inbound, "error.transient" if is_transient(error) else "error.internal"
            )

    async def _handle_in(self, session: AsyncSession, inbound: InboundMessage) -> None:
        # Whichever relay built it: a lone surrogate would fail every write, on every retry.
        inbound = replace_lone_surrogates(inbound)
        now = self._clock.now()
        if not await queries.mark_inbound_seen(session, inbound.platform, inbound.update_id, now):
            log.info("%s update %s seen before: ignored", inbound.platform, inbound.update_id)
            return
        member = await queries.member_by_account(session, inbound.platform, inbound.sender)
        await self._handle(self._request(session, inbound, member, now))

    def _request(
        self, session: AsyncSession, inbound: InboundMessage, member: Member | None, now: datetime
    ) -> Request:
        language = member.language if member and member.language else self._default_language
        return Request(
            session=session,
            inbound=inbound,
            member=member,
            language=language,
            now=now,
            translate=self._translate,
            outbox=self._outbox,
            prefix=self._prefix(inbound.platform),
            commands=self._listed,
        )

    def _prefix(self, platform: str) -> str:
        traits = self._platforms.get(platform)
        return traits.command_prefix if traits else DEFAULT_PREFIX

    # A handler bug is answered with an apology and the update marked handled, so one bad
    # message cannot jam the queue. When even that cannot be written (the database is
    # down), `InboundNotRecorded` propagates: the relay must not confirm the update, and
    # the platform delivers it again once the database is back.

    async def _handle(self, request: Request) -> None:
        inbound = request.inbound
        match = _COMMAND.match(inbound.text.strip()) if inbound.text else None
        expected_prefix = request.prefix
        # An edited message is never run again as a command: the fallbacks treat it as a
        # correction (or say it was not applied).
        if match and not inbound.edited and inbound.text.strip().startswith(expected_prefix):
            if not inbound.addressed_to_bot:
                return  # `/alert@otherbot` in a group: the relay said it is not for us
            name, args = match.group(1).lower(), match.group(2)
            request.command, request.args = name, args.strip()
            await self._run_command(request)
            return
        for fallback in self._fallbacks:
            if await fallback.handle(request):
                return
        if request.member is None:
            if inbound.chat_type == "private":
                request.reply(request.t("error.not_member", user=inbound.sender))
            return
        if inbound.chat_type == "private":
            request.reply(request.t("hint.alert"))  # a plain message: say how to raise an alert

    async def _run_command(self, request: Request) -> None:
        command = self._commands.get(request.command)
        if command is not None and command.strangers:  # bot/permissions.py: OPEN
            await command.handler(request)
            return
        if request.member is None:
            log.info("%s: command from a non-member refused", request.inbound.platform)
            await self._refuse_stranger(request)
            return
        if command is None:
            request.reply(
                request.t("error.unknown_command", command=request.prefix + request.command)
            )
            return
        role = request.role
        if role is None or not role.at_least(command.min_role):
            request.reply(
                request.t(
                    "error.forbidden",
                    role=command.min_role.value,
                    current=role.value if role else "-",
                )
            )
            return
        log.info(
            "%s: /%s from a member", request.inbound.platform, command.name
        )
        await command.handler(request)

    async def _refuse_stranger(self, request: Request) -> None:
        """A non-member's command. In a group, everyone there reads the answer and a
        group takes 20 messages a minute: a stranger is answered at most once per
        `stranger_answer_every` (stored, so it holds over a restart and across
        processes), behind everything else queued for the group, alerts first."""
        inbound = request.inbound
        text = request.t("error.not_member", user=inbound.sender)
        if inbound.chat_type == "private":
            request.reply(text)
            return
        digest = hashlib.sha256(f"{inbound.platform}:{inbound.sender}".encode()).hexdigest()
        if await platform_state.claim_stranger_answer(
            request.session,
            inbound.platform,
            digest[:32],
            request.now,
            every=self._stranger_answer_every,
        ):
            request.reply(text, priority=LOWEST_PRIORITY)

    async def _apologise(self, inbound: InboundMessage, key: str) -> None:
        try:
            async with self._db.transaction() as session:
                now = self._clock.now()
                await queries.mark_inbound_seen(session, inbound.platform, inbound.update_id, now)
                request = self._request(session, inbound, None, now)
                request.reply(request.t(key))
        except Exception as error:
            log.exception("could not even apologise for update %s", inbound.update_id)
            raise InboundNotRecorded(inbound.platform, inbound.update_id) from error
