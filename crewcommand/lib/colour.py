"""The one rule for a company's brand colour: it is shown only where white text on it (or it as
text on white, the same ratio) is readable, WCAG 2.2 level AA (contrast ratio at least 4.5:1).

Used by the customer portal (accent behind white text) and the PDFs (accent text and rules on
white). Relative luminance and contrast ratio follow WCAG 2.2's definitions, with the sRGB
transfer threshold of the sRGB standard itself (0.04045; older WCAG text said 0.03928).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "AA_NORMAL_TEXT",
    "DEFAULT_ACCENT",
    "accent_on_white",
    "contrast_ratio",
    "is_hex_colour",
    "relative_luminance",
]

DEFAULT_ACCENT: Final = "#1d4ed8"
AA_NORMAL_TEXT: Final = 4.5
WHITE: Final = "#ffffff"
_HEX: Final = re.compile(r"#[0-9a-fA-F]{6}")


def is_hex_colour(value: object) -> bool:
    """``#rrggbb`` (either case); no short form, no names."""
    return isinstance(value, str) and _HEX.fullmatch(value) is not None


def _linear(channel_8bit: int) -> float:
    c = channel_8bit / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(hex_colour: str) -> float:
    """WCAG 2.2 relative luminance of ``#rrggbb``: 0 for black, 1 for white."""
    if not is_hex_colour(hex_colour):
        raise ValueError(f"not a #rrggbb colour: {hex_colour!r}")
    r, g, b = (_linear(int(hex_colour[i : i + 2], 16)) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2.2 contrast ratio of two ``#rrggbb`` colours, from 1 (same) to 21 (black/white)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def accent_on_white(brand: object, fallback: str = DEFAULT_ACCENT) -> str:
    """The brand colour (lower-case) if it and white reach 4.5:1 against each other, else
    ``fallback``. Anything that is not ``#rrggbb`` gets the fallback."""
    if not is_hex_colour(brand):
        return fallback
    assert isinstance(brand, str)
    return brand.lower() if contrast_ratio(brand, WHITE) >= AA_NORMAL_TEXT else fallback
