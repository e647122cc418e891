"""Who may look at or close a call or an alert: its author, the org-admins of its
organisation, admins."""

from __future__ import annotations

from alerts.types import Role
from storage.models import Alert, Member


def may_manage(member: Member | None, alert: Alert) -> bool:
    if member is None:
        return False
    role = Role(member.role)
    if role.at_least(Role.ADMIN) or alert.author_member_id == member.id:
        return True
    return role.at_least(Role.ORG_ADMIN) and member.organisation_id == alert.organisation_id
