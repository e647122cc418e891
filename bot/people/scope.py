"""Who may act on whom: the rules every people command shares."""

from __future__ import annotations

from alerts.types import LOWEST_PRIORITY, NOTICE_PRIORITY, Role
from bot.context import Request
from storage import people_queries
from storage.models import Member

ROLE_NAMES = {
    **{role.value: role for role in Role},
    # as French speakers may type them
    "observateur": Role.OBSERVER,
    "observatrice": Role.OBSERVER,
    "coordinateur": Role.COORDINATOR,
    "coordinatrice": Role.COORDINATOR,
    "admin-org": Role.ORG_ADMIN,
}


def parse_role(word: str) -> Role | None:
    return ROLE_NAMES.get(word.strip().lower())


def out_of_reach(actor: Member, target: Member) -> str | None:
    """The text key saying why `actor` may not manage `target`, or None."""
    actor_role, target_role = Role(actor.role), Role(target.role)
    if actor_role is not Role.ADMIN and target.organisation_id != actor.organisation_id:
        return "people.other_org"
    if target_role.rank > actor_role.rank:
        return "people.above_you"
    return None


async def target_member(request: Request, word: str) -> Member | None:
    """The member numbered `word`, or None after saying why not."""
    if not word.isdigit() or len(word) > 18:
        request.reply(request.t("people.number"))
        return None
    target = await people_queries.member(request.session, int(word))
    if target is None:
        request.reply(request.t("people.no_member", number=word))
    return target


async def is_last_admin(request: Request, target: Member) -> bool:
    return target.role == Role.ADMIN.value and (
        await people_queries.count_role(request.session, Role.ADMIN.value) <= 1
    )


def role_name(request: Request, role: str) -> str:
    return request.t(f"role.{role}")


def refused_above(request: Request, wanted: Role, mine: Role, key: str) -> bool:
    """True after answering with `key` when `wanted` ranks above the actor's own role:
    nobody hands out (by invitation or by /role) more than they hold."""
    if wanted.rank <= mine.rank:
        return False
    request.reply(
        request.t(key, role=role_name(request, wanted.value), yours=role_name(request, mine.value))
    )
    return True


def answer_open(request: Request, text: str) -> None:
    """Answer a command anyone may send (joining, /forget). A stranger in a group is
    answered behind everything queued for it, so typing codes there never holds up
    the group's alerts (a group takes 20 messages a minute)."""
    stranger_in_group = request.member is None and request.inbound.chat_type != "private"
    request.reply(text, priority=LOWEST_PRIORITY if stranger_in_group else NOTICE_PRIORITY)
