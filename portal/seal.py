"""The seal of a signature record: an HMAC-SHA256, keyed with a secret from the environment,
over every stored field of the record (who, when, where from, the image, the consent shown, the
selection, the signed content and its public SHA-256).

Why keyed: the public SHA-256 of the canonical content (``Signature.content_sha256``, printed on
the certificate so a customer can check their PDF) is computed by published code from data in
the same row, so anyone who can write to the database can change the content and store a new
hash that "verifies". The seal needs ``settings.SIGNATURE_SEAL_KEY``, which lives in the
process environment, not in the database: a database dump or a write through psql cannot
produce a valid seal.

Keys and rotation: each key is named by a short id derived from the key itself
(``key_id``), stored on the row next to the seal. ``SIGNATURE_SEAL_KEY`` seals new rows;
``SIGNATURE_SEAL_KEY_FALLBACKS`` keeps old keys for verification only. With no key configured
(development and tests only; settings refuse to start without one when ``DEBUG`` is off), the
key is derived from ``SECRET_KEY`` (and its fallbacks) by HKDF with a purpose string, so it is
used for nothing else.

Payload (format ``crewcommand.signature-seal.v1``): sorted-key compact JSON of the fields in
``payload()``; the seal is ``HMAC-SHA256(key, payload.encode("utf-8")).hexdigest()``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

SEAL_FORMAT = "crewcommand.signature-seal.v1"
_DEV_PURPOSE = b"crewcommand.signature-seal.dev-key.v1"
_KEY_ID_LABEL = b"crewcommand.signature-seal.key-id"


def _derive(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_DEV_PURPOSE).derive(
        secret.encode()
    )


def _keys() -> list[bytes]:
    """The sealing key first, then the keys kept for verifying older rows."""
    if settings.SIGNATURE_SEAL_KEY:
        secrets = [settings.SIGNATURE_SEAL_KEY, *settings.SIGNATURE_SEAL_KEY_FALLBACKS]
        return [secret.encode() for secret in secrets]
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [_derive(secret) for secret in secrets]


def key_id(key: bytes) -> str:
    """A short public name for a key; reveals nothing usable about it."""
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def _utc(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value else None


def _ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return str(value)


def payload(signature: Any) -> str:
    """Every stored field of a signature row, as canonical JSON. Takes any object with the
    ``portal.models.Signature`` attributes (also a historical model in a migration)."""
    data = {
        "format": SEAL_FORMAT,
        "signature": signature.public_id,
        "company": signature.company_id,
        "estimate": signature.estimate_id,
        "revision": signature.revision_id,
        "link_reference": signature.link_reference,
        "signer_name": signature.signer_name,
        "method": signature.method,
        "image_svg": signature.image_svg,
        "signed_at": _utc(signature.signed_at),
        "ip_address": _ip(signature.ip_address),
        "user_agent": signature.user_agent,
        "consent_text": signature.consent_text,
        "selection": signature.selection,
        "selection_summary": [str(item) for item in signature.selection_summary],
        "canonical_version": signature.canonical_version,
        "canonical_json": signature.canonical_json,
        "content_sha256": signature.content_sha256,
        "sealed_at": _utc(signature.sealed_at),
        "sealed_retroactively": signature.sealed_retroactively,
    }
    # Who the link belonged to, and the one-time code entered before signing: sealed when
    # present, so rows signed before contacts and codes existed keep their seals.
    contact_name = getattr(signature, "contact_name", "")
    step_up_channel = getattr(signature, "step_up_channel", "")
    if contact_name or step_up_channel:
        data["contact_name"] = contact_name
        data["step_up_channel"] = step_up_channel
        data["step_up_verified_at"] = _utc(getattr(signature, "step_up_verified_at", None))
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def seal(signature: Any) -> tuple[str, str]:
    """``(key_id, seal)`` for the row with the current sealing key."""
    key = _keys()[0]
    return key_id(key), _mac(key, payload(signature))


def check(signature: Any) -> str | None:
    """None when the row's seal is valid under the key it names; else why not (for logs and
    the verification panel, never a secret)."""
    keys = {key_id(key): key for key in _keys()}
    key = keys.get(signature.seal_key_id or "")
    if key is None:
        return "unknown-key"
    if not hmac.compare_digest(_mac(key, payload(signature)), signature.seal or ""):
        return "bad-seal"
    return None
