"""Load the deployment: TOML file (or the embedded default) + shipped vocabulary + environment.

Every problem becomes one `ConfigError` whose text names the file, the key and what is
wrong, so `tocsin check` and `tocsin run` can print it on one line.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from config import checks
from config.schema import Settings
from config.secrets import token_shape

_LEADING_KEY = re.compile(r"^([a-z_]+): ")


class ConfigError(Exception):
    """A configuration problem, already phrased for the operator."""


@dataclass(frozen=True)
class Secrets:
    """Credentials: only ever read from the environment, never from a file."""

    telegram_token: str | None = None
    matrix_access_token: str | None = None
    matrix_password: str | None = None
    matrix_store_key: str | None = None

    def __repr__(self) -> str:  # never print a token by accident
        return "Secrets(<redacted>)"


@dataclass(frozen=True)
class LoadedConfig:
    settings: Settings
    secrets: Secrets
    source: str  # the file name shown in messages, or "<embedded default>"
    embedded: bool


EMBEDDED_SOURCE = "<embedded default>"


def _shipped(name: str) -> dict[str, Any]:
    text = resources.files("config").joinpath(name).read_text(encoding="utf-8")
    return tomllib.loads(text)


def load_config(path: str | None, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    env = os.environ if environ is None else environ
    path = path or env.get("TOCSIN_CONFIG") or None
    if path is None:
        raw, source, embedded = _shipped("demo.toml"), EMBEDDED_SOURCE, True
    else:
        raw, source, embedded = _read_file(Path(path)), path, False
    settings = build_settings(raw, source)
    database_url = env.get("TOCSIN_DATABASE_URL")
    if database_url:
        try:
            checks.database_url(database_url)
        except ValueError as error:
            raise ConfigError(f"TOCSIN_DATABASE_URL: {error}") from None
        settings = settings.model_copy(
            update={"storage": settings.storage.model_copy(update={"url": database_url})}
        )
    secrets = Secrets(
        telegram_token=env.get("TOCSIN_TELEGRAM_TOKEN") or None,
        matrix_access_token=env.get("TOCSIN_MATRIX_ACCESS_TOKEN") or None,
        matrix_password=env.get("TOCSIN_MATRIX_PASSWORD") or None,
        matrix_store_key=env.get("TOCSIN_MATRIX_STORE_KEY") or None,
    )
    return LoadedConfig(settings=settings, secrets=secrets, source=source, embedded=embedded)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the file ({error.strerror})") from error
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: the file is not valid UTF-8") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from error


def build_settings(raw: dict[str, Any], source: str) -> Settings:
    """Merge the shipped vocabulary and catalogue into `raw`, validate, check references."""
    for forbidden in ("token", "access_token", "password"):
        for section in ("telegram", "matrix"):
            table = raw.get(section)
            if isinstance(table, dict) and forbidden in table:
                raise ConfigError(
                    f"{source}: {section}.{forbidden}: secrets are read from the environment "
                    f"only (TOCSIN_{section.upper()}_{_secret_env(forbidden)}), "
                    "never from the file"
                )
    _refuse_token_shaped(raw, source)
    _check_duplicates(raw, source)
    merged = dict(raw)
    defaults = _shipped("defaults.toml")
    for key in ("borders", "themes"):
        merged[key] = _merge_by_id(defaults[key], raw.get(key, []))
    merged["feeds"] = _with_catalogue(raw, source)
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as error:
        raise ConfigError(_first_validation_problem(error, source)) from None
    check_references(settings, source)
    return settings


def _refuse_token_shaped(value: object, source: str, location: str = "") -> None:
    """A token pasted anywhere in the file (a base_url, a comment turned value…) is
    refused: the file is not secret, the environment is."""
    if isinstance(value, dict):
        for key, inner in value.items():
            _refuse_token_shaped(inner, source, f"{location}.{key}" if location else str(key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _refuse_token_shaped(inner, source, f"{location}[{index}]")
    elif isinstance(value, str) and (kind := token_shape(value)) is not None:
        raise ConfigError(
            f"{source}: {location}: looks like {kind}; secrets are read from the environment "
            "only (TOCSIN_TELEGRAM_TOKEN, TOCSIN_MATRIX_ACCESS_TOKEN), never from the file"
        )


def _secret_env(key: str) -> str:
    return {"token": "TOKEN", "access_token": "ACCESS_TOKEN", "password": "PASSWORD"}[key]


def _merge_by_id(shipped: list[Any], own: object) -> list[Any]:
    if not isinstance(own, list):
        return own  # type: ignore[return-value]  # pydantic reports the wrong type
    own_ids = {entry.get("id") for entry in own if isinstance(entry, dict)}
    return [entry for entry in shipped if entry["id"] not in own_ids] + own


def _with_catalogue(raw: dict[str, Any], source: str) -> object:
    feeds = raw.get("feeds", [])
    watch = raw.get("feed_watch", {})
    enabled = watch.get("enable", []) if isinstance(watch, dict) else []
    if not enabled or not isinstance(feeds, list) or not isinstance(enabled, list):
        return feeds
    try:
        catalogue = {entry["id"]: entry for entry in _shipped("feed_catalogue.toml")["feeds"]}
    except (FileNotFoundError, KeyError):
        catalogue = {}
    # A catalogue feed the file also lists (same id or same address) is the file's: its
    # own settings win, and the feed is polled, and each item announced, once.
    own_ids = {entry.get("id") for entry in feeds if isinstance(entry, dict)}
    own_addresses = {
        checks.feed_address_key(entry["url"])
        for entry in feeds
        if isinstance(entry, dict) and isinstance(entry.get("url"), str)
    }
    chosen: list[Any] = []
    for index, feed_id in enumerate(enabled):
        if feed_id not in catalogue:
            raise ConfigError(
                f"{source}: feed_watch.enable[{index}]: unknown catalogue feed "
                f'"{feed_id}"{_suggest(str(feed_id), catalogue)}'
            )
        entry = catalogue[feed_id]
        if feed_id in own_ids or checks.feed_address_key(entry["url"]) in own_addresses:
            continue
        keep = {"id", "url", "every", "themes", "borders", "keywords", "name"}
        chosen.append({key: value for key, value in entry.items() if key in keep})
    return feeds + chosen  # the file's own first, so a problem names its index in the file


def _first_validation_problem(error: ValidationError, source: str) -> str:
    problem = error.errors()[0]
    location = _location(problem["loc"])
    kind = problem["type"]
    if kind == "extra_forbidden":
        message = "unknown key"
    elif kind == "missing":
        message = "missing required key"
    else:
        message = str(problem["msg"]).removeprefix("Value error, ")
        if kind == "literal_error":
            message = f"{message} (got {problem['input']!r})"
        # A check across fields names its key first ("address: …"): put it in the location.
        key = _LEADING_KEY.match(message) if kind == "value_error" else None
        if key is not None:
            location = f"{location}.{key.group(1)}" if location != "(top level)" else key.group(1)
            message = message[key.end() :]
    return f"{source}: {location}: {message}"


def _location(parts: Sequence[int | str]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.startswith("function-") or part.startswith("is-instance"):
            continue
        else:
            text += f".{part}" if text else part
    return text or "(top level)"


def _suggest(value: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(known), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _check_duplicates(raw: dict[str, Any], source: str) -> None:
    for key in ("borders", "themes", "organisations", "channels", "feeds"):
        entries = raw.get(key, [])
        if not isinstance(entries, list):
            continue
        seen: set[object] = set()
        for index, entry in enumerate(entries):
            if isinstance(entry, dict) and "id" in entry:
                if entry["id"] in seen:
                    raise ConfigError(f'{source}: {key}[{index}].id: duplicate id "{entry["id"]}"')
                seen.add(entry["id"])
    members = raw.get("members", [])
    if isinstance(members, list):
        accounts: set[tuple[object, object]] = set()
        for index, entry in enumerate(members):
            if isinstance(entry, dict):
                account = (entry.get("platform"), entry.get("user"))
                if account in accounts:
                    raise ConfigError(
                        f"{source}: members[{index}].user: duplicate member "
                        f'"{account[1]}" on {account[0]}'
                    )
                accounts.add(account)


def check_references(settings: Settings, source: str) -> None:
    references = _References(settings, source)
    for index, member in enumerate(settings.members):
        references.check(f"members[{index}].organisation", member.organisation, "organisation")
    _check_channels(settings, source, references)
    for index, feed in enumerate(settings.feeds):
        for border in feed.borders:
            references.check(f"feeds[{index}].borders", border, "border")
        for theme in feed.themes:
            references.check(f"feeds[{index}].themes", theme, "theme")
    _check_feeds_are_distinct(settings, source)
    if settings.matrix.homeserver and not settings.matrix.user_id:
        raise ConfigError(f"{source}: matrix.user_id: required when matrix.homeserver is set")


class _References:
    """Checks that an entry names a border, theme or organisation the file declares."""

    def __init__(self, settings: Settings, source: str) -> None:
        self._source = source
        self._known = {
            "border": {border.id for border in settings.borders},
            "theme": {theme.id for theme in settings.themes},
            "organisation": {organisation.id for organisation in settings.organisations},
        }

    def check(self, location: str, value: str, what: str, star: bool = False) -> None:
        if star and value == "*":
            return
        known = self._known[what]
        if value not in known:
            raise ConfigError(
                f'{self._source}: {location}: unknown {what} "{value}"{_suggest(value, known)}'
            )


def _check_channels(settings: Settings, source: str, references: _References) -> None:
    addresses: set[tuple[str, str]] = set()
    for index, channel in enumerate(settings.channels):
        where = f"channels[{index}]"
        references.check(f"{where}.organisation", channel.organisation, "organisation")
        for border in channel.borders:
            references.check(f"{where}.borders", border, "border", star=True)
        for theme in channel.themes:
            references.check(f"{where}.themes", theme, "theme", star=True)
        if (channel.platform, channel.address) in addresses:
            raise ConfigError(
                f'{source}: {where}.address: "{channel.address}" is already used by another '
                f"{channel.platform} channel"
            )
        addresses.add((channel.platform, channel.address))


def _check_feeds_are_distinct(settings: Settings, source: str) -> None:
    seen_feeds: set[str] = set()
    addresses_seen: dict[str, str] = {}
    for index, feed in enumerate(settings.feeds):
        if feed.id in seen_feeds:
            raise ConfigError(f'{source}: feeds[{index}].id: duplicate id "{feed.id}"')
        seen_feeds.add(feed.id)
        key = checks.feed_address_key(feed.url)
        if key in addresses_seen:
            raise ConfigError(
                f'{source}: feeds[{index}].url: the same feed as "{addresses_seen[key]}" '
                "(each item would be announced twice): keep one entry"
            )
        addresses_seen[key] = feed.id
