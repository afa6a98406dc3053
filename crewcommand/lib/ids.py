"""Public identifiers.

Sequential primary keys never appear in a URL: every object a person can address has a random
public id (lowercase letters and digits, so it reads well and survives being typed from a phone).
"""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_lowercase + string.digits
PUBLIC_ID_LENGTH = 14


def new_public_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(PUBLIC_ID_LENGTH))


class PublicIdConverter:
    """URL converter that only matches well-formed public ids, so malformed ids are a 404."""

    regex = f"[a-z0-9]{{{PUBLIC_ID_LENGTH}}}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
