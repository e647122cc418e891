"""The digest archive on the web server: `[digest] archive_dir` served read-only at
`/digests/` (the index, the period pages, the Atom feed). Only plain file names in that
folder are served: no path, no hidden file, nothing else on the disk."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from bot.web.server import Route

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}")
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
}
# The pages load nothing from elsewhere and run no script; say so to the browser too.
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class DigestArchive:
    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/digests", self._to_folder),
            Route("GET", "/digests/", self._file),
            Route("GET", "/digests/{name}", self._file),
        ]

    async def _to_folder(self, _request: web.Request) -> web.StreamResponse:
        raise web.HTTPMovedPermanently("/digests/")

    async def _file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name") or "index.html"
        suffix = Path(name).suffix
        if not _NAME.fullmatch(name) or suffix not in _TYPES:
            raise web.HTTPNotFound()
        path = self._folder / name
        try:
            body = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise web.HTTPNotFound() from None
        return web.Response(body=body, headers={"Content-Type": _TYPES[suffix], **_HEADERS})
