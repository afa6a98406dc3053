"""Signature images, built on the server.

The browser never sends markup: a drawn signature arrives as pen strokes (lists of numbers from
signature_pad's ``toData()``), which are validated, clamped to the canvas and written out as SVG
here; a typed signature is the escaped name set in an SVG ``<text>``. Only numbers formatted by
us and XML-escaped text reach the SVG, so it cannot carry script or external references.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from itertools import pairwise
from xml.sax.saxutils import escape

from django.utils.translation import gettext as _

MAX_PAYLOAD_CHARS = 200_000
MAX_STROKES = 300
MAX_POINTS = 20_000
MIN_CANVAS, MAX_CANVAS = 50, 4000
PADDING = 8
INK = "#0f172a"


class SignatureImageError(ValueError):
    """The strokes can't make a signature; the message is safe to show."""


@dataclass(frozen=True)
class Strokes:
    width: float
    height: float
    strokes: tuple[tuple[tuple[float, float], ...], ...]


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SignatureImageError(_("The signature could not be read. Please draw it again."))
    number = float(value)
    if not math.isfinite(number):
        raise SignatureImageError(_("The signature could not be read. Please draw it again."))
    return number


def parse_strokes(raw: str) -> Strokes:
    """Parse ``{"w": 600, "h": 200, "strokes": [[x, y, x, y, …], …]}`` (canvas CSS pixels)."""
    unreadable = _("The signature could not be read. Please draw it again.")
    if not raw or len(raw) > MAX_PAYLOAD_CHARS:
        raise SignatureImageError(unreadable)
    try:
        data = json.loads(raw)
    except ValueError as error:
        raise SignatureImageError(unreadable) from error
    if not isinstance(data, dict) or not isinstance(data.get("strokes"), list):
        raise SignatureImageError(unreadable)
    width, height = _number(data.get("w")), _number(data.get("h"))
    if not (MIN_CANVAS <= width <= MAX_CANVAS and MIN_CANVAS <= height <= MAX_CANVAS):
        raise SignatureImageError(unreadable)
    if len(data["strokes"]) > MAX_STROKES:
        raise SignatureImageError(
            _("The signature is too complex. Please clear it and sign again.")
        )
    strokes, total = [], 0
    for stroke in data["strokes"]:
        if not isinstance(stroke, list) or len(stroke) < 2 or len(stroke) % 2:
            raise SignatureImageError(unreadable)
        total += len(stroke) // 2
        if total > MAX_POINTS:
            raise SignatureImageError(
                _("The signature is too complex. Please clear it and sign again.")
            )
        values = [_number(v) for v in stroke]
        points = tuple(
            (min(max(x, 0.0), width), min(max(y, 0.0), height))
            for x, y in zip(values[::2], values[1::2], strict=True)
        )
        strokes.append(points)
    return Strokes(width, height, tuple(strokes))


def _ink_extent(strokes: Strokes) -> tuple[float, float, float, float]:
    xs = [x for stroke in strokes.strokes for x, _y in stroke]
    ys = [y for stroke in strokes.strokes for _x, y in stroke]
    return min(xs), min(ys), max(xs), max(ys)


def _path(points: tuple[tuple[float, float], ...]) -> str:
    """A smooth path through the points: quadratic curves between midpoints."""
    if len(points) == 1:
        x, y = points[0]
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.6" fill="{INK}" stroke="none"/>'
    commands = [f"M{points[0][0]:.1f} {points[0][1]:.1f}"]
    for (x1, y1), (x2, y2) in pairwise(points[1:]):
        commands.append(f"Q{x1:.1f} {y1:.1f} {(x1 + x2) / 2:.1f} {(y1 + y2) / 2:.1f}")
    commands.append(f"L{points[-1][0]:.1f} {points[-1][1]:.1f}")
    return f'<path d="{" ".join(commands)}"/>'


def drawn_svg(raw: str) -> str:
    """SVG for pen strokes, cropped to the ink; raises ``SignatureImageError`` if empty or bad."""
    strokes = parse_strokes(raw)
    points = sum(len(stroke) for stroke in strokes.strokes)
    if not points:
        raise SignatureImageError(_("Draw your signature in the box, or type it instead."))
    left, top, right, bottom = _ink_extent(strokes)
    if points < 3 or math.hypot(right - left, bottom - top) < 12:
        raise SignatureImageError(
            _("That signature is too small. Please sign across the box, or type it instead.")
        )
    x, y = left - PADDING, top - PADDING
    w, h = right - left + 2 * PADDING, bottom - top + 2 * PADDING
    body = "".join(_path(stroke) for stroke in strokes.strokes if stroke)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{x:.1f} {y:.1f} {w:.1f} {h:.1f}" '
        f'width="{w:.0f}" height="{h:.0f}">'
        f'<g fill="none" stroke="{INK}" stroke-width="2.5" stroke-linecap="round" '
        f'stroke-linejoin="round">{body}</g></svg>'
    )


def typed_svg(name: str) -> str:
    """The name in a script-like face; ``name`` is XML-escaped."""
    text = escape(name, {'"': "&quot;", "'": "&apos;"})
    width = max(220, min(1400, 22 * len(name) + 40))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} 80" '
        f'width="{width}" height="80">'
        f"<text x=\"20\" y=\"54\" font-family=\"'Segoe Script', 'Brush Script MT', 'URW Chancery L', "
        f'cursive" font-size="40" font-style="italic" fill="{INK}">{text}</text></svg>'
    )


def svg_data_url(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
