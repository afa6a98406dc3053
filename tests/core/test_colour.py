"""``crewcommand/lib/colour.py``: the one brand-colour contrast rule (portal accent, PDF accent).

Expected figures are WCAG 2.2's, computed by hand or quoted from the WCAG examples, not the
module's own arithmetic.
"""

from __future__ import annotations

import pytest

from crewcommand.lib.colour import (
    DEFAULT_ACCENT,
    accent_on_white,
    contrast_ratio,
    relative_luminance,
)

FALLBACK = "#1d4ed8"


def test_the_fallback_is_our_blue():
    assert DEFAULT_ACCENT == FALLBACK


@pytest.mark.parametrize(
    ("colour", "luminance"),
    [
        ("#000000", 0.0),
        ("#ffffff", 1.0),
        ("#FFFFFF", 1.0),
        # 10/255 = 0.0392 is below the sRGB threshold 0.04045: linear part, c / 12.92.
        ("#0a0000", 0.2126 * (10 / 255) / 12.92),
        # 11/255 = 0.0431 is above it: the power curve.
        ("#000b00", 0.7152 * ((11 / 255 + 0.055) / 1.055) ** 2.4),
        ("#808080", 0.21586050011389926),
    ],
)
def test_relative_luminance(colour, luminance):
    assert relative_luminance(colour) == pytest.approx(luminance, abs=1e-12)


@pytest.mark.parametrize(
    ("first", "second", "ratio"),
    [
        ("#000000", "#ffffff", 21.0),
        ("#ffffff", "#000000", 21.0),  # order does not matter
        ("#777777", "#777777", 1.0),
        ("#767676", "#ffffff", 4.54),
        ("#777777", "#ffffff", 4.48),
        ("#0000ff", "#ffffff", 8.59),
        ("#ff0000", "#ffffff", 4.0),
    ],
)
def test_contrast_ratio(first, second, ratio):
    assert contrast_ratio(first, second) == pytest.approx(ratio, abs=0.005)


@pytest.mark.parametrize("bad", ["", "#000", "#0000000", "#zzzzzz", "red", "000000", " #000000"])
def test_luminance_refuses_anything_but_rrggbb(bad):
    with pytest.raises(ValueError) as refused:
        relative_luminance(bad)
    assert str(refused.value) == f"not a #rrggbb colour: {bad!r}"


@pytest.mark.parametrize(
    ("brand", "shown"),
    [
        ("#000000", "#000000"),  # 21:1
        ("#767676", "#767676"),  # 4.54:1, the lightest grey that passes
        ("#777777", FALLBACK),  # 4.48:1
        ("#0000FF", "#0000ff"),  # 8.6:1, written lower-case
        ("#0F766E", "#0f766e"),
        ("#008000", "#008000"),  # 5.1:1
        ("#FF0000", FALLBACK),  # 4.0:1
        ("#fde047", FALLBACK),  # yellow
        ("#FACC15", FALLBACK),
        ("#00ff00", FALLBACK),
        ("#ffffff", FALLBACK),
        ("#000", FALLBACK),  # short form: not accepted
        ("#0000000", FALLBACK),  # one digit too many
        ("#00000\n", FALLBACK),
        ("", FALLBACK),
        (None, FALLBACK),
        ("red", FALLBACK),
        ("#zzzzzz", FALLBACK),
        ("not a colour", FALLBACK),
    ],
)
def test_brand_colour_is_used_only_when_white_and_it_are_readable_together(brand, shown):
    assert accent_on_white(brand) == shown


def test_fallback_can_be_chosen():
    assert accent_on_white("#ffffff", fallback="#000000") == "#000000"
