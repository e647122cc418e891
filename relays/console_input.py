"""The console's input, read line by line without a thread waiting on it.

A line read in a thread (`run_in_executor(None, sys.stdin.readline)`) holds up the end of
`asyncio.run`, which joins the default executor: a `tocsin run` whose standard input stays
open and idle (a container, a terminal) never exits on SIGTERM or Ctrl-C. A daemon thread
would not hold up the exit, but it is abandoned mid-read (holding the stdin buffer's lock,
which CPython's shutdown may abort on) and could still take a line after the stop. So the
event loop watches the descriptor itself (`add_reader`) and reads only what has arrived: no
thread at all, a stop is a plain cancellation, and input not yet read stays in the pipe.
A test's `read_line`, which never waits, is still called in the executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

CHUNK = 64 * 1024
LineSource = Callable[[], Awaitable[str]]  # "" when input ended, like readline()


def console_lines(read_line: Callable[[], str] | None, stdin: TextIO | None) -> LineSource:
    """The console's lines: `read_line` if given, else standard input."""
    if read_line is not None:
        return executor_lines(read_line)
    if stdin is None:  # started with standard input closed: nobody types
        return executor_lines(lambda: "")
    fd = _watchable_fd(stdin)
    if fd is None:
        return executor_lines(stdin.readline)
    return DescriptorLines(fd, stdin.encoding or "utf-8").readline


def executor_lines(read_line: Callable[[], str]) -> LineSource:
    async def next_line() -> str:
        return await asyncio.get_running_loop().run_in_executor(None, read_line)

    return next_line


def _watchable_fd(stream: TextIO) -> int | None:
    """The descriptor behind `stream`; None for a stream without one (a StringIO standing
    in for stdin) and on Windows, whose event loop has no `add_reader`."""
    if sys.platform == "win32":
        return None
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


class DescriptorLines:
    """Lines from a descriptor the event loop watches, split at "\\n" and decoded as
    standard input is (a byte that is not text becomes a lone surrogate, which the relays
    replace with U+FFFD, instead of ending the input with a decoding error)."""

    def __init__(self, fd: int, encoding: str) -> None:
        self._fd = fd
        self._encoding = encoding
        self._buffer = bytearray()
        self._ended = False
        self._always_ready = False  # a regular file or /dev/null: epoll refuses to watch it

    async def readline(self) -> str:
        while True:
            end = self._buffer.find(b"\n") + 1
            if end or self._ended:  # at the end, the last line may lack its "\n"
                line = bytes(self._buffer[: end or len(self._buffer)])
                del self._buffer[: len(line)]
                return line.decode(self._encoding, "surrogateescape")
            chunk = await self._next_chunk()
            if chunk:
                self._buffer += chunk
            else:
                self._ended = True

    async def _next_chunk(self) -> bytes:
        """What has arrived, b"" at the end. The descriptor is left blocking: on a terminal
        it is shared with stdout and stderr, whose writes would fail with EAGAIN in
        non-blocking mode. Once it is readable, one read returns what is there at once (a
        pipe's data, a terminal's line) without waiting."""
        loop = asyncio.get_running_loop()
        while True:
            if not self._always_ready:
                readable = loop.create_future()
                try:
                    loop.add_reader(self._fd, _resolve, readable)
                except PermissionError:  # what cannot be watched never makes a read wait
                    self._always_ready = True
                else:
                    try:
                        await readable
                    finally:
                        loop.remove_reader(self._fd)
            with contextlib.suppress(BlockingIOError, InterruptedError):
                return os.read(self._fd, CHUNK)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
