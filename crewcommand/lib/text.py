"""Text typed by people, made safe for the one-line places it ends up in: email headers (names,
subjects), PDF letterheads, SMS, CSV exports and database queries.

Django refuses to send an email whose header holds a line break (header injection), so a
customer named "Alice\\r\\nBcc: x@evil" would silently get no email at all; PostgreSQL refuses
NUL bytes in text outright (a 500). Normalising on input keeps such values out of the database,
and ``single_line`` is applied again where headers are built, for rows stored before.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["single_line"]

# Characters that separate lines or words: each becomes a plain space.
_BREAKS: Final = re.compile("[\t\n\v\f\r\x1c-\x1f\x85\u2028\u2029]")
_SPACES: Final = re.compile(r"\s+")


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in {"Cc", "Cs"}


def single_line(value: object) -> str:
    """One line of text: line breaks and tabs become spaces, other control characters (NUL,
    escape…) and lone surrogates are removed, runs of spaces collapse to one, and the ends are
    trimmed. Letters, accents and emoji are kept as typed (NFC-normalised)."""
    text = _BREAKS.sub(" ", str(value or ""))
    text = "".join(char for char in text if not _is_control(char))
    text = unicodedata.normalize("NFC", text)
    return _SPACES.sub(" ", text).strip()
