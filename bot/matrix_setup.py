"""Building the Matrix relay from the settings, when the deployment has one."""

from __future__ import annotations

from alerts.clock import Clock
from config.loader import LoadedConfig
from relays.matrix import MatrixOptions, MatrixRelay
from relays.matrix_session import MatrixAccount
from storage.database import Database


def matrix_skip_reason(config: LoadedConfig) -> str | None:
    """Why this deployment runs no Matrix relay, for the start-up log; None if it runs one."""
    settings, secrets = config.settings.matrix, config.secrets
    if not settings.homeserver:
        return "[matrix] homeserver not configured"
    if not settings.user_id:
        return "[matrix] user_id not configured"
    if not secrets.matrix_access_token and not secrets.matrix_password:
        return "neither TOCSIN_MATRIX_ACCESS_TOKEN nor TOCSIN_MATRIX_PASSWORD set"
    return None


def matrix_relay(config: LoadedConfig, *, database: Database, clock: Clock) -> MatrixRelay | None:
    """The relay when `[matrix] homeserver` is set and a Matrix secret is in the environment."""
    if matrix_skip_reason(config) is not None:
        return None
    settings, secrets = config.settings.matrix, config.secrets
    assert settings.homeserver and settings.user_id  # checked by matrix_skip_reason
    account = MatrixAccount(
        homeserver=settings.homeserver.rstrip("/"),
        user_id=settings.user_id,
        device_id=settings.device_id,
        access_token=secrets.matrix_access_token,
        password=secrets.matrix_password,
    )
    options = MatrixOptions(
        auto_join=settings.auto_join, decline_strangers=settings.decline_strangers
    )
    return MatrixRelay(account, database=database, clock=clock, options=options)
