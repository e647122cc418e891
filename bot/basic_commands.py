"""The basics every member has: `/help`, `/whoami`, `/lang`, `/borders`."""

from __future__ import annotations

from alerts.text import clean_text
from alerts.vocabulary import Vocabulary
from bot.context import Command, Request

_MAX_SHOWN = 24  # characters of an unknown language code echoed back


class BasicCommands:
    def __init__(self, *, vocabulary: Vocabulary) -> None:
        self._vocabulary = vocabulary

    def commands(self) -> list[Command]:
        return [
            Command("borders", self.borders, help_key="help.borders", aliases=("frontieres",)),
            Command("whoami", self.whoami, help_key="help.whoami", aliases=("moi",)),
            Command("lang", self.language, help_key="help.language", aliases=("langue",)),
            Command("help", self.help, help_key="help.help", aliases=("aide",)),
        ]

    async def borders(self, request: Request) -> None:
        lines = [request.t("borders.title")]
        for border in self._vocabulary.borders:
            places = ", ".join(place.name for place in border.places)
            lines.append(f"#{border.id} — {border.name}: {places}")
        request.reply("\n".join(lines))

    async def whoami(self, request: Request) -> None:
        member = request.member
        if member is None:
            return  # the router runs commands for members only
        request.reply(
            request.t(
                "whoami",
                user=member.user_ref,
                platform=member.platform,
                organisation=member.organisation_id,
                role=member.role,
            )
        )

    async def language(self, request: Request) -> None:
        """`/lang xx` sets the reply language; alone or with one not available, lists them."""
        wanted = clean_text(request.args).lower()
        available = request.translate.languages
        if wanted not in available:
            choices = ", ".join(
                f"{code} ({request.translate(code, 'language.name')})" for code in available
            )
            if not wanted:
                other = next((code for code in available if code != request.language), "fr")
                request.reply(request.t("language.current", choices=choices, example=other))
            else:
                shown = wanted if len(wanted) <= _MAX_SHOWN else wanted[:_MAX_SHOWN] + "…"
                request.reply(request.t("language.unknown", wanted=shown, choices=choices))
            return
        if request.member is None:
            return  # the router runs commands for members only
        request.member.language = wanted
        request.language = wanted
        request.reply(request.t("language.set"))

    async def help(self, request: Request) -> None:
        role = request.role
        lines = [request.t("help.title")]
        for command in request.commands:
            if command.help_key and role is not None and role.at_least(command.min_role):
                lines.append(request.t(command.help_key))
        lines.append(request.t("help.footer"))
        request.reply("\n".join(lines))
