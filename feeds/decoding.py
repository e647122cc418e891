"""Undo a response body's content codings (gzip, deflate) as it arrives, within a bound.

httpx decodes each network chunk whole before the caller sees it, so a 1.8 kB body sent
as ``Content-Encoding: gzip, gzip`` inflated to 1 GB inside one call, before the feed
cap could refuse it. Here the raw bytes are inflated step by step: no call produces
more than ``STEP`` bytes, and decoding stops as soon as the output passes the limit,
so memory stays within the limit plus a few steps whatever the compression ratio.

Only the codings the fetcher asks for (gzip, deflate) are decoded; anything else (br,
zstd, compress) is refused rather than passed through as if it were the document.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

STEP = 64 * 1024  # the most any single inflate call may produce
MAX_CODINGS = 2  # "gzip, gzip" is legal but useless; deeper stacks are refused outright
_WBITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}


class UnsupportedCoding(Exception):
    """The body uses a content coding Tocsin does not decode."""


class DecodedTooLarge(Exception):
    """The decoded body passed the limit; decoding stopped there."""


class _Inflater:
    """One coding layer: zlib with a cap on each call's output."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._started = False
        self._obj = zlib.decompressobj(_WBITS[coding])

    def inflate(self, data: bytes) -> Iterator[bytes]:
        while not self._obj.eof:
            try:
                out = self._obj.decompress(data, STEP)
            except zlib.error:
                # "deflate" is sent with or without its zlib header in the wild; retry the
                # first bytes as a raw deflate stream, as browsers (and httpx) do.
                if self._coding != "deflate" or self._started:
                    raise
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                self._started = True
                continue
            self._started = True
            data = self._obj.unconsumed_tail
            if out:
                yield out
            # A full step may leave output pending inside zlib even with no input left.
            if not data and len(out) < STEP:
                break
        # Bytes after the end of the stream are ignored, as httpx does.


class BodyDecoder:
    """Feed it raw chunks; it returns decoded pieces and raises DecodedTooLarge past
    ``limit`` decoded bytes."""

    def __init__(self, content_encoding: str, limit: int) -> None:
        codings = [part.strip().lower() for part in content_encoding.split(",")]
        codings = [coding for coding in codings if coding and coding != "identity"]
        unknown = [coding for coding in codings if coding not in _WBITS]
        if unknown:
            raise UnsupportedCoding(
                f"the body is encoded with {', '.join(unknown)}, which Tocsin did not ask for "
                "and does not decode"
            )
        if len(codings) > MAX_CODINGS:
            raise UnsupportedCoding(
                f"the body is compressed {len(codings)} times over ({content_encoding}); refused"
            )
        # The codings are listed in the order they were applied: undo the last one first.
        self._layers = [_Inflater(coding) for coding in reversed(codings)]
        self._limit = limit
        self.size = 0

    def decode(self, raw: bytes) -> list[bytes]:
        return list(self._through(0, raw))

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._layers):
            self.size += len(data)
            if self.size > self._limit:
                raise DecodedTooLarge
            yield data
            return
        for piece in self._layers[index].inflate(data):
            yield from self._through(index + 1, piece)
