"""The settings schema: what a deployment file may say, validated by pydantic.

Cross-references (a channel naming a border, a member naming an organisation) are
checked afterwards by `config.references`, which knows the merged vocabulary.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from config.durations import parse_duration

Platform = Literal["telegram", "matrix", "console"]
Role = Literal["observer", "coordinator", "org-admin", "admin"]
Kind = Literal["alert", "mobilisation", "announcement", "digest"]
UrgencyName = Literal["info", "normal", "urgent", "vital"]
Language = Literal["fr", "en"]

_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


def _duration(value: object) -> object:
    if isinstance(value, str):
        return parse_duration(value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageSettings(Section):
    url: str = "sqlite+aiosqlite:///tocsin-data/tocsin.db"


class TelegramSettings(Section):
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str | None = None
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    listen: str = "127.0.0.1:8443"
    poll_timeout: int = Field(default=30, ge=0, le=60)
    unclaimed_group_timeout: Duration = timedelta(minutes=10)


class MatrixSettings(Section):
    homeserver: str | None = None
    user_id: str | None = None
    device_id: str | None = None
    auto_join: Literal["members", "never"] = "members"
    decline_strangers: bool = False
    # End-to-end encryption (issue 17): the crypto store's folder (default: beside the
    # SQLite database, or `tocsin-data/matrix-store` with PostgreSQL) and whose devices
    # get the room keys.
    encryption: bool = True
    store_path: str | None = None
    trust: Literal["tofu", "cross-signed"] = "tofu"


class ConsoleSettings(Section):
    interactive: bool = False
    user: str = "local"


class PlaceSettings(Section):
    name: str = Field(min_length=1)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    aliases: tuple[str, ...] = ()


def _place(value: object) -> object:
    return {"name": value} if isinstance(value, str) else value


class BorderSettings(Section):
    id: str = Field(pattern=_ID_PATTERN)
    name: str
    places: tuple[Annotated[PlaceSettings, BeforeValidator(_place)], ...] = ()


class ThemeSettings(Section):
    id: str = Field(pattern=_ID_PATTERN)
    name: str
    keywords: tuple[str, ...] = ()


class OrganisationSettings(Section):
    id: str = Field(pattern=_ID_PATTERN)
    name: str


class MemberSettings(Section):
    platform: Platform
    user: str = Field(min_length=1)
    organisation: str
    role: Role = "observer"
    language: Language | None = None


class ChannelSettings(Section):
    id: str = Field(pattern=_ID_PATTERN)
    platform: Platform
    address: str = Field(min_length=1)
    organisation: str
    kinds: tuple[Kind, ...] = ("alert", "mobilisation", "announcement", "digest")
    borders: tuple[str, ...] = ("*",)
    themes: tuple[str, ...] = ("*",)
    min_urgency: UrgencyName = "normal"
    language: Language = "fr"
    timezone: str = "Europe/Paris"
    quiet: str | None = Field(default=None, pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")
    share_locations: bool = False

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f'unknown time zone "{value}"') from error
        return value


class FeedWatchSettings(Section):
    allow_private: bool = False
    max_bytes: int = Field(default=5_000_000, ge=1024)
    pause_after: int = Field(default=10, ge=1)
    announce_first: int = Field(default=0, ge=0)
    concurrency: int = Field(default=8, ge=1)
    per_host: int = Field(default=2, ge=1)
    enable: tuple[str, ...] = ()


class FeedSettings(Section):
    id: str = Field(pattern=_ID_PATTERN)
    url: str = Field(pattern=r"^https?://")
    every: Duration = timedelta(minutes=30)
    themes: tuple[str, ...] = ()
    borders: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    name: str | None = None


class DigestSettings(Section):
    cron: str = "0 8 * * mon"
    timezone: str = "Europe/Paris"


class AlertSettings(Section):
    max_length: int = Field(default=20_000, ge=100)
    group_window: Duration = timedelta(minutes=15)


class DeliverySettings(Section):
    telegram_global_per_second: float = Field(default=30.0, gt=0)
    telegram_private_per_second: float = Field(default=1.0, gt=0)
    telegram_group_per_minute: float = Field(default=20.0, gt=0)
    max_retry: Duration = timedelta(hours=24)
    first_retry_delay: Duration = timedelta(seconds=2)  # then doubling, capped at 15 min


class Settings(Section):
    """A whole deployment file, after defaults were merged in."""

    language: Language = "fr"
    storage: StorageSettings = StorageSettings()
    telegram: TelegramSettings = TelegramSettings()
    matrix: MatrixSettings = MatrixSettings()
    console: ConsoleSettings = ConsoleSettings()
    borders: tuple[BorderSettings, ...] = ()
    themes: tuple[ThemeSettings, ...] = ()
    organisations: tuple[OrganisationSettings, ...] = ()
    members: tuple[MemberSettings, ...] = ()
    channels: tuple[ChannelSettings, ...] = ()
    feed_watch: FeedWatchSettings = FeedWatchSettings()
    feeds: tuple[FeedSettings, ...] = ()
    digest: DigestSettings = DigestSettings()
    alerts: AlertSettings = AlertSettings()
    delivery: DeliverySettings = DeliverySettings()
