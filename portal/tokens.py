"""Portal link secrets: generation, hashing and the short public reference.

Only ``token_hash(token)`` is ever stored. Lookups hash whatever the visitor sent, whatever its
shape, so a malformed token costs the same work as a well-formed one.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32  # 256 bits; token_urlsafe gives 43 characters
# No 0/O or 1/I: a reference is read aloud over the phone.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
REFERENCE_LENGTH = 4


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def new_reference() -> str:
    return "L-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
