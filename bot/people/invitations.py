"""`/invite`, `/invites`, `/revoke`, and joining with a code: `/join <code>`, or
`/start <code>` when the Telegram deep link opens the chat."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from alerts.types import Role
from bot.context import Command, Handler, Request
from bot.people import codes
from bot.people.scope import answer_open, parse_role, refused_above, role_name
from config.durations import parse_duration
from relays.base import BotIdentity
from storage import audit_queries, people_queries
from storage.models import Invitation, Organisation

DEFAULT_VALIDITY = timedelta(days=7)
MAX_VALIDITY = timedelta(days=90)
MAX_USES = 1000


class Invitations:
    def __init__(self, *, help_handler: Handler, telegram: BotIdentity | None = None) -> None:
        """`telegram`: the bot's names as the Telegram relay learns them (getMe), for
        the deep link; without it (no Telegram), the link is left out."""
        self._help = help_handler
        self._telegram = telegram

    def commands(self) -> list[Command]:
        return [
            Command("invite", self.invite, help_key="help.invite", aliases=("inviter",)),
            Command("invites", self.invites, help_key="help.invites", aliases=("invitations",)),
            Command("revoke", self.revoke, aliases=("revoquer",)),
            Command("join", self.join, aliases=("rejoindre",)),
            Command("start", self.start),
        ]

    # -- making one -----------------------------------------------------------------------

    async def invite(self, request: Request) -> None:
        member = request.known_member
        parsed = await self._parse(request)
        if parsed is None:
            request.reply(request.t("invite.usage"))
            return
        role, uses, validity, organisation = parsed
        actor = Role(member.role)
        if actor is Role.COORDINATOR and role is not Role.OBSERVER:
            request.reply(request.t("invite.coordinator_observers"))
            return
        if refused_above(request, role, actor, "invite.above"):
            return
        code = codes.new_code()
        until = request.now + validity
        people_queries.add_invitation(
            request.session,
            code_hash=codes.code_hash(code),
            organisation_id=organisation.id,
            role=role.value,
            uses_left=uses,
            expires_at=until,
            created_by_member_id=member.id,
            created_at=request.now,
        )
        audit_queries.record(
            request.session,
            action="invitation.made",
            actor_member_id=member.id,
            organisation_id=organisation.id,
            at=request.now,
            detail=f"{role.value} x{uses}",
        )
        lines = [
            request.t(
                "invite.made",
                role=role_name(request, role.value),
                organisation=organisation.name,
                uses=uses,
                until=until.strftime("%Y-%m-%d %H:%M"),
            )
        ]
        username = min(self._telegram.names) if self._telegram and self._telegram.names else None
        if username:
            link = f"https://t.me/{username}?start={codes.normalise(code)}"
            lines.append(request.t("invite.link", link=link))
        lines.append(request.t("invite.join", code=code))
        request.reply("\n".join(lines))

    async def _parse(self, request: Request) -> tuple[Role, int, timedelta, Organisation] | None:
        member = request.known_member
        role, uses, validity = Role.OBSERVER, 1, DEFAULT_VALIDITY
        organisation: Organisation | None = member.organisation
        for word in request.args.split():
            if (wanted := parse_role(word)) is not None:
                role = wanted
            elif word.isdigit() and len(word) < 6:
                uses = int(word)
            elif member.role == Role.ADMIN.value and (
                other := await people_queries.organisation(request.session, word.lower())
            ):
                organisation = other
            else:
                try:
                    validity = parse_duration(word)
                except ValueError:
                    return None
        if not 1 <= uses <= MAX_USES or validity > MAX_VALIDITY or organisation is None:
            return None
        return role, uses, validity, organisation

    # -- listing and revoking -------------------------------------------------------------

    def _scope(self, request: Request) -> str | None:
        member = request.known_member
        return None if member.role == Role.ADMIN.value else member.organisation_id

    async def invites(self, request: Request) -> None:
        rows = await people_queries.open_invitations(
            request.session, self._scope(request), request.now
        )
        if not rows:
            request.reply(request.t("invites.none"))
            return
        lines = [request.t("invites.title")]
        for row in rows:
            lines.append(
                request.t(
                    "invites.line",
                    id=row.id,
                    role=role_name(request, row.role),
                    organisation=row.organisation_id,
                    uses=row.uses_left,
                    until=row.expires_at.strftime("%Y-%m-%d %H:%M"),
                )
            )
        request.reply("\n".join(lines))

    async def revoke(self, request: Request) -> None:
        member = request.known_member
        word = request.args.strip()
        if not word:
            request.reply(request.t("revoke.usage"))
            return
        rows = await people_queries.open_invitations(
            request.session, self._scope(request), request.now
        )
        wanted = codes.code_hash(word) if codes.looks_like_code(word) else None
        row = next(
            (r for r in rows if str(r.id) == word or (wanted and r.code_hash == wanted)), None
        )
        if row is None:
            request.reply(request.t("revoke.unknown"))
            return
        # A coordinator ends their own invitations; an org-admin their organisation's.
        if member.role == Role.COORDINATOR.value and row.created_by_member_id != member.id:
            request.reply(request.t("revoke.not_yours"))
            return
        row.revoked_at = request.now
        audit_queries.record(
            request.session,
            action="invitation.revoked",
            actor_member_id=member.id,
            organisation_id=row.organisation_id,
            at=request.now,
        )
        request.reply(request.t("revoke.done", id=row.id))

    # -- joining --------------------------------------------------------------------------

    async def start(self, request: Request) -> None:
        """The Telegram deep link sends `/start <code>`; `/start` alone is the help."""
        if request.args.strip():
            await self.join(request)
        elif request.member is not None:
            await self._help(request)
        else:
            answer_open(request, request.t("error.not_member", user=request.inbound.sender))

    async def join(self, request: Request) -> None:
        word = request.args.strip()
        if not word:
            answer_open(request, request.t("invite.join_usage"))
            return
        row = await people_queries.invitation_by_hash(request.session, codes.code_hash(word))
        problem = self._unusable(request, row)
        if problem is not None or row is None:
            answer_open(request, request.t(problem or "invite.unknown"))
            return
        if request.member is not None:
            answer_open(
                request, request.t("invite.already", organisation=request.member.organisation.name)
            )
            return
        if not await self._use(request, row):
            answer_open(request, request.t("invite.used_up"))
            return
        inbound = request.inbound
        joined = await people_queries.add_member(
            request.session,
            platform=inbound.platform,
            user_ref=inbound.sender,
            organisation_id=row.organisation_id,
            role=row.role,
            language=None,
            now=request.now,
        )
        audit_queries.record(
            request.session,
            action="invitation.used",
            actor_member_id=joined.id,
            organisation_id=row.organisation_id,
            at=request.now,
            detail=row.role,
        )
        organisation = await people_queries.organisation(request.session, row.organisation_id)
        answer_open(
            request,
            request.t(
                "invite.welcome",
                organisation=organisation.name if organisation else row.organisation_id,
                role=role_name(request, row.role),
            ),
        )

    @staticmethod
    def _unusable(request: Request, row: Invitation | None) -> str | None:
        if row is None:
            return "invite.unknown"
        if row.revoked_at is not None:
            return "invite.revoked"
        if row.expires_at <= request.now:
            return "invite.expired"
        if row.uses_left <= 0:
            return "invite.used_up"
        return None

    @staticmethod
    async def _use(request: Request, row: Invitation) -> bool:
        """Take one use, unless two people raced for the last one and the other won."""
        result = await request.session.execute(
            update(Invitation)
            .where(Invitation.id == row.id, Invitation.uses_left > 0)
            .values(uses_left=Invitation.uses_left - 1)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
