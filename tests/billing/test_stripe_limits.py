"""Stripe's limits: at most 99,999,999 cents ($999,999.99) per charge, and a Checkout Session's
``expires_at`` 30 minutes to 24 hours after it is created. Amounts above the maximum get no Pay
button (pay in parts where the company allows it, otherwise by other means), the checkout
service refuses them before asking Stripe, the expiry setting is checked at startup, and the
fake Stripe server refuses what the real one refuses, with Stripe's error shapes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from django.test import Client
from django.urls import reverse

from billing import stripe_client
from billing.models import Payment, PaymentStatus
from billing.selectors import invoice_payable
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from documents import services as documents
from tests.billing.conftest import start_checkout
from tests.billing.test_portal_pay import issue
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
# The issue's invoice: $900,000.00 of work at Ontario's 13 % HST is $1,017,000.00.
BIG = ({"description": "Commercial build-out", "unit_price": "900000.00"},)


def url(link, name: str, *args) -> str:
    namespace = "billing_portal" if name.startswith("pay") else "portal"
    return reverse(f"{namespace}:{name}", args=[link.token, *args])


def sessions_created(fake) -> int:
    return len(fake.requests_to("/v1/checkout/sessions", "POST"))


@pytest.fixture
def big(customer, job):
    invoice = InvoiceFactory(customer=customer, lines=BIG, job=job)
    assert invoice.total == invoice.balance == Decimal("1017000.00")
    return invoice


# --- The portal ----------------------------------------------------------------------------------


def test_an_invoice_above_the_maximum_gets_no_pay_button_but_a_clear_message(
    big, company, connected, stripe_on
):
    company.payment_instructions = "Wire transfer: account 12345"
    company.save()
    link = issue(big.customer, big)
    body = Client().get(url(link, "invoice", big.public_id)).content.decode()
    assert 'id="pay-button"' not in body and "Pay $1,017,000.00" not in body
    assert 'id="card-limit"' in body
    assert "A single card payment can be at most $999,999.99." in body
    assert "Please pay this amount by one of the other ways below." in body
    assert "Wire transfer: account 12345" in body
    assert 'id="pay-in-parts"' not in body  # the company takes no partial payments

    page = Client().get(url(link, "pay_invoice", big.public_id)).content.decode()
    assert 'id="pay-button"' not in page and 'id="card-limit"' in page
    answer = Client().post(url(link, "pay_invoice", big.public_id))
    assert answer.status_code == 200
    assert "can&#x27;t be paid by card" in answer.content.decode()
    assert not Payment.objects.exists() and sessions_created(stripe_on) == 0


def test_with_partial_payments_the_customer_pays_in_parts_of_at_most_the_maximum(
    big, connected, stripe_on
):
    connected.allow_partial_payments = True
    connected.minimum_partial_amount = Decimal("100.00")
    connected.save()
    link = issue(big.customer, big)
    body = Client().get(url(link, "invoice", big.public_id)).content.decode()
    assert 'id="pay-button"' not in body and 'id="pay-in-parts"' in body
    assert "in parts of up to $999,999.99 each" in body

    page = Client().get(url(link, "pay_invoice", big.public_id)).content.decode()
    assert 'name="choice" value="part"' in page and 'value="full"' not in page
    assert "Between $100.00 and $999,999.99." in page
    assert "Continue to payment" in page

    too_much = Client().post(
        url(link, "pay_invoice", big.public_id), {"choice": "part", "amount": "1000000.00"}
    )
    assert too_much.status_code == 200
    assert "Pay in parts of up to $999,999.99" in too_much.content.decode()
    full = Client().post(url(link, "pay_invoice", big.public_id), {"choice": "full"})
    assert full.status_code == 200 and not Payment.objects.exists()
    assert sessions_created(stripe_on) == 0

    answer = Client().post(
        url(link, "pay_invoice", big.public_id), {"choice": "part", "amount": "999999.99"}
    )
    assert answer.status_code == 303
    payment = Payment.objects.get()
    assert payment.amount == Decimal("999999.99")
    sent = stripe_on.last_request("/v1/checkout/sessions", "POST").form
    assert sent["line_items"][0]["price_data"]["unit_amount"] == "99999999"


# --- The checkout service ------------------------------------------------------------------------


def test_the_checkout_service_refuses_an_amount_stripe_cannot_take(big, connected, stripe_on):
    with pytest.raises(ServiceError, match=r"at most \$999,999\.99.*other ways to pay"):
        start_checkout(big)
    assert not Payment.objects.exists() and sessions_created(stripe_on) == 0
    assert not invoice_payable(invoice=big).can_pay_online

    connected.allow_partial_payments = True
    connected.save()
    with pytest.raises(ServiceError, match=r"Pay in parts of up to \$999,999\.99"):
        start_checkout(big, Decimal("999999.99") + Decimal("0.01"))
    with pytest.raises(ServiceError, match=r"Pay in parts"):
        start_checkout(big)  # the whole balance is still too much for one charge
    assert not Payment.objects.exists() and sessions_created(stripe_on) == 0


def test_exactly_the_maximum_is_one_card_payment(customer, connected, stripe_on):
    actor = Actor.system()
    invoice = documents.invoice_create(company=customer.company, customer=customer, actor=actor)
    documents.line_save(
        doc=invoice,
        actor=actor,
        fields={
            "description": "Build",
            "quantity": Decimal("1"),
            "unit_price": Decimal("999999.99"),
            "taxable": False,
        },
    )
    documents.invoice_send(invoice=invoice, actor=actor)
    invoice.refresh_from_db()
    assert invoice.balance == Decimal("999999.99")
    assert invoice_payable(invoice=invoice).can_pay_online
    started = start_checkout(invoice)
    assert started.payment.status == PaymentStatus.CREATED
    sent = stripe_on.last_request("/v1/checkout/sessions", "POST").form
    assert sent["line_items"][0]["price_data"]["unit_amount"] == "99999999"


@pytest.mark.parametrize("minutes", [30, 1440])
def test_the_expiry_setting_at_either_end_of_stripes_range_makes_a_session(
    invoice, connected, stripe_on, settings, minutes
):
    """The fake measures ``expires_at`` from when it creates the session, as Stripe does: the
    service keeps a margin inside the range, so both ends of the setting's range work."""
    settings.BILLING_CHECKOUT_EXPIRY_MINUTES = minutes
    before = int(time.time())
    started = start_checkout(invoice)
    session = stripe_on.get(started.payment.stripe_session_id)
    lifetime = session["expires_at"] - session["created"]
    assert 30 * 60 < lifetime < 24 * 60 * 60
    assert abs(session["expires_at"] - (before + minutes * 60)) <= 3 * 60
    assert int(started.payment.stripe_expires_at.timestamp()) == session["expires_at"]


# --- The fake Stripe server enforces Stripe's limits ---------------------------------------------


def _create(connected, *, cents: int, expires_in: int | None = None, key: str) -> dict:
    params: dict = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "cad",
                    "unit_amount": cents,
                    "product_data": {"name": "Work"},
                },
                "quantity": 1,
            }
        ],
        "success_url": "https://example.ca/done",
    }
    if expires_in is not None:
        params["expires_at"] = int(time.time()) + expires_in
    return stripe_client.checkout_session_create(
        account=connected.account_id, params=params, idempotency_key=key
    )


def test_the_fake_refuses_a_charge_above_eight_digits_like_stripe(connected, stripe_on):
    assert _create(connected, cents=99_999_999, key="max")["amount_total"] == 99_999_999
    with pytest.raises(stripe_client.StripeFailure) as refused:
        _create(connected, cents=101_700_000, key="over")
    assert refused.value.permanent and refused.value.code == "amount_too_large"
    # Stripe's error body, as the raw HTTP answer.
    raw = requests.post(
        f"{stripe_on.url}/v1/checkout/sessions",
        data={
            "mode": "payment",
            "line_items[0][price_data][currency]": "cad",
            "line_items[0][price_data][unit_amount]": "100000000",
            "line_items[0][price_data][product_data][name]": "Work",
            "line_items[0][quantity]": "1",
        },
        headers={"Authorization": "Bearer sk_test_fake", "Stripe-Account": connected.account_id},
        timeout=10,
    )
    assert raw.status_code == 400
    assert raw.json() == {
        "error": {
            "type": "invalid_request_error",
            "code": "amount_too_large",
            "doc_url": "https://stripe.com/docs/error-codes/amount-too-large",
            "message": "Amount must be no more than $999,999.99 CAD",
            "param": "line_items[0][price_data][unit_amount]",
        }
    }


@pytest.mark.parametrize(
    ("expires_in", "message"),
    [
        (29 * 60, "must be at least 30 minutes from Checkout Session creation"),
        (24 * 60 * 60 + 60, "must be less than 24 hours from Checkout Session creation"),
    ],
)
def test_the_fake_refuses_expires_at_outside_30_minutes_to_24_hours(
    connected, stripe_on, expires_in, message
):
    with pytest.raises(stripe_client.StripeFailure, match=message) as refused:
        _create(connected, cents=1000, expires_in=expires_in, key=f"exp-{expires_in}")
    assert refused.value.permanent


@pytest.mark.parametrize("expires_in", [30 * 60 + 5, 24 * 60 * 60 - 5])
def test_the_fake_accepts_expires_at_inside_the_range(connected, stripe_on, expires_in):
    session = _create(connected, cents=1000, expires_in=expires_in, key=f"ok-{expires_in}")
    assert session["status"] == "open"


# --- The setting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("29", "BILLING_CHECKOUT_EXPIRY_MINUTES must be at least 30, got 29."),
        ("1441", "BILLING_CHECKOUT_EXPIRY_MINUTES must be at most 1440, got 1441."),
    ],
)
def test_the_checkout_expiry_setting_is_checked_at_startup(value, message):
    environ = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**environ, "BILLING_CHECKOUT_EXPIRY_MINUTES": value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr
