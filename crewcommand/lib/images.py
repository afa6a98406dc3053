"""Company logos: checked before they are decoded, then stored small.

A logo is shown at a few hundred pixels at most (the PDF letterhead, the portal header), but a
PNG of one flat colour compresses to almost nothing: a 140 KB file can be 12,000 by 12,000
pixels, which every PDF render then decodes (about 576 MB of pixels) and every customer's phone
downloads and decodes. So an upload is refused above ``MAX_LOGO_PIXELS`` *before* its pixels
are decoded (Pillow reads only the header in ``Image.open``), and an accepted one is re-encoded
to a PNG at most ``LOGO_MAX_SIDE`` pixels on its longest side, without metadata (EXIF, text
chunks, ICC profiles). PDFs and the portal only ever see that small copy.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Final

from PIL import Image, ImageFile, ImageOps

__all__ = [
    "LOGO_FORMATS",
    "LOGO_MAX_SIDE",
    "MAX_LOGO_PIXELS",
    "LogoError",
    "logo_fits",
    "normalise_logo",
]

# 25 megapixels (e.g. 5,000 by 5,000) is far beyond any real logo and decodes in well under a
# second; Pillow's own bomb limit (89 MP warns, 179 MP refuses) is much higher.
MAX_LOGO_PIXELS: Final = 25_000_000
# Sharp in the PDF letterhead (about 2 inches wide at 300 dpi) and on a phone's retina screen.
LOGO_MAX_SIDE: Final = 600
# What browsers and WeasyPrint all render; SVG is refused (it can carry script and links).
LOGO_FORMATS: Final = frozenset({"PNG", "JPEG", "GIF", "WEBP"})


class LogoError(ValueError):
    """Why an upload cannot be a logo: ``code`` is "invalid" or "too_large"."""

    def __init__(self, code: str, size: tuple[int, int] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.size = size


def _open(file: IO[bytes]) -> Image.Image:
    """Read the header only; refuse what is not a raster logo or is too many pixels."""
    file.seek(0)
    try:
        image = Image.open(file)
    except Image.DecompressionBombError:
        raise LogoError("too_large") from None
    except Exception:
        # A crafted file can make a Pillow plugin raise nearly anything (struct.error,
        # IndexError…); like Django's ImageField, every failure means "not an image".
        raise LogoError("invalid") from None
    if image.format not in LOGO_FORMATS:
        raise LogoError("invalid")
    width, height = image.size
    if width < 1 or height < 1:
        raise LogoError("invalid")
    if width * height > MAX_LOGO_PIXELS:
        raise LogoError("too_large", image.size)
    return image


_STRICT_LOCK = threading.Lock()


@contextmanager
def _strict_decoding() -> Iterator[None]:
    """Decode with Pillow refusing truncated files. WeasyPrint sets the process-wide
    ``ImageFile.LOAD_TRUNCATED_IMAGES = True`` when it is imported (to render what it can of a
    broken image), which would let a truncated upload through once any PDF has been rendered in
    this process; an upload is judged strictly whatever else the process has imported."""
    with _STRICT_LOCK:
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


def normalise_logo(file: IO[bytes]) -> bytes:
    """The uploaded logo as PNG bytes, at most ``LOGO_MAX_SIDE`` px on its longest side, turned
    upright (EXIF orientation) and stripped of metadata. Raises ``LogoError``."""
    image = _open(file)
    try:
        with _strict_decoding():
            image.load()  # Decodes the first frame; a truncated or corrupt file fails here.
        image = ImageOps.exif_transpose(image)
        has_alpha = image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
        image.thumbnail((LOGO_MAX_SIDE, LOGO_MAX_SIDE), Image.Resampling.LANCZOS)
    except Exception:
        raise LogoError("invalid") from None
    # convert() copies the source's info (ICC profile, EXIF, comments); drop it all, so only
    # pixels are stored. Transparency already lives in the alpha channel.
    image.info = {}
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def logo_fits(file: IO[bytes]) -> bool:
    """True when a stored logo is a raster image within ``LOGO_MAX_SIDE`` (header read only):
    the guard for logos stored before uploads were re-encoded."""
    try:
        image = _open(file)
    except LogoError:
        return False
    return max(image.size) <= LOGO_MAX_SIDE
