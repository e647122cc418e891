"""Root stage: what each platform is like, as its relay package declares it, and how fast
the dispatcher may send to it.

Every platform Tocsin knows is in the catalogue, its relay running in this process or
not: a worker without the Matrix relay still writes Matrix deliveries, split to fit."""

from __future__ import annotations

from alerts.platforms import PlatformCatalogue
from config.schema import DeliverySettings
from relays.console import TRAITS as CONSOLE
from relays.dispatch_policy import telegram_limits
from relays.matrix.traits import TRAITS as MATRIX
from relays.ratelimit import PlatformLimits
from relays.telegram.traits import TRAITS as TELEGRAM


def platform_catalogue() -> PlatformCatalogue:
    return {traits.name: traits for traits in (TELEGRAM, MATRIX, CONSOLE)}


def delivery_limits(
    settings: DeliverySettings, platforms: PlatformCatalogue
) -> dict[str, PlatformLimits]:
    # Matrix is paced by the homeserver's own 429 answers; the console has no limit.
    limits = {name: PlatformLimits() for name in platforms}
    limits[TELEGRAM.name] = telegram_limits(
        settings.telegram_global_per_second,
        settings.telegram_private_per_second,
        settings.telegram_group_per_minute,
    )
    return limits
