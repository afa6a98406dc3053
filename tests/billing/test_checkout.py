"""Starting a card payment: a Checkout Session on the company's connected account for exactly
the balance shown, through the real stripe SDK talking to the fake Stripe server."""

from __future__ import annotations

import logging
import random
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import timezone

from billing import services
from billing.models import Payment, PaymentMethod, PaymentStatus
from billing.selectors import invoice_payable
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from documents import services as documents
from documents.models import Invoice, InvoiceStatus
from tests import money_oracle as oracle
from tests.billing.conftest import start_checkout
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db

BALANCE = Template("{% load money %}{{ invoice.balance|cad }}")


def test_pay_creates_a_checkout_session_for_the_balance_on_the_connected_account(
    invoice, connected, stripe_on
):
    started = start_checkout(invoice)

    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.CREATED
    assert payment.amount == invoice.balance == Decimal("1356.00")  # 1200 + 13% HST
    assert started.url == f"{stripe_on.url}/pay/{payment.stripe_session_id}"
    sent = stripe_on.last_request("/v1/checkout/sessions", "POST")
    assert sent.header("Stripe-Account") == connected.account_id
    assert sent.header("Idempotency-Key") == f"cc-checkout-{payment.public_id}-135600"
    params = sent.form
    assert params["line_items"][0]["price_data"]["unit_amount"] == "135600"
    assert params["line_items"][0]["price_data"]["currency"] == "cad"
    assert params["metadata"] == {
        "cc_payment": payment.public_id,
        "cc_company": invoice.company.public_id,
        "cc_invoice": invoice.public_id,
    }
    assert params["payment_intent_data"]["metadata"] == params["metadata"]
    assert params["customer_email"] == invoice.customer.email
    assert params["client_reference_id"] == payment.public_id
    assert "{CHECKOUT_SESSION_ID}" in params["success_url"]
    assert stripe_on.account_of(payment.stripe_session_id) == connected.account_id


def test_each_tap_makes_a_fresh_attempt_and_session(invoice, connected):
    first, second = start_checkout(invoice), start_checkout(invoice)
    assert first.payment.pk != second.payment.pk
    assert first.payment.stripe_session_id != second.payment.stripe_session_id


def test_without_stripe_configured_nothing_is_written(invoice, settings):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(ServiceError, match="not available"):
        start_checkout(invoice)
    assert not Payment.objects.exists()
    assert not invoice_payable(invoice=invoice).can_pay_online


def test_a_company_without_a_connected_account_cannot_take_cards(invoice, stripe_on):
    with pytest.raises(ServiceError, match="not available"):
        start_checkout(invoice)
    assert not Payment.objects.exists()


def test_a_paid_draft_or_void_invoice_cannot_be_paid(customer, connected):
    draft = InvoiceFactory(customer=customer, sent=False)
    with pytest.raises(ServiceError, match="not been sent"):
        start_checkout(draft)
    void = InvoiceFactory(customer=customer)
    Invoice.objects.filter(pk=void.pk).update(status=InvoiceStatus.VOID)
    void.refresh_from_db()
    with pytest.raises(ServiceError, match="cancelled"):
        start_checkout(void)
    paid = InvoiceFactory(customer=customer)
    Invoice.objects.filter(pk=paid.pk).update(amount_paid=paid.total, status=InvoiceStatus.PAID)
    paid.refresh_from_db()
    with pytest.raises(ServiceError, match="paid in full"):
        start_checkout(paid)
    assert not Payment.objects.exists()


def test_partial_payments_only_where_allowed_and_above_the_minimum(invoice, connected, stripe_on):
    with pytest.raises(ServiceError, match="full amount"):
        start_checkout(invoice, Decimal("100.00"))
    connected.allow_partial_payments = True
    connected.minimum_partial_amount = Decimal("100.00")
    connected.save()
    with pytest.raises(ServiceError, match="smallest partial"):
        start_checkout(invoice, Decimal("99.99"))
    with pytest.raises(ServiceError, match="more than"):
        start_checkout(invoice, Decimal("1356.01"))
    started = start_checkout(invoice, Decimal("100.00"))
    assert started.payment.amount == Decimal("100.00")
    sent = stripe_on.last_request("/v1/checkout/sessions", "POST").form
    assert sent["line_items"][0]["price_data"]["unit_amount"] == "10000"


def test_stripe_failure_marks_the_attempt_failed_and_tells_the_customer(
    invoice, connected, settings
):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    with pytest.raises(ServiceError, match="try again"):
        start_checkout(invoice)
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.FAILED
    assert payment.stripe_session_id is None


RANDOM_INVOICES = 13 * 15  # 15 in each province and territory


def test_cents_sent_to_stripe_equal_an_independent_calculation_for_random_invoices(
    customer, connected, stripe_on, caplog
):
    """Random invoices in all 13 provinces and territories (quantities with 3 decimals, prices
    to the cent, some lines exempt), made, sent and part-paid through the services. The
    expected amounts come from ``tests.money_oracle`` (its own rates and rounding), never from
    the project's totals: the stored total, the balance shown, the attempt and the cents
    Stripe receives must all equal it."""
    caplog.set_level(logging.WARNING, logger="stripe")
    rng = random.Random(20261125)
    seen = set()
    for i in range(RANDOM_INVOICES):
        province = oracle.PROVINCES[i % len(oracle.PROVINCES)]
        lines = [
            (
                str(Decimal(rng.randint(1, 50_000)) / 1000),
                str(Decimal(rng.randint(1, 200_000)) / 100),
                rng.random() > 0.2,
            )
            for _j in range(rng.randint(1, 4))
        ]
        want = oracle.expected(lines, province)
        invoice = _invoice_through_services(customer, lines, province=province)
        assert invoice.total == want.total, (i, province, lines)
        due = want.total
        part = oracle.cents(want.total * Decimal(rng.randint(0, 90)) / 100)
        if part > 0:
            services.payment_record(
                actor=Actor.system(),
                invoice=invoice,
                amount=part,
                method=PaymentMethod.ETRANSFER,
                received_on=timezone.localdate(),
            )
            invoice.refresh_from_db()
            due -= part
        shown = BALANCE.render(Context({"invoice": invoice})).strip()
        started = start_checkout(invoice)
        sent = stripe_on.last_request("/v1/checkout/sessions", "POST").form
        cents = int(sent["line_items"][0]["price_data"]["unit_amount"])
        assert cents == oracle.to_cents(due), (i, province, lines, part)
        assert shown == oracle.cad(due), (i, shown)
        assert started.payment.amount == due
        seen.add(province)
    assert seen == set(oracle.PROVINCES)


def _invoice_through_services(customer, lines, *, province: str) -> Invoice:
    actor = Actor.system()
    invoice = documents.invoice_create(
        company=customer.company, customer=customer, actor=actor, province=province
    )
    for n, (quantity, price, taxable) in enumerate(lines):
        documents.line_save(
            doc=invoice,
            actor=actor,
            fields={
                "description": f"Item {n}",
                "quantity": Decimal(quantity),
                "unit_price": Decimal(price),
                "taxable": taxable,
            },
        )
    documents.invoice_send(invoice=invoice, actor=actor)
    return Invoice.objects.get(pk=invoice.pk)
