"""Photos leave Tocsin without their metadata: EXIF (GPS position, phone model, time),
XMP, IPTC, comments and colour profiles are dropped by re-encoding only the pixels.

A volunteer's photo of a push-back can carry the exact place they stood; relaying it to
partner channels must not reveal it. Every relay that forwards an image calls
`strip_metadata` on the downloaded bytes and uploads the result, never the original.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

# A phone photo is ~12-50 Mpx; above this, decoding could exhaust memory (a pixel bomb).
DEFAULT_MAX_PIXELS = 60_000_000
DEFAULT_MAX_BYTES = 25 * 1024 * 1024


class ImageError(ValueError):
    """The bytes are not an image we can clean (unknown format, truncated, too large)."""


class PhotoUnavailable(Exception):
    """The platform says the photo is gone or refused for good (not a passing failure)."""


# How one relay fetches a photo another relay references (`PhotoRef.ref` → bytes): raises
# `PhotoUnavailable` when it never will, anything else when it may work later.
PhotoSource = Callable[[str], Awaitable[bytes]]


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    mime_type: str  # "image/jpeg" or "image/png"
    width: int
    height: int

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def extension(self) -> str:
        return "png" if self.mime_type == "image/png" else "jpg"


def strip_metadata(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    jpeg_quality: int = 88,
) -> CleanImage:
    """Decode `data` and re-encode its pixels alone, upright (EXIF orientation applied).

    Images with transparency become PNG, everything else JPEG; an animation keeps its first
    frame. Raises `ImageError` for anything that is not a decodable image within limits.
    """
    if len(data) > max_bytes:
        raise ImageError(f"image too large ({len(data)} bytes, at most {max_bytes})")
    try:
        pixels, transparent = _decode(data, max_pixels)
    except ImageError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise ImageError(f"not a usable image: {type(error).__name__}") from error
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise ImageError(f"unreadable image: {type(error).__name__}") from error
    out = io.BytesIO()
    if transparent:
        pixels.save(out, format="PNG", optimize=True)
        mime_type = "image/png"
    else:
        pixels.save(out, format="JPEG", quality=jpeg_quality, optimize=True)
        mime_type = "image/jpeg"
    return CleanImage(out.getvalue(), mime_type, pixels.width, pixels.height)


def _decode(data: bytes, max_pixels: int) -> tuple[Image.Image, bool]:
    """The upright pixels alone and whether they are transparent; Pillow's errors pass."""
    with Image.open(io.BytesIO(data)) as opened:
        width, height = opened.size
        if width * height > max_pixels:
            raise ImageError(f"image too large ({width}x{height} pixels)")
        opened.seek(0)
        opened.load()
        upright = ImageOps.exif_transpose(opened)
        transparent = _has_alpha(upright)
        return _pixels_only(upright, transparent), transparent


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )


def _pixels_only(image: Image.Image, transparent: bool) -> Image.Image:
    """A new image holding the pixels and nothing else (no `info`, no EXIF, no profile)."""
    mode = "RGBA" if transparent else ("L" if image.mode in ("1", "L") else "RGB")
    converted = image.convert(mode)
    clean = Image.new(mode, converted.size)
    clean.paste(converted)
    return clean
