"""`/members`, `/role`, `/remove`, `/name` and `/forget`: managing people from chat."""

from __future__ import annotations

from alerts.notices import DM_STATE_PREFIX, private_address
from alerts.retention import EMPTY_PAYLOAD
from alerts.text import clean_text
from alerts.types import Role
from bot.context import Command, Request
from bot.people.scope import (
    answer_open,
    is_last_admin,
    out_of_reach,
    parse_role,
    refused_above,
    role_name,
    target_member,
)
from storage import audit_queries, people_queries
from storage.models import Member

MAX_NAME = 60
CONFIRM = ("oui", "yes", "confirm")


def shown_name(request: Request, member: Member | None) -> str:
    """How an author appears: the name they chose and their organisation."""
    if member is None:
        return request.t("former_member")
    name = member.display_name or request.t("members.unnamed")
    return f"{name} ({member.organisation.name})"


class Members:
    def commands(self) -> list[Command]:
        return [
            Command("members", self.members, help_key="help.members", aliases=("membres",)),
            Command("role", self.role),
            Command("remove", self.remove, aliases=("retirer",)),
            Command("name", self.name, help_key="help.name", aliases=("nom",)),
            Command("forget", self.forget, help_key="help.forget", aliases=("oublier",)),
        ]

    async def members(self, request: Request) -> None:
        member = request.known_member
        scope = None if member.role == Role.ADMIN.value else member.organisation_id
        rows = await people_queries.members(request.session, scope)
        lines = [request.t("members.title", count=len(rows))]
        for row in rows:
            lines.append(
                request.t(
                    "members.line",
                    id=row.id,
                    name=row.display_name or request.t("members.unnamed"),
                    organisation=row.organisation.name,
                    role=row.role,
                    platform=row.platform,
                    file=request.t("members.file") if row.source == "config" else "",
                )
            )
        request.reply("\n".join(lines))

    @staticmethod
    def _in_reach(request: Request, target: Member) -> bool:
        """Whether the requester may manage `target`; if not, say why."""
        actor = request.known_member
        problem = out_of_reach(actor, target)
        if problem is None and target.source == "config":
            problem = "people.from_file"
        if problem is not None:
            request.reply(request.t(problem))
        return problem is None

    async def role(self, request: Request) -> None:
        actor = request.known_member
        words = request.args.split()
        wanted = parse_role(words[1]) if len(words) == 2 else None
        if wanted is None:
            request.reply(request.t("role.usage"))
            return
        mine = Role(actor.role)
        target = await target_member(request, words[0])
        if target is None:
            return
        if target.id == actor.id and wanted.rank > mine.rank:
            request.reply(request.t("people.self_upward"))
            return
        if refused_above(request, wanted, mine, "people.role_above"):
            return
        if wanted is not Role.ADMIN and await is_last_admin(request, target):
            request.reply(request.t("people.last_admin"))
            return
        if not self._in_reach(request, target):
            return
        before, target.role = target.role, wanted.value
        audit_queries.record(
            request.session,
            action="member.role",
            actor_member_id=actor.id,
            organisation_id=target.organisation_id,
            at=request.now,
            detail=f"#{target.id} {before}->{wanted.value}",
        )
        request.reply(
            request.t("role.done", number=target.id, role=role_name(request, wanted.value))
        )

    async def remove(self, request: Request) -> None:
        actor = request.known_member
        words = request.args.split()
        if len(words) != 1:
            request.reply(request.t("remove.usage"))
            return
        target = await target_member(request, words[0])
        if target is None:
            return
        if await is_last_admin(request, target):
            request.reply(request.t("people.last_admin"))
            return
        if not self._in_reach(request, target):
            return
        organisation, number = target.organisation, target.id
        await people_queries.unlink_member(request.session, target)
        audit_queries.record(
            request.session,
            action="member.removed",
            actor_member_id=None if number == actor.id else actor.id,
            organisation_id=organisation.id,
            at=request.now,
            detail=f"#{number}",
        )
        request.reply(request.t("remove.done", number=number, organisation=organisation.name))

    async def name(self, request: Request) -> None:
        member = request.known_member
        wanted = " ".join(clean_text(request.args).split())
        if not wanted or len(wanted) > MAX_NAME:
            request.reply(request.t("name.usage", maximum=MAX_NAME))
            return
        member.display_name = wanted
        request.reply(request.t("name.done", name=wanted, organisation=member.organisation.name))

    async def forget(self, request: Request) -> None:
        """Erase a member: `/forget` (oneself) or `/forget <n°>`, then again with `oui`."""
        actor = request.member
        if actor is None:
            answer_open(request, request.t("forget.nothing"))
            return
        words = request.args.lower().split()
        confirmed = bool(words) and words[-1] in CONFIRM
        numbers = [word for word in words if word not in CONFIRM]
        target: Member = actor
        if numbers and numbers[0] != str(actor.id):
            if Role(actor.role).rank < Role.ORG_ADMIN.rank:
                request.reply(request.t("forget.not_allowed"))
                return
            found = await target_member(request, numbers[0])
            if found is None:
                return
            if (problem := out_of_reach(actor, found)) is not None:
                request.reply(request.t(problem))
                return
            target = found
        if await is_last_admin(request, target):
            request.reply(request.t("people.last_admin"))
            return
        if not confirmed:
            whose = "forget.yours" if target.id == actor.id else "forget.theirs"
            args = " ".join([*numbers[:1], "oui"])
            request.reply(request.t("forget.confirm", whose=request.t(whose), args=args))
            return
        await self._erase(request, actor, target)

    @staticmethod
    async def _erase(request: Request, actor: Member, target: Member) -> None:
        organisation_id, number, itself = target.organisation_id, target.id, target.id == actor.id
        address = await private_address(
            request.session, request.outbox.platforms, target.platform, target.user_ref
        )
        if address is not None:  # the answers already sent to them, and the way to reach them
            await people_queries.erase_private_chat(
                request.session, target.platform, address, EMPTY_PAYLOAD
            )
            if address != target.user_ref:
                await people_queries.forget_state(
                    request.session, f"{target.platform}.{DM_STATE_PREFIX}{target.user_ref}"
                )
        await people_queries.unlink_member(request.session, target)
        # Audited without naming the person: no number, and no actor when it was oneself.
        audit_queries.record(
            request.session,
            action="member.erased",
            actor_member_id=None if itself else actor.id,
            organisation_id=organisation_id,
            at=request.now,
        )
        if itself:
            request.member = None
            request.reply(request.t("forget.done"))
        else:
            request.reply(request.t("forget.done_other", number=number))
