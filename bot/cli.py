"""The `tocsin` command line. Every configuration or database problem is one clear line
on standard error and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from importlib.metadata import PackageNotFoundError, version

from bot import feeds_check, privacy_cli, redaction
from bot.app import Application, build
from bot.digest import preview as digest_preview
from bot.routing_table import routing_table
from config.loader import ConfigError, LoadedConfig, load_config
from relays.matrix.crypto import MatrixStoreError
from storage.database import StorageError, upgrade


def _version() -> str:
    try:
        return version("tocsin")
    except PackageNotFoundError:
        return "0+unknown"


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs each request URL at INFO, and Telegram URLs contain the bot token.
    for noisy in (
        "httpx",
        "httpcore",
        "telegram.ext",
        "apscheduler",
        "nio",
        "aiosqlite",
        "alembic",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    redaction.install(redaction.SecretRedactor())  # token-shaped strings, whatever the level


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="tocsin", description="Tocsin: the alert bell.")
    root.add_argument("--version", action="version", version=f"tocsin {_version()}")
    root.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = root.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "run everything in one process"),
        ("worker", "run an extra outbox dispatcher"),
        ("check", "validate the configuration and print the routing table"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument("--config", help="TOML file (default: $TOCSIN_CONFIG)")
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_upgrade = db_sub.add_parser("upgrade", help="apply the migrations")
    db_upgrade.add_argument("--config", help="TOML file (default: $TOCSIN_CONFIG)")
    feeds_check.add_arguments(sub.add_parser("feeds", help="feed tools"))
    privacy_cli.add_arguments(sub)
    digest_preview.add_arguments(sub.add_parser("digest", help="the weekly digest"))
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure_logging(args.log_level)
    try:
        return _dispatch(args)
    except (ConfigError, StorageError, MatrixStoreError) as error:
        print(f"tocsin: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    secrets = config.secrets
    redaction.install(
        redaction.SecretRedactor(
            [
                secrets.telegram_token,
                secrets.matrix_access_token,
                secrets.matrix_password,
                secrets.matrix_store_key,
            ]
        )
    )
    if args.command == "check":
        print(f"{config.source}: configuration valid")
        for line in routing_table(config.settings):
            print(line)
        return 0
    if args.command == "feeds":
        return asyncio.run(
            feeds_check.check_feed(
                config.settings, args.url, sys.stdout, sys.stderr, keywords=args.keywords
            )
        )
    if args.command == "digest":
        return asyncio.run(digest_preview.preview(config, args, sys.stdout))
    if args.command in privacy_cli.COMMANDS:
        return asyncio.run(privacy_cli.run(args, config.settings, sys.stdout))
    if args.command == "db":
        revision = asyncio.run(upgrade(config.settings.storage.url))
        print(f"database at revision {revision}")
        return 0
    if args.command == "worker" and config.settings.storage.url.startswith("sqlite"):
        raise ConfigError(
            f"{config.source}: storage.url: `tocsin worker` needs PostgreSQL; "
            "on SQLite the dispatcher of `tocsin run` is the only one"
        )
    asyncio.run(_run(config, receive=args.command == "run"))
    return 0


async def _run(config: LoadedConfig, *, receive: bool) -> None:
    wiring = await build(config, worker=not receive)
    await Application(wiring, receive=receive).run()


if __name__ == "__main__":
    sys.exit(main())
