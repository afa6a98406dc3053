"""Review link tokens: 256 bits, stored only as a SHA-256 (``portal.tokens.token_hash``, the
portal's own rule), and re-derivable from the row.

Why re-derivable: ``{review_link}`` in a message "creates or reuses the customer's review
request", and a request is reused for the whole throttle window, so the link sent in the second
message must be the link of the first (a customer may open either). A hash cannot give the raw
token back, and making a new token on each send would kill the link already in the customer's
inbox. So the token is ``HMAC-SHA256(SECRET_KEY, purpose, the row's random 128-bit nonce)`` in URL-safe
base64 (43 characters, like a portal token), the same construction as Django's password reset
and our invitation links: the database alone (hash and nonce) does not give it, and any
process holding ``SECRET_KEY`` (the email task) can rebuild it without the token ever passing
through the broker. Rotating ``SECRET_KEY`` changes every derived token; ``reviews.services``
notices the mismatch with the stored hash and issues the row a new nonce, so later sends carry
a working link (links already sent stop working, as after revoking a portal link).
"""

from __future__ import annotations

import base64
import secrets

from django.conf import settings
from django.urls import reverse
from django.utils.crypto import salted_hmac

from portal.tokens import token_hash

__all__ = ["derive_token", "new_nonce", "review_url", "token_hash"]

PURPOSE = "crewcommand.reviews.token.v1"
NONCE_BYTES = 16


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def derive_token(*, nonce: str) -> str:
    digest = salted_hmac(PURPOSE, nonce, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def review_url(*, nonce: str) -> str:
    """The absolute link for a request's nonce, from ``SITE_URL`` (never the Host header)."""
    return settings.SITE_URL + reverse("reviews:landing", args=[derive_token(nonce=nonce)])
