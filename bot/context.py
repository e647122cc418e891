"""What a command handler is given: who asked, where, and how to answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.i18n import Translator
from alerts.messages import Button, InboundMessage, OutboundMessage, text_message
from alerts.outbox import NOTICE, FactRef, Outbox, Target
from alerts.types import NOTICE_PRIORITY, Role
from storage.models import Member


@dataclass
class Request:
    """One inbound message being handled, inside its transaction."""

    session: AsyncSession
    inbound: InboundMessage
    member: Member | None
    language: str
    now: datetime
    translate: Translator
    outbox: Outbox
    prefix: str  # what commands start with on this platform (its traits say)
    commands: Sequence[Command] = ()  # every command of the bot, in help order
    command: str = ""
    args: str = ""
    replies: list[OutboundMessage] = field(default_factory=list)

    @property
    def known_member(self) -> Member:
        """The member, for commands the router runs for members only."""
        if self.member is None:
            raise RuntimeError("a members' command reached without a member")
        return self.member

    @property
    def role(self) -> Role | None:
        return Role(self.member.role) if self.member else None

    def t(self, key: str, /, **params: object) -> str:
        return self.translate(self.language, key, prefix=self.prefix, **params)

    def reply(
        self,
        text: str | OutboundMessage,
        *,
        buttons: tuple[tuple[Button, ...], ...] = (),
        fact: FactRef = NOTICE,
        priority: int = NOTICE_PRIORITY,
    ) -> None:
        """Answer in the chat the message came from, through the outbox."""
        message = text if isinstance(text, OutboundMessage) else text_message(text, buttons=buttons)
        self.replies.append(message)
        self.outbox.enqueue(
            self.session,
            Target(self.inbound.platform, self.inbound.chat),
            message,
            fact=fact,
            priority=priority,
            now=self.now,
        )


Handler = Callable[[Request], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    name: str
    handler: Handler
    min_role: Role = Role.OBSERVER
    help_key: str | None = None
    aliases: tuple[str, ...] = ()
    # Answered for non-members too (bot/permissions.py sets it: joining, /forget).
    strangers: bool = False


class Fallback:
    """Handles what is not a command (button presses, conversation steps, photos).

    Returns True when it took the message. Feature modules subclass it.
    """

    async def handle(self, request: Request) -> bool:  # noqa: ARG002 (the base takes nothing)
        return False
