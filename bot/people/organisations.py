"""`/org` (one organisation, created and described from chat) and `/who` (which
organisations are active on a border or theme, with the contact each published)."""

from __future__ import annotations

import re

from alerts.channel_cache import load_targets
from alerts.routing import ALL
from alerts.text import clean_text
from alerts.types import Role
from alerts.vocabulary import Vocabulary
from bot.context import Command, Request
from storage import audit_queries, people_queries
from storage.models import Organisation

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_FIELD = 500


class Organisations:
    def __init__(self, *, vocabulary: Vocabulary) -> None:
        self._vocabulary = vocabulary

    def commands(self) -> list[Command]:
        return [
            Command("org", self.org, help_key="help.org", aliases=("organisation",)),
            Command("who", self.who, help_key="help.who", aliases=("qui",)),
        ]

    async def org(self, request: Request) -> None:
        member = request.known_member
        words = request.args.split(maxsplit=1)
        action = words[0].lower() if words else ""
        rest = clean_text(words[1]).strip() if len(words) > 1 else ""
        if action == "new":
            await self._create(request, rest)
        elif action in ("contact", "description"):
            await self._describe(request, action, rest)
        else:
            wanted = action or member.organisation_id
            organisation = await people_queries.organisation(request.session, wanted)
            if organisation is None:
                request.reply(request.t("org.unknown", id=wanted[:64]))
                return
            await self._show(request, organisation)

    async def _show(self, request: Request, organisation: Organisation) -> None:
        lines = [request.t("org.show", name=organisation.name, id=organisation.id)]
        if organisation.description:
            lines.append(request.t("org.description", description=organisation.description))
        lines.append(
            request.t("org.contact", contact=organisation.contact)
            if organisation.contact
            else request.t("org.no_contact")
        )
        members = await people_queries.members(request.session, organisation.id)
        targets = await load_targets(request.session)
        channels = sum(target.organisation_id == organisation.id for target in targets)
        lines.append(request.t("org.counts", members=len(members), channels=channels))
        request.reply("\n".join(lines))

    async def _create(self, request: Request, rest: str) -> None:
        member = request.known_member
        if member.role != Role.ADMIN.value:
            request.reply(request.t("org.admin_only"))
            return
        parts = rest.split(maxsplit=1)
        if len(parts) != 2 or not _ID.fullmatch(parts[0]):
            request.reply(request.t("org.bad_id") if parts else request.t("org.usage"))
            return
        organisation_id, name = parts[0], parts[1][:200]
        if await people_queries.organisation(request.session, organisation_id) is not None:
            request.reply(request.t("org.exists", id=organisation_id))
            return
        people_queries.add_organisation(request.session, organisation_id, name)
        audit_queries.record(
            request.session,
            action="organisation.created",
            actor_member_id=member.id,
            organisation_id=organisation_id,
            at=request.now,
        )
        request.reply(request.t("org.created", id=organisation_id))

    async def _describe(self, request: Request, field: str, text: str) -> None:
        member = request.known_member
        if not Role(member.role).at_least(Role.ORG_ADMIN):
            request.reply(request.t("org.org_admin_only"))
            return
        if not text or len(text) > MAX_FIELD:
            request.reply(request.t("org.usage"))
            return
        organisation = member.organisation
        setattr(organisation, field, text)
        audit_queries.record(
            request.session,
            action="organisation.changed",
            actor_member_id=member.id,
            organisation_id=organisation.id,
            at=request.now,
            detail=field,
        )
        request.reply(request.t("org.changed", id=organisation.id))

    async def who(self, request: Request) -> None:
        wanted = request.args.strip().lower().lstrip("#")
        is_border = wanted in self._vocabulary.border_ids
        if wanted and not is_border and wanted not in self._vocabulary.theme_ids:
            request.reply(request.t("who.unknown", value=wanted[:64]))
            return
        active: set[str] = set()
        for target in await load_targets(request.session):
            for spec in target.subscriptions:
                values = spec.borders if is_border else spec.themes
                if not wanted or ALL in values or wanted in values:
                    active.add(target.organisation_id)
        scope = request.t("who.scope", value=wanted) if wanted else ""
        organisations = [
            row for row in await people_queries.organisations(request.session) if row.id in active
        ]
        if not organisations:
            request.reply(request.t("who.none", scope=scope))
            return
        lines = [request.t("who.title", scope=scope)]
        for row in organisations:
            contact = row.contact or request.t("org.no_contact")
            lines.append(request.t("who.line", name=row.name, contact=contact))
        request.reply("\n".join(lines))
