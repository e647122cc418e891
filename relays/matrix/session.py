"""Logging the bot in to its homeserver, on one device that survives restarts.

With an access token (`TOCSIN_MATRIX_ACCESS_TOKEN`) the token names its device: nothing to
keep. With a password (`TOCSIN_MATRIX_PASSWORD`) the first login's device id and token are
stored in the platform state and reused, because a new login would make a new device each
time, and the homeserver remembers transaction ids per device: a resend after a restart is
recognised only from the same device. The stored token is read again before any new login,
so several processes sharing the database also share one session instead of logging each
other out (a login on an existing device revokes that device's older tokens).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import nio

from alerts.clock import Clock
from storage import queries
from storage.database import Database

log = logging.getLogger(__name__)

SESSION_STATE_KEY = "matrix.session"
# What a request to the homeserver raises when it got no answer at all.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientError, TimeoutError, OSError)


class MatrixLoginError(Exception):
    """The homeserver refused our credentials: an operator must act."""


class MatrixUnavailable(Exception):
    """The homeserver did not answer usefully (network, 5xx, 429): try again later."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass(frozen=True)
class MatrixAccount:
    homeserver: str
    user_id: str
    device_id: str | None = None
    access_token: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    device_name: str = "Tocsin"


@dataclass(frozen=True)
class StoredSession:
    homeserver: str
    user_id: str
    device_id: str
    access_token: str = field(repr=False)

    def to_json(self) -> str:
        return json.dumps(
            {
                "homeserver": self.homeserver,
                "user_id": self.user_id,
                "device_id": self.device_id,
                "access_token": self.access_token,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> StoredSession | None:
        try:
            data: dict[str, Any] = json.loads(text)
            return cls(
                str(data["homeserver"]),
                str(data["user_id"]),
                str(data["device_id"]),
                str(data["access_token"]),
            )
        except (ValueError, KeyError, TypeError):
            return None


def _error_code(response: object) -> str:
    code = getattr(response, "status_code", None)
    return str(code) if code else "unknown"


def _unavailable(response: nio.ErrorResponse, what: str) -> MatrixUnavailable:
    retry_after_ms = getattr(response, "retry_after_ms", None)
    return MatrixUnavailable(
        f"{what}: {_error_code(response)}",
        retry_after_ms / 1000 if isinstance(retry_after_ms, int) else None,
    )


_REFUSED = {"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_FORBIDDEN", "M_USER_DEACTIVATED"}


class SessionKeeper:
    """Puts a valid access token and device id on a nio client, storing what it learns."""

    def __init__(self, account: MatrixAccount, database: Database, clock: Clock) -> None:
        if not account.access_token and not account.password:
            raise ValueError("a Matrix access token or password is needed")
        self._account = account
        self._db = database
        self._clock = clock

    @property
    def uses_password(self) -> bool:
        return not self._account.access_token and bool(self._account.password)

    async def connect(
        self,
        client: nio.AsyncClient,
        *,
        refused_token: str | None = None,
        usable_device: Callable[[str], bool] | None = None,
    ) -> None:
        """Log `client` in. `refused_token`: the token the homeserver just rejected.

        `usable_device` says whether a stored device can serve again (with encryption,
        only if the crypto store holds its keys); a password login otherwise makes a new
        device.
        """
        account = self._account
        client.user = account.user_id
        client.user_id = account.user_id
        if account.access_token:
            if refused_token == account.access_token:
                raise MatrixLoginError(
                    "the homeserver refused TOCSIN_MATRIX_ACCESS_TOKEN (M_UNKNOWN_TOKEN); "
                    "give the bot a new access token"
                )
            await self._adopt(client, account.access_token, account.device_id)
            return
        stored = await self._stored()
        if stored is not None and usable_device and not usable_device(stored.device_id):
            if account.device_id:
                raise MatrixLoginError(
                    f"the crypto store holds no keys for matrix.device_id "
                    f"{account.device_id}: restore the store, or remove matrix.device_id "
                    "so that Tocsin starts a new device"
                )
            log.warning(
                "Matrix: the crypto store holds no keys for device %s; logging in on a new device",
                stored.device_id,
            )
            await self._log_in(client, None)
            return
        if stored is not None and stored.access_token != refused_token:
            try:
                await self._adopt(client, stored.access_token, stored.device_id)
            except MatrixLoginError:
                log.info("the stored Matrix session is no longer valid; logging in again")
            else:
                return
        device_id = account.device_id or (stored.device_id if stored else None)
        await self._log_in(client, device_id)

    async def _adopt(self, client: nio.AsyncClient, token: str, device_id: str | None) -> None:
        client.access_token = token
        if device_id:
            client.device_id = device_id
        try:
            answer = await client.whoami()
        except TRANSPORT_ERRORS as error:
            raise MatrixUnavailable(f"whoami: {type(error).__name__}") from error
        if isinstance(answer, nio.WhoamiResponse):
            if answer.user_id != self._account.user_id:
                raise MatrixLoginError(
                    f"the Matrix token belongs to {answer.user_id}, "
                    f"not to matrix.user_id {self._account.user_id}"
                )
            if answer.device_id:
                if device_id and answer.device_id != device_id:
                    log.warning(
                        "matrix.device_id is %s but the token's device is %s; using the latter",
                        device_id,
                        answer.device_id,
                    )
                client.device_id = answer.device_id
            client.user_id = answer.user_id
            log.info("Matrix: signed in as %s on device %s", answer.user_id, client.device_id)
            return
        client.access_token = ""
        if _error_code(answer) in _REFUSED:
            raise MatrixLoginError(f"the homeserver refused the token ({_error_code(answer)})")
        raise _unavailable(answer, "whoami")

    async def _log_in(self, client: nio.AsyncClient, device_id: str | None) -> None:
        account = self._account
        if account.password is None:  # checked by the caller before logging in
            raise RuntimeError("logging in without a password")
        client.device_id = device_id or ""
        try:
            answer = await client.login(account.password, device_name=account.device_name)
        except TRANSPORT_ERRORS as error:
            raise MatrixUnavailable(f"login: {type(error).__name__}") from error
        if not isinstance(answer, nio.LoginResponse):
            client.access_token = ""
            if _error_code(answer) in _REFUSED:
                raise MatrixLoginError(
                    f"the homeserver refused the login of {account.user_id} "
                    f"({_error_code(answer)}): check TOCSIN_MATRIX_PASSWORD"
                )
            raise _unavailable(answer, "login")
        session = StoredSession(
            account.homeserver, answer.user_id, answer.device_id, answer.access_token
        )
        client.user_id, client.device_id = answer.user_id, answer.device_id
        client.access_token = answer.access_token
        async with self._db.transaction() as db_session:
            await queries.set_state(
                db_session, SESSION_STATE_KEY, session.to_json(), self._clock.now()
            )
        log.info("Matrix: logged in as %s on device %s (stored)", answer.user_id, answer.device_id)

    async def _stored(self) -> StoredSession | None:
        async with self._db.sessions() as db_session:
            text = await queries.get_state(db_session, SESSION_STATE_KEY)
        stored = StoredSession.from_json(text) if text else None
        account = self._account
        if stored is None or (stored.homeserver, stored.user_id) != (
            account.homeserver,
            account.user_id,
        ):
            return None
        if account.device_id and stored.device_id != account.device_id:
            return None  # the operator chose another device: log in on that one
        return stored
