"""Photos attached to a service request: judged by their content, never their name or type.

An upload is opened with Pillow, which reads only the header: anything that is not a PNG,
JPEG, GIF or WebP picture, or is over ``MAX_PHOTO_PIXELS``, is refused before its pixels are
decoded (a small file can declare a huge image). An accepted one is decoded, turned upright,
shrunk to at most ``PHOTO_MAX_SIDE`` pixels and re-encoded as a JPEG without metadata: phone
photos carry the GPS position of the customer's home in their EXIF, which the contractor does
not need and nobody should be able to download.
"""

from __future__ import annotations

import io
from typing import IO, Final

from PIL import Image, ImageFile, ImageOps

MAX_PHOTO_BYTES: Final = 8 * 1024 * 1024
MAX_PHOTO_PIXELS: Final = 40_000_000
MAX_PHOTOS: Final = 5
PHOTO_MAX_SIDE: Final = 2000
PHOTO_FORMATS: Final = frozenset({"PNG", "JPEG", "GIF", "WEBP"})


class PhotoError(ValueError):
    """Why an upload cannot be a photo: ``code`` is "invalid" or "too_large"."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def normalise_photo(file: IO[bytes], *, size: int | None = None) -> tuple[bytes, int, int]:
    """``(jpeg_bytes, width, height)`` of the upload, or ``PhotoError``."""
    if size is not None and size > MAX_PHOTO_BYTES:
        raise PhotoError("too_large")
    file.seek(0)
    try:
        image = Image.open(file)
    except Image.DecompressionBombError:
        raise PhotoError("too_large") from None
    except Exception:
        # A crafted file can make a Pillow plugin raise nearly anything: it is not a photo.
        raise PhotoError("invalid") from None
    if image.format not in PHOTO_FORMATS:
        raise PhotoError("invalid")
    width, height = image.size
    if width < 1 or height < 1:
        raise PhotoError("invalid")
    if width * height > MAX_PHOTO_PIXELS:
        raise PhotoError("too_large")
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        image.load()
        image = ImageOps.exif_transpose(image)
        image = image.convert("RGB")
        image.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE), Image.Resampling.LANCZOS)
    except Exception:
        raise PhotoError("invalid") from None
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous
    image.info = {}
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue(), image.width, image.height
