"""Sealed values: short-lived secrets that must cross a process boundary (the Celery broker)
without being readable on the way.

A portal link's raw token exists only when the link is made; the email task needs it, but the
broker, task logs and result stores must never hold it in plain text. ``seal`` encrypts and
authenticates the text with Fernet (AES-128-CBC + HMAC-SHA256, with a timestamp) under a key
derived from ``SECRET_KEY`` by HKDF with a purpose string, so the key is used for nothing else.
``unseal`` checks integrity and age. Keys from ``SECRET_KEY_FALLBACKS`` still open values sealed
before a key rotation.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

DEFAULT_PURPOSE = "crewcommand.sealed.v1"


class SealError(Exception):
    """The sealed value was tampered with, has expired, or was sealed under another key."""


def _key(secret: str, purpose: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        secret.encode()
    )
    return base64.urlsafe_b64encode(derived)


def _fernet(purpose: str) -> MultiFernet:
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([Fernet(_key(secret, purpose)) for secret in secrets])


def seal(text: str, *, purpose: str = DEFAULT_PURPOSE) -> str:
    """Encrypt and authenticate ``text``; the result is URL-safe ASCII."""
    return _fernet(purpose).encrypt(text.encode()).decode("ascii")


def unseal(sealed: str, max_age_seconds: int, *, purpose: str = DEFAULT_PURPOSE) -> str:
    """The text inside ``sealed``; raises ``SealError`` if it was altered, is older than
    ``max_age_seconds``, or was sealed for another purpose or under an unknown key."""
    try:
        return _fernet(purpose).decrypt(sealed.encode("ascii"), ttl=max_age_seconds).decode()
    except (InvalidToken, UnicodeError, ValueError, TypeError) as error:
        raise SealError(
            "Sealed value rejected: tampered with, expired, or sealed under another key."
        ) from error
