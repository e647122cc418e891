"""Photos lose every piece of metadata (above all the GPS position) before they are relayed."""

from __future__ import annotations

import io

import pytest
from PIL import Image, PngImagePlugin

from relays.images import CleanImage, ImageError, strip_metadata

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MODEL = 0x0110


def phone_photo(*, orientation: int = 1, size: tuple[int, int] = (40, 20)) -> bytes:
    """A JPEG as a phone writes it: camera model, GPS position near Menton, orientation."""
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((20, 20, 220), (0, 0, size[0] // 2, size[1]))  # left half blue
    exif = Image.Exif()
    exif[MODEL] = "Pixel 7"
    exif[ORIENTATION] = orientation
    exif[GPS_IFD] = {1: "N", 2: (43.0, 46.0, 30.0), 3: "E", 4: (7.0, 30.0, 5.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, comment=b"taken at the border post")
    return out.getvalue()


def reopen(clean: CleanImage) -> Image.Image:
    return Image.open(io.BytesIO(clean.data))


def test_gps_and_camera_are_removed() -> None:
    original = phone_photo()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the fixture has GPS
    assert b"Pixel 7" in original

    clean = strip_metadata(original)

    image = reopen(clean)
    assert clean.mime_type == "image/jpeg"
    assert clean.extension == "jpg"
    assert (clean.width, clean.height) == (40, 20) == image.size
    assert len(image.getexif()) == 0
    assert "exif" not in image.info
    assert "comment" not in image.info
    assert b"Pixel 7" not in clean.data
    assert b"border post" not in clean.data
    assert b"Exif" not in clean.data


def test_orientation_is_applied_to_the_pixels_before_the_tag_goes() -> None:
    clean = strip_metadata(phone_photo(orientation=6))  # 6: rotate 90° clockwise to view
    image = reopen(clean).convert("RGB")
    assert image.size == (20, 40)
    top = image.getpixel((10, 2))
    assert isinstance(top, tuple)
    assert top[2] > 150


def test_png_text_chunks_go_and_transparency_stays() -> None:
    image = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "Vintimille 43.79N 7.60E")
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    clean = strip_metadata(out.getvalue())
    assert clean.mime_type == "image/png"
    assert b"Vintimille" not in clean.data
    assert reopen(clean).mode == "RGBA"


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", phone_photo()[:200]],
    ids=["empty", "text", "truncated"],
)
def test_what_is_not_an_image_is_refused_clearly(data: bytes) -> None:
    with pytest.raises(ImageError):
        strip_metadata(data)


def test_too_many_pixels_is_refused_before_decoding() -> None:
    with pytest.raises(ImageError, match="too large"):
        strip_metadata(phone_photo(size=(400, 300)), max_pixels=100_000)


def test_too_many_bytes_is_refused() -> None:
    with pytest.raises(ImageError, match="too large"):
        strip_metadata(phone_photo(), max_bytes=100)
