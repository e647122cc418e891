"""Client-server API calls that matrix-nio has no method for (keys and cross-signing)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import nio

from relays.matrix.session import MatrixUnavailable


class MatrixApiError(Exception):
    """The homeserver refused a request (4xx): not worth retrying as it is."""

    def __init__(self, path: str, status: int, body: Mapping[str, Any]) -> None:
        super().__init__(f"{path}: HTTP {status} {body.get('errcode', '')}".strip())
        self.status = status
        self.body = body


class UiaRequired(MatrixApiError):
    """The homeserver asks for user-interactive authentication (HTTP 401 with flows)."""

    @property
    def session(self) -> str | None:
        session = self.body.get("session")
        return session if isinstance(session, str) else None


async def matrix_api(
    client: nio.AsyncClient, method: str, path: str, body: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One client-server API call nio has no method for; raises on an error answer."""
    if client.client_session is None:
        raise RuntimeError("signed in first")
    response = await client.send(
        method,
        f"/_matrix/client/v3/{path}",
        json.dumps(body) if body is not None else None,
        headers={"Authorization": f"Bearer {client.access_token}"},
    )
    async with response:
        data = await response.json(content_type=None)
    if response.status == 429 or response.status >= 500:
        raise MatrixUnavailable(f"{path}: HTTP {response.status}")
    if response.status == 401 and isinstance(data, dict) and "flows" in data:
        raise UiaRequired(path, response.status, data)
    if response.status >= 400 or not isinstance(data, dict):
        raise MatrixApiError(path, response.status, data if isinstance(data, dict) else {})
    return data
