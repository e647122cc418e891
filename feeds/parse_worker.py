"""Parse feeds in a child process with a deadline.

feedparser is pure Python and some documents cost it minutes (5 MB of nested tags took
54 s of CPU). A thread cannot be stopped, so a parse that overran would keep its CPU and
memory until it finished on its own; a process can be killed. So one long-lived child,
``python -m feeds.parse_worker``, parses one document at a time; when a document takes
longer than the deadline, the child is killed, the feed gets a clear failure (backed off
like any other), and a fresh child takes the next document. Other feeds wait at most one
deadline for their turn, and the deadline counts from the moment the child takes the
document, never the time spent queueing.

The child is our own small program rather than a multiprocessing pool: it can be killed
without touching private attributes, it imports only the parser (not the parent's main
module), and it answers in JSON, so nothing from a process that read hostile input is
unpickled here. Frames on its stdin/stdout: a 4-byte big-endian length, then the bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import struct
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from feeds.addresses import hide_userinfo
from feeds.parse import FeedItem, FeedParseError, ParsedFeed, parse_feed

DEFAULT_PARSE_TIMEOUT = 5.0
START_TIMEOUT = 60.0  # starting Python and importing feedparser, on a busy machine
_LENGTH = struct.Struct(">I")
# The child finds this package where the parent found it (a source checkout too).
_SOURCE_ROOT = str(Path(__file__).resolve().parents[1])


class ParserStopped(FeedParseError):
    """The parsing process died or broke the protocol (not the document's fault alone)."""


def _encode_feed(parsed: ParsedFeed) -> dict[str, Any]:
    data = asdict(parsed)
    for item in data["items"]:
        published = item["published"]
        item["published"] = published.isoformat() if published else None
    return data


def _decode_feed(data: dict[str, Any]) -> ParsedFeed:
    items = []
    for item in data["items"]:
        published = item.pop("published")
        items.append(
            FeedItem(**item, published=datetime.fromisoformat(published) if published else None)
        )
    return ParsedFeed(
        title=data["title"], link=data["link"], items=tuple(items), warning=data["warning"]
    )


class ParseWorker:
    """The parent's side: ``await worker.parse(...)`` as one would call parse_feed."""

    def __init__(
        self, timeout: float = DEFAULT_PARSE_TIMEOUT, command: Sequence[str] | None = None
    ) -> None:
        if timeout <= 0:
            raise ValueError("the parse timeout must be positive")
        self.timeout = timeout
        self._command = list(command or [sys.executable, "-m", "feeds.parse_worker"])
        self._process: asyncio.subprocess.Process | None = None
        self._turn = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs (benchmarks read its CPU time)."""
        return self._process.pid if self._process is not None else None

    async def parse(self, body: bytes, content_type: str | None, base_url: str) -> ParsedFeed:
        """Like parse_feed; raises FeedParseError, also when the deadline passes."""
        shown = hide_userinfo(base_url)
        header = json.dumps({"content_type": content_type, "url": base_url}).encode()
        request = _LENGTH.pack(len(header)) + header + _LENGTH.pack(len(body)) + body
        async with self._turn:
            process = await self._started()
            if process.stdin is None or process.stdout is None:  # started with two pipes
                raise RuntimeError("the feed parser process has no pipes")
            try:
                async with asyncio.timeout(self.timeout):
                    process.stdin.write(request)
                    await process.stdin.drain()
                    size = _LENGTH.unpack(await process.stdout.readexactly(_LENGTH.size))[0]
                    reply = json.loads(await process.stdout.readexactly(size))
            except TimeoutError:
                await self._stop()
                raise FeedParseError(
                    f"the document from {shown} took longer than {self.timeout:g} s to "
                    "parse; refused (a pathological or hostile document?)"
                ) from None
            except (OSError, EOFError, ValueError) as error:  # died, e.g. out of memory
                code = process.returncode
                await self._stop()
                raise ParserStopped(
                    f"the parser stopped while reading the document from {shown} "
                    f"({type(error).__name__}, exit code {code})"
                ) from None
            except BaseException:  # cancelled mid-document: the child's state is unknown
                await self._stop()
                raise
        if "error" in reply:
            raise FeedParseError(reply["error"])
        if "crash" in reply:
            raise ParserStopped(f"the parser failed on the document from {shown}: {reply['crash']}")
        return _decode_feed(reply["feed"])

    async def _started(self) -> asyncio.subprocess.Process:
        if self._process is not None and self._process.returncode is None:
            return self._process
        path = os.pathsep.join(filter(None, [_SOURCE_ROOT, os.environ.get("PYTHONPATH")]))
        process = await asyncio.create_subprocess_exec(
            *self._command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
        )
        if process.stdout is None:  # started with stdout=PIPE
            raise RuntimeError("the feed parser process has no stdout pipe")
        try:
            async with asyncio.timeout(START_TIMEOUT):
                await process.stdout.readexactly(1)  # "ready", once its imports are done
        except (TimeoutError, EOFError) as error:
            process.kill()
            await process.wait()
            raise ParserStopped(f"the feed parser process did not start ({error!r})") from None
        self._process = process
        return process

    async def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()

    async def close(self) -> None:
        async with self._turn:
            await self._stop()


def serve(source: BinaryIO, sink: BinaryIO) -> None:
    """The child's loop: one framed document in, one framed JSON answer out, until EOF."""
    sink.write(b"R")
    sink.flush()
    while True:
        prefix = source.read(_LENGTH.size)
        if len(prefix) < _LENGTH.size:
            return  # the parent closed our stdin (or died): nothing left to do
        header = json.loads(source.read(_LENGTH.unpack(prefix)[0]))
        body = source.read(_LENGTH.unpack(source.read(_LENGTH.size))[0])
        try:
            answer: dict[str, Any] = {
                "feed": _encode_feed(parse_feed(body, header["content_type"], header["url"]))
            }
        except FeedParseError as error:
            answer = {"error": str(error)}
        except Exception as error:  # a parser bug: reported, the parent logs it
            answer = {"crash": f"{type(error).__name__}: {error}"}
        reply = json.dumps(answer).encode()
        sink.write(_LENGTH.pack(len(reply)) + reply)
        sink.flush()


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group: the parent decides when this child ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the answers
    serve(sys.stdin.buffer, answers)
