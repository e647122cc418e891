"""`/audit [N]`: the last actions, for admins (org-admins: their organisation's)."""

from __future__ import annotations

from collections.abc import Sequence

from alerts.types import Role
from bot.context import Command, Request
from storage import audit_queries
from storage.models import AuditEntry

DEFAULT = 20
MAXIMUM = 200


def audit_line(entry: AuditEntry, erased: str = "-") -> str:
    actor = f"#{entry.actor_member_id}" if entry.actor_member_id is not None else erased
    parts = [entry.at.strftime("%Y-%m-%d %H:%M:%S"), entry.action, actor]
    parts.append(entry.organisation_id or "-")
    if entry.detail:
        parts.append(entry.detail)
    return " · ".join(parts)


def audit_lines(entries: Sequence[AuditEntry], erased: str = "-") -> list[str]:
    return [audit_line(entry, erased) for entry in entries]


class AuditCommand:
    def commands(self) -> list[Command]:
        return [Command("audit", self.audit, help_key="help.audit", aliases=("journal",))]

    async def audit(self, request: Request) -> None:
        member = request.known_member
        word = request.args.strip()
        count = int(word) if word.isdigit() and len(word) < 5 else DEFAULT
        count = max(1, min(count, MAXIMUM))
        scope = None if member.role == Role.ADMIN.value else member.organisation_id
        entries = await audit_queries.latest(request.session, limit=count, organisation_id=scope)
        if not entries:
            request.reply(request.t("audit.none"))
            return
        lines = [request.t("audit.title", count=len(entries))]
        lines.extend(audit_lines(entries, request.t("audit.erased")))
        request.reply("\n".join(lines))
