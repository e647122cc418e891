"""Root stage: the Matrix relay from the settings, when the deployment has one."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.engine import make_url

from alerts.clock import Clock
from config.loader import ConfigError, LoadedConfig
from relays.images import PhotoSource
from relays.matrix.crypto import E2EE, CryptoOptions
from relays.matrix.relay import MatrixOptions, MatrixRelay
from relays.matrix.session import MatrixAccount
from storage.database import Database

log = logging.getLogger(__name__)

DEFAULT_STORE_FOLDER = "tocsin-data/matrix-store"


def matrix_skip_reason(config: LoadedConfig, *, worker: bool = False) -> str | None:
    """Why this process runs no Matrix relay, for the start-up log; None if it runs one.

    With encryption on, only `tocsin run` holds the crypto store: two processes on one
    store would each make and spend one-time keys and room keys the other does not know.
    A `tocsin worker` then leaves every Matrix delivery to `tocsin run`.
    """
    settings, secrets = config.settings.matrix, config.secrets
    if not settings.homeserver:
        return "[matrix] homeserver not configured"
    if not settings.user_id:
        return "[matrix] user_id not configured"
    if not secrets.matrix_access_token and not secrets.matrix_password:
        return "neither TOCSIN_MATRIX_ACCESS_TOKEN nor TOCSIN_MATRIX_PASSWORD set"
    if settings.encryption and worker:
        return "encryption is on, Matrix deliveries are left to `tocsin run`"
    return None


def matrix_relay(
    config: LoadedConfig,
    *,
    database: Database,
    clock: Clock,
    worker: bool = False,
    photo_sources: Mapping[str, PhotoSource] | None = None,
) -> MatrixRelay | None:
    """The relay when `[matrix] homeserver` is set and a Matrix secret is in the environment
    (see `matrix_skip_reason`)."""
    if matrix_skip_reason(config, worker=worker) is not None:
        return None
    settings, secrets = config.settings.matrix, config.secrets
    if not settings.homeserver or not settings.user_id:  # matrix_skip_reason said so
        return None
    crypto: E2EE | None = None
    if settings.encryption:
        if not secrets.matrix_store_key:
            raise ConfigError(
                f"{config.source}: matrix.encryption: TOCSIN_MATRIX_STORE_KEY must be set "
                "(the key of the Matrix crypto store), or set encryption = false"
            )
        crypto_options = CryptoOptions(
            store_path=store_folder(config),
            store_key=secrets.matrix_store_key,
            trust=settings.trust,
        )
        crypto = E2EE(
            crypto_options, database=database, clock=clock, password=secrets.matrix_password
        )
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
    return MatrixRelay(
        account,
        database=database,
        clock=clock,
        options=options,
        crypto=crypto,
        photo_sources=photo_sources,
    )


def store_folder(config: LoadedConfig) -> Path:
    """`[matrix] store_path`, else `matrix-store` beside the SQLite database."""
    configured = config.settings.matrix.store_path
    if configured:
        return Path(configured)
    url = make_url(config.settings.storage.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent / "matrix-store"
    return Path(DEFAULT_STORE_FOLDER)
