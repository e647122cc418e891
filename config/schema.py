"""The settings schema: what a deployment file may say, validated by pydantic.

Cross-references (a channel naming a border, a member naming an organisation) are
checked afterwards by `config.references`, which knows the merged vocabulary.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from config import checks

Platform = Literal["telegram", "matrix", "console"]
Role = Literal["observer", "coordinator", "org-admin", "admin"]
Kind = Literal["alert", "mobilisation", "announcement", "digest"]
UrgencyName = Literal["info", "normal", "urgent", "vital"]
Language = Literal["fr", "en"]

Duration = Annotated[
    timedelta, BeforeValidator(checks.duration), AfterValidator(checks.positive_duration)
]
Identifier = Annotated[str, AfterValidator(checks.identifier)]
TimeZone = Annotated[str, AfterValidator(checks.timezone)]
WebUrl = Annotated[str, AfterValidator(checks.web_url)]
Name = Annotated[str, Field(min_length=1)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class StorageSettings(Section):
    url: Annotated[str, AfterValidator(checks.database_url)] = (
        "sqlite+aiosqlite:///tocsin-data/tocsin.db"
    )


class TelegramSettings(Section):
    base_url: WebUrl = "https://api.telegram.org/bot"
    base_file_url: WebUrl | None = None
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: WebUrl | None = None
    listen: Annotated[str, AfterValidator(checks.listen_address)] = "127.0.0.1:8443"
    poll_timeout: int = Field(default=30, ge=0, le=60)
    unclaimed_group_timeout: Duration = timedelta(minutes=10)

    @model_validator(mode="after")
    def _webhook_has_an_address(self) -> TelegramSettings:
        if self.mode == "webhook" and not self.webhook_url:
            raise ValueError('webhook_url: required when mode = "webhook"')
        return self


class MatrixSettings(Section):
    homeserver: WebUrl | None = None
    user_id: Annotated[str, AfterValidator(checks.matrix_user)] | None = None
    device_id: Name | None = None
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
    user: Name = "local"


class PlaceSettings(Section):
    name: Name
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    aliases: tuple[Name, ...] = ()


def _place(value: object) -> object:
    return {"name": value} if isinstance(value, str) else value


class BorderSettings(Section):
    id: Identifier
    name: Name
    places: tuple[Annotated[PlaceSettings, BeforeValidator(_place)], ...] = ()


class ThemeSettings(Section):
    id: Identifier
    name: Name
    keywords: tuple[Name, ...] = ()


class OrganisationSettings(Section):
    id: Identifier
    name: Name
    # Published in `/who` and `/org` (people, issue #15).
    contact: Name | None = None
    description: Name | None = None


class MemberSettings(Section):
    platform: Platform
    user: Name
    organisation: str
    role: Role = "observer"
    language: Language | None = None

    @model_validator(mode="after")
    def _account_fits_the_platform(self) -> MemberSettings:
        problem = checks.account(self.platform, self.user)
        if problem:
            raise ValueError(f"user: {problem}")
        return self


class ChannelSettings(Section):
    id: Identifier
    platform: Platform
    address: Name
    organisation: str
    # Empty lists would make a channel that silently receives nothing.
    kinds: tuple[Kind, ...] = Field(
        default=("alert", "mobilisation", "announcement", "digest"), min_length=1
    )
    borders: tuple[str, ...] = Field(default=("*",), min_length=1)
    themes: tuple[str, ...] = Field(default=("*",), min_length=1)
    min_urgency: UrgencyName = "normal"
    language: Language = "fr"
    timezone: TimeZone = "Europe/Paris"
    quiet: Annotated[str, AfterValidator(checks.quiet_hours)] | None = None
    share_locations: bool = False
    # An empty weekly digest: "say" it in one line, or "skip" it (issue 16).
    digest_empty: Literal["say", "skip"] = "say"

    @model_validator(mode="after")
    def _address_fits_the_platform(self) -> ChannelSettings:
        problem = checks.channel_address(self.platform, self.address)
        if problem:
            raise ValueError(f"address: {problem}")
        return self


class FeedWatchSettings(Section):
    allow_private: bool = False
    max_bytes: int = Field(default=5_000_000, ge=1024, le=1_000_000_000)
    pause_after: int = Field(default=10, ge=1, le=10_000)
    announce_first: int = Field(default=0, ge=0, le=1000)
    concurrency: int = Field(default=8, ge=1, le=256)
    per_host: int = Field(default=2, ge=1, le=64)
    enable: tuple[str, ...] = ()
    # A document that takes longer to parse is refused (feeds/parse_worker.py).
    parse_timeout: Duration = Field(default=timedelta(seconds=5), gt=timedelta(0))


class FeedSettings(Section):
    id: Identifier
    url: WebUrl
    every: Duration = timedelta(minutes=30)
    themes: tuple[str, ...] = ()
    borders: tuple[str, ...] = ()
    keywords: tuple[Name, ...] = ()
    name: Name | None = None


class DigestSettings(Section):
    cron: Annotated[str, AfterValidator(checks.cron)] = "0 8 * * mon"
    timezone: TimeZone = "Europe/Paris"
    # What one digest covers, ending at its scheduled time (issue 16).
    period: Duration = timedelta(days=7)
    archive_dir: Name = "tocsin-data/archive"
    # The Atom feed's permanent `tag:` ids are minted under this name (a domain or an
    # e-mail address the operator owns; it is never contacted).
    archive_authority: Name = "tocsin.invalid"


class AlertSettings(Section):
    max_length: int = Field(default=20_000, ge=100, le=1_000_000)
    group_window: Duration = timedelta(minutes=15)
    # Alerts one member may raise in a minute (0: no limit); `vital` is never refused.
    per_member_per_minute: int = Field(default=10, ge=0)


class DeliverySettings(Section):
    telegram_global_per_second: float = Field(default=30.0, gt=0)
    telegram_private_per_second: float = Field(default=1.0, gt=0)
    telegram_group_per_minute: float = Field(default=20.0, gt=0)
    max_retry: Duration = timedelta(hours=24)
    first_retry_delay: Duration = timedelta(seconds=2)  # then doubling, capped at 15 min


class MobilisationSettings(Section):
    """Rapid-response calls: their deadlines and the pace of their live count."""

    escalate_after: Duration = timedelta(minutes=30)
    escalate_to: tuple[Identifier, ...] = ()  # channel ids; empty: every mobilisation channel
    remind_before: Duration = timedelta(hours=1)
    close_after: Duration = timedelta(hours=6)
    edit_every: Duration = timedelta(seconds=5)
    timezone: TimeZone = "Europe/Paris"  # how `18h` and `demain 9h` are read


class WebSettings(Section):
    """The health and metrics web server; off unless `listen` is set."""

    # "127.0.0.1:8470"; port 0 picks a free port (tests)
    listen: Annotated[str, AfterValidator(checks.listen_address)] | None = None


class PrivacySettings(Section):
    """Retention (people, issue #15): personal content older than this is purged daily;
    anonymous counts stay. Any duration, down to seconds for tests and drills."""

    retention: Duration = timedelta(days=90)
    purge_batch: int = Field(default=500, ge=1, le=100_000)  # alerts per transaction


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
    web: WebSettings = WebSettings()
    privacy: PrivacySettings = PrivacySettings()
    mobilisations: MobilisationSettings = MobilisationSettings()
