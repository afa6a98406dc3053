"""The one module that talks to Stripe.

Every call goes through ``stripe.StripeClient`` with the platform key, on the company's connected
account (``stripe_account``), and returns plain dicts. Failures raise ``StripeFailure`` with
``permanent`` telling callers whether retrying can help, so retry policy lives in one place.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from typing import Any

import stripe
from django.conf import settings

logger = logging.getLogger(__name__)

# Stripe retries webhooks for days, but a signature older than this is refused (replay guard).
SIGNATURE_TOLERANCE_SECONDS = 300


class StripeFailure(Exception):
    """A Stripe call failed. ``permanent``: the same request will fail again."""

    def __init__(self, message: str, *, permanent: bool, code: str = "") -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code


class BadWebhook(Exception):
    """The webhook's signature, timestamp or body is not acceptable."""


def is_enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


_clients: dict[tuple[str, str, int], stripe.StripeClient] = {}


def client(*, interactive: bool = False) -> stripe.StripeClient:
    """A client for the current settings (tests repoint ``STRIPE_API_BASE`` at the fake).

    ``interactive``: the call runs while a customer's page waits for it. The SDK's default
    (80 s per try, plus retries) would let a hanging Stripe hang that page, so such calls give
    up after ``STRIPE_PAGE_TIMEOUT_SECONDS`` without retrying; they only look up what Stripe
    will also tell us later (webhook, reconciliation), so giving up loses nothing."""
    if not is_enabled():
        raise StripeFailure("Stripe is not configured.", permanent=True, code="not_configured")
    timeout = settings.STRIPE_PAGE_TIMEOUT_SECONDS if interactive else 0
    key = (settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE or "", timeout)
    if key not in _clients:
        base = settings.STRIPE_API_BASE
        addresses = (
            {"api": base, "connect": base, "files": base, "meter_events": base} if base else None
        )
        _clients[key] = stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            base_addresses=addresses,
            max_network_retries=0 if interactive else settings.STRIPE_MAX_NETWORK_RETRIES,
            http_client=stripe.RequestsClient(timeout=timeout) if timeout else None,
        )
    return _clients[key]


def _call(what: str, func, *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        result = func(*args, **kwargs)
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as error:
        logger.warning("stripe %s failed (transient): %s", what, type(error).__name__)
        raise StripeFailure(str(error.user_message or error), permanent=False) from error
    except stripe.StripeError as error:
        logger.warning("stripe %s failed: %s %s", what, type(error).__name__, error.code)
        raise StripeFailure(
            str(error.user_message or error), permanent=True, code=error.code or ""
        ) from error
    return result.to_dict()


def _options(account: str, idempotency_key: str | None = None) -> stripe.RequestOptions:
    options: stripe.RequestOptions = {"stripe_account": account}
    if idempotency_key:
        options["idempotency_key"] = idempotency_key
    return options


# --- Checkout ----------------------------------------------------------------------------------


def checkout_session_create(
    *, account: str, params: dict[str, Any], idempotency_key: str, interactive: bool = False
) -> dict[str, Any]:
    """``interactive``: the customer's page waits (short timeout, see ``client``); a session
    Stripe made after we gave up is never shown to anyone and expires."""
    sessions = client(interactive=interactive).v1.checkout.sessions
    return _call(
        "checkout.create", sessions.create, params, options=_options(account, idempotency_key)
    )


def checkout_session_retrieve(
    *, account: str, session_id: str, interactive: bool = False
) -> dict[str, Any]:
    """The session as Stripe knows it now, with its PaymentIntent and that intent's latest
    charge expanded (how it was paid: card, wallet, bank debit). ``interactive``:
    a customer's page is waiting (short timeout, see ``client``)."""
    sessions = client(interactive=interactive).v1.checkout.sessions
    return _call(
        "checkout.retrieve",
        sessions.retrieve,
        session_id,
        {"expand": ["payment_intent.latest_charge"]},
        options=_options(account),
    )


def checkout_session_for_intent(*, account: str, intent_id: str) -> dict[str, Any] | None:
    sessions = client().v1.checkout.sessions
    found = _call(
        "checkout.list",
        sessions.list,
        {"payment_intent": intent_id, "limit": 1, "expand": ["data.payment_intent.latest_charge"]},
        options=_options(account),
    )
    return found["data"][0] if found.get("data") else None


# --- Refunds -----------------------------------------------------------------------------------


def refund_create(
    *,
    account: str,
    payment_intent: str,
    amount_cents: int,
    metadata: dict[str, str],
    idempotency_key: str,
    reason: str | None = None,
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "payment_intent": payment_intent,
        "amount": amount_cents,
        "metadata": metadata,
    }
    if reason:
        params["reason"] = reason
    refunds = client().v1.refunds
    return _call(
        "refund.create", refunds.create, params, options=_options(account, idempotency_key)
    )


def charge_retrieve(*, account: str, charge_id: str) -> dict[str, Any]:
    """The charge with its refunds (not included by default in recent API versions)."""
    charges = client().v1.charges
    return _call(
        "charge.retrieve",
        charges.retrieve,
        charge_id,
        {"expand": ["refunds"]},
        options=_options(account),
    )


# --- Connect -----------------------------------------------------------------------------------


def account_retrieve(*, account: str) -> dict[str, Any]:
    return _call("account.retrieve", client().v1.accounts.retrieve, account)


def account_create(*, email: str, idempotency_key: str) -> dict[str, Any]:
    params: dict[str, Any] = {"type": "standard", "country": "CA"}
    if email:
        params["email"] = email
    return _call(
        "account.create",
        client().v1.accounts.create,
        params,
        options={"idempotency_key": idempotency_key},
    )


def account_link_create(*, account: str, refresh_url: str, return_url: str) -> dict[str, Any]:
    params = {
        "account": account,
        "refresh_url": refresh_url,
        "return_url": return_url,
        "type": "account_onboarding",
    }
    return _call("account_link.create", client().v1.account_links.create, params)


# --- Webhooks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedEvent:
    id: str
    type: str
    account: str
    created: int
    object: dict[str, Any]
    payload: dict[str, Any]
    body: str = ""  # the raw JSON, as signed (what the webhook stores)


def webhook_secrets() -> list[str]:
    return [
        s for s in (settings.STRIPE_WEBHOOK_SECRET, settings.STRIPE_CONNECT_WEBHOOK_SECRET) if s
    ]


def event_verify(*, payload: bytes, signature: str) -> VerifiedEvent:
    """Check ``Stripe-Signature`` against the platform and Connect endpoint secrets, the
    timestamp against a 5-minute window (both ways), then parse the body.

    Raises ``BadWebhook`` for anything that is not a fresh, signed Stripe event."""
    secrets = webhook_secrets()
    if not secrets:
        raise BadWebhook("no webhook secret configured")
    if not signature or len(signature) > 2000:
        raise BadWebhook("missing signature")
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature, secret, SIGNATURE_TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError:
            continue
        except ValueError as error:  # a body that is not UTF-8
            raise BadWebhook("unreadable body") from error
        break
    else:
        raise BadWebhook("bad signature")
    timestamp = _signature_timestamp(signature)
    if timestamp > time.time() + SIGNATURE_TOLERANCE_SECONDS:
        raise BadWebhook("timestamp in the future")
    # The body is parsed once, into plain dicts (never the SDK's StripeObjects).
    try:
        body = payload.decode("utf-8")
        data = json.loads(body)
    except ValueError as error:
        raise BadWebhook("body is not a Stripe event") from error
    return replace(event_parse(data), body=body)


def _signature_timestamp(header: str) -> int:
    for part in header.split(","):
        name, _sep, value = part.partition("=")
        if name.strip() == "t":
            return int(value)
    raise BadWebhook("no timestamp")


def event_parse(data: Any) -> VerifiedEvent:
    """A decoded event body (verified by ``event_verify``, or stored after it was) as a
    ``VerifiedEvent``; ``BadWebhook`` when it is not shaped like a Stripe event."""
    try:
        obj = data["data"]["object"]
        event = VerifiedEvent(
            id=str(data["id"]),
            type=str(data["type"]),
            account=str(data.get("account") or ""),
            created=int(data.get("created") or 0),
            object=obj,
            payload=data,
        )
    except (ValueError, KeyError, TypeError) as error:
        raise BadWebhook("body is not a Stripe event") from error
    if not isinstance(obj, dict) or not event.id.startswith("evt_") or len(event.id) > 255:
        raise BadWebhook("body is not a Stripe event")
    return event


# --- Saved cards and off-session charges -------------------------------------------------------


def customer_create(
    *,
    account: str,
    email: str,
    name: str,
    metadata: dict[str, str],
    idempotency_key: str,
    interactive: bool = False,
) -> dict[str, Any]:
    """``interactive``: the customer's page waits (short timeout, see ``client``); the key makes
    the next try return the customer Stripe may have made after we gave up."""
    params: dict[str, Any] = {"name": name[:256], "metadata": metadata}
    if email:
        params["email"] = email
    return _call(
        "customers.create",
        client(interactive=interactive).v1.customers.create,
        params,
        options=_options(account, idempotency_key),
    )


def payment_method_retrieve(*, account: str, payment_method_id: str) -> dict[str, Any]:
    return _call(
        "payment_methods.retrieve",
        client().v1.payment_methods.retrieve,
        payment_method_id,
        options=_options(account),
    )


def payment_method_detach(*, account: str, payment_method_id: str) -> dict[str, Any]:
    return _call(
        "payment_methods.detach",
        client().v1.payment_methods.detach,
        payment_method_id,
        options=_options(account),
    )


def off_session_charge(
    *, account: str, params: dict[str, Any], idempotency_key: str
) -> dict[str, Any]:
    """Create and confirm a PaymentIntent on a saved card, the customer not present. A declined
    card or one that needs authentication is not an exception here: Stripe answers 402 with the
    failed intent, which is returned (status ``requires_payment_method``). The idempotency key
    makes a repeat (a worker killed mid-call, a retry) return the first answer, never charge
    again."""
    try:
        intent = client().v1.payment_intents.create(
            params, options=_options(account, idempotency_key)
        )
    except stripe.CardError as error:
        failed = getattr(error.error, "payment_intent", None)
        if failed is not None:
            return failed.to_dict()
        raise StripeFailure(
            str(error.user_message or error), permanent=True, code=error.code or ""
        ) from error
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as error:
        logger.warning("stripe off_session failed (transient): %s", type(error).__name__)
        raise StripeFailure(str(error.user_message or error), permanent=False) from error
    except stripe.StripeError as error:
        logger.warning("stripe off_session failed: %s %s", type(error).__name__, error.code)
        raise StripeFailure(
            str(error.user_message or error), permanent=True, code=error.code or ""
        ) from error
    return intent.to_dict()
