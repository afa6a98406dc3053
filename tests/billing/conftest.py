"""Billing fixtures: Stripe pointed at the fake, a connected company, sent invoices and signed
estimates made through the documents services, and helpers to pay them like a customer."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services
from billing.models import (
    Payment,
    StripeAccount,
)
from crewcommand.lib.activity import Actor
from documents import services as documents
from documents.models import DepositKind, Estimate, Invoice
from documents.totals import Selection
from portal import services as portal
from portal.forms import CONSENT_TEXT
from portal.signatures import typed_svg
from tests.fakes.stripe_server import DEFAULT_WEBHOOK_SECRET, StripeFake

CONNECT_SECRET = "whsec_fake_connect_endpoint_secret"


def make_invoice(
    customer, *, lines=(("Water heater", "1", "1200.00"),), send: bool = True, job=None
) -> Invoice:
    actor = Actor.system()
    invoice = documents.invoice_create(
        company=customer.company, customer=customer, actor=actor, job=job
    )
    for description, quantity, price in lines:
        documents.line_save(
            doc=invoice,
            actor=actor,
            fields={
                "description": description,
                "quantity": Decimal(quantity),
                "unit_price": Decimal(price),
                "taxable": True,
            },
        )
    if send:
        documents.invoice_send(invoice=invoice, actor=actor)
    return Invoice.objects.get(pk=invoice.pk)


def make_signed_estimate(
    customer,
    *,
    price: str = "2000.00",
    deposit_percent: str = "25",
    deposit_fixed: str | None = None,
    job=None,
) -> Estimate:
    """An estimate asking for a deposit (a percentage, or ``deposit_fixed`` dollars), sent, then
    signed by the customer through the portal's own signing service."""
    actor = Actor.system()
    estimate = documents.estimate_create(
        company=customer.company, customer=customer, actor=actor, job=job
    )
    kind, value = (
        (DepositKind.PERCENT, deposit_percent)
        if deposit_fixed is None
        else (DepositKind.FIXED, deposit_fixed)
    )
    documents.estimate_update(
        estimate=estimate,
        actor=actor,
        fields={"deposit_kind": kind, "deposit_value": Decimal(value)},
    )
    documents.line_save(
        doc=estimate,
        actor=actor,
        fields={"description": "Roof", "quantity": Decimal("1"), "unit_price": Decimal(price)},
    )
    documents.estimate_send(estimate=estimate, actor=actor)
    estimate = Estimate.objects.select_related("current_revision").get(pk=estimate.pk)
    issued = portal.link_create(customer=customer, actor=actor, document=estimate)
    accept_with_defaults(estimate, issued.link)
    return Estimate.objects.select_related("accepted_revision", "company").get(pk=estimate.pk)


def accept_with_defaults(estimate: Estimate, link) -> None:
    """The customer signs the estimate's current revision with its default options (typed
    signature), through the portal's own signing service."""
    customer = estimate.customer
    portal.estimate_accept(
        estimate=estimate,
        link=link,
        revision_number=estimate.current_revision.number,
        selection=Selection(),
        signature=portal.SignatureIn(
            signer_name=customer.name,
            method="typed",
            image_svg=typed_svg(customer.name),
            consent_text=str(CONSENT_TEXT),
        ),
        ip="203.0.113.9",
        user_agent="pytest",
    )


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
def invoice(customer, job) -> Invoice:
    return make_invoice(customer, job=job)


@pytest.fixture
def signed_estimate(customer, job) -> Estimate:
    return make_signed_estimate(customer, job=job)


@pytest.fixture
def hooks(live_server, stripe_on):
    """The fake sends its webhooks to the live app."""
    stripe_on.webhook_url = live_server.url + "/webhooks/stripe/"
    return stripe_on
