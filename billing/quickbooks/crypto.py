"""Encryption of QuickBooks tokens at rest (Fernet, with key rotation through MultiFernet).

The key comes from ``QUICKBOOKS_TOKEN_KEYS`` (Fernet keys, newest first) or is derived with
HKDF from ``QUICKBOOKS_TOKEN_SECRET``. It is never derived from ``SECRET_KEY``: rotating the
session secret must not make every stored token unreadable, and a leaked SECRET_KEY must not
also unlock the books.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_INFO = b"crewcommand quickbooks tokens v1"


def key_configured() -> bool:
    return bool(settings.QUICKBOOKS_TOKEN_KEYS or settings.QUICKBOOKS_TOKEN_SECRET)


def _derive(secret: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode()))


def _fernet() -> MultiFernet:
    keys: list[bytes] = [key.encode() for key in settings.QUICKBOOKS_TOKEN_KEYS]
    if not keys and settings.QUICKBOOKS_TOKEN_SECRET:
        keys = [_derive(settings.QUICKBOOKS_TOKEN_SECRET)]
    if not keys:
        raise ImproperlyConfigured(
            "QuickBooks tokens need an encryption key: set QUICKBOOKS_TOKEN_KEYS "
            "(or QUICKBOOKS_TOKEN_SECRET)."
        )
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(f"QUICKBOOKS_TOKEN_KEYS holds an invalid key: {error}") from None


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def decrypt(value: str) -> str:
    """The plain token, or "" when ``value`` is empty or no configured key opens it."""
    if not value:
        return ""
    try:
        return _fernet().decrypt(value.encode()).decode()
    except InvalidToken:
        return ""
