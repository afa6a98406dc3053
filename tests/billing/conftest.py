"""Billing fixtures: Stripe pointed at the fake, a connected company, a signed estimate made
through the documents and portal services (tests.factories), and helpers to pay like a customer."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from billing import services
from billing.models import (
    Payment,
    StripeAccount,
)
from documents.models import DepositKind, Estimate
from tests.billing.qbo import qbo_on  # noqa: F401 (the QuickBooks fixture, for tests/billing)
from tests.factories import SignedEstimateFactory
from tests.fakes.stripe_server import DEFAULT_WEBHOOK_SECRET, StripeFake

CONNECT_SECRET = "whsec_fake_connect_endpoint_secret"


def roof(price: str = "2000.00") -> tuple[dict, ...]:
    """The lines of billing's signed estimates: one taxable line."""
    return ({"description": "Roof", "unit_price": price},)


def deposit(percent: str = "25", *, fixed: str | None = None) -> dict:
    """An estimate revision asking for a deposit: a percentage, or ``fixed`` dollars."""
    if fixed is not None:
        return {"deposit_kind": DepositKind.FIXED, "deposit_value": fixed}
    return {"deposit_kind": DepositKind.PERCENT, "deposit_value": percent}


def return_urls(payment: Payment) -> tuple[str, str]:
    base = f"http://testserver/p/token/pay/{payment.public_id}"
    return f"{base}/done/?session_id={{CHECKOUT_SESSION_ID}}", f"{base}/cancelled/"


def start_checkout(document, amount=None):
    return services.checkout_start(document=document, amount=amount, return_urls=return_urls)


@pytest.fixture
def stripe_on(settings, fake_stripe: StripeFake):
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_API_BASE = fake_stripe.url
    settings.STRIPE_WEBHOOK_SECRET = DEFAULT_WEBHOOK_SECRET
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = CONNECT_SECRET
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return fake_stripe


@pytest.fixture
def connected(company, stripe_on) -> StripeAccount:
    """The company's connected account, ready for charges, in the fake and in our table."""
    data = stripe_on.add_account()
    return StripeAccount.objects.create(
        company=company,
        account_id=data["id"],
        charges_enabled=True,
        details_submitted=True,
        connected_at=timezone.now(),
    )


@pytest.fixture
def signed_estimate(customer, job) -> Estimate:
    """A $2,000.00 estimate asking a 25 % deposit, sent and signed with its defaults."""
    return SignedEstimateFactory(customer=customer, job=job, lines=roof(), revision=deposit())


@pytest.fixture
def hooks(live_server, stripe_on):
    """The fake sends its webhooks to the live app."""
    stripe_on.webhook_url = live_server.url + "/webhooks/stripe/"
    return stripe_on


def store_event(event: dict) -> int | None:
    """Store a Stripe event (a fake server's dict) as the webhook does once it has verified
    it, without the HTTP request: the stored row's pk, or None for a duplicate."""
    from billing.services import EventIn, event_store

    return event_store(
        event=EventIn(
            id=event["id"],
            type=event["type"],
            account=event["account"],
            created=event["created"],
            body=json.dumps(event),
        )
    )
