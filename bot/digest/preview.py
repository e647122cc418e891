"""`tocsin digest preview [--since 7d] [--channel ID] [--format html|text|telegram|matrix]`:
print a digest of the last days without sending or recording anything.

Without `--channel` it is the network's digest; `html` prints the archive's page, the
other formats the chat digest as each platform would receive it, split into its parts."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TextIO

from alerts.channel_cache import load_targets
from alerts.digest.archive import ArchiveRenderer
from alerts.digest.audience import NETWORK, select_view
from alerts.digest.gather import gather
from alerts.digest.model import Period
from alerts.digest.render import ChatRenderer
from alerts.messages import OutboundMessage
from alerts.outbox import Outbox
from alerts.routing import ChannelTarget
from bot.config_sync import REMOVED, spec_of
from bot.digest.command import since_of
from bot.digest.service import audience_of
from bot.wiring.platforms import platform_catalogue
from bot.wiring.texts import translator
from bot.wiring.vocabulary import vocabulary_from
from config.loader import ConfigError, LoadedConfig
from config.schema import Settings
from relays.markup import to_html, to_plain
from storage.database import open_database

FORMATS = ("html", "text", "telegram", "matrix")


def add_arguments(digest: argparse.ArgumentParser) -> None:
    sub = digest.add_subparsers(dest="digest_command", required=True)
    preview = sub.add_parser("preview", help="print a digest; nothing is sent or recorded")
    preview.add_argument("--config", help="TOML file (default: $TOCSIN_CONFIG)")
    preview.add_argument(
        "--since", default="", help="the period, ending now (default: [digest] period)"
    )
    preview.add_argument("--channel", help="a channel's digest (default: the network's)")
    preview.add_argument("--format", choices=FORMATS, default="text")


def formatted(message: OutboundMessage, form: str) -> str:
    """The chat digest as `form`'s platform receives it, part by part."""
    platform = {"text": "console", "telegram": "telegram", "matrix": "matrix"}[form]
    parts = Outbox(platform_catalogue()).split(message, platform)
    shown = []
    for index, part in enumerate(parts, 1):
        if form == "telegram":
            body = to_html(part)
        elif form == "matrix":
            html = to_html(part, newline="<br>", separator="</p><p>")
            body = f"formatted_body:\n<p>{html}</p>\nbody:\n{to_plain(part)}"
        else:
            body = to_plain(part)
        shown.append(f"--- {index}/{len(parts)} ---\n{body}" if len(parts) > 1 else body)
    return "\n".join(shown)


def _from_file(settings: Settings, channel_id: str) -> ChannelTarget | None:
    """A channel of the configuration file the database does not hold yet (Tocsin has
    not run with this file)."""
    for channel in settings.channels:
        if channel.id == channel_id:
            return ChannelTarget(
                id=channel.id,
                platform=channel.platform,
                address=channel.address,
                organisation_id=channel.organisation,
                language=channel.language,
                timezone=channel.timezone,
                quiet=channel.quiet,
                muted_until=None,
                share_locations=False,
                subscriptions=(spec_of(channel),),
            )
    return None


async def preview(config: LoadedConfig, args: argparse.Namespace, out: TextIO) -> int:
    settings = config.settings
    try:
        since = since_of(args.since, settings.digest.period)
    except ValueError:
        raise ConfigError(f"--since: invalid duration {args.since!r} (e.g. 7d, 48h)") from None
    translate = translator()
    vocabulary = vocabulary_from(settings)
    now = datetime.now(UTC)
    period = Period(now - since, now, settings.digest.timezone)
    database = await open_database(settings.storage.url)
    try:
        async with database.sessions() as session:
            facts = await gather(session, period, removed_reason=REMOVED)
            targets = await load_targets(session) if args.channel else []
    finally:
        await database.close()
    language: str = settings.language
    view = select_view(facts, NETWORK)
    if args.channel:
        target = next((t for t in targets if t.id == args.channel), None)
        target = target or _from_file(settings, args.channel)
        audience = audience_of(target) if target else None
        if target is None or audience is None:
            raise ConfigError(f"--channel: no active channel {args.channel!r} takes the digest")
        view, language = select_view(facts, audience), target.language
    if args.format == "html":
        authority = settings.digest.archive_authority
        renderer = ArchiveRenderer(vocabulary, translate, language, authority)
        out.write(renderer.page(view))
    else:
        message = ChatRenderer(vocabulary, translate).render(view, language)
        out.write(formatted(message, args.format) + "\n")
    return 0
