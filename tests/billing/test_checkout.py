"""Starting a card payment: a Checkout Session on the company's connected account for exactly
the balance shown, through the real stripe SDK talking to the fake Stripe server."""

from __future__ import annotations

import logging
import random
from decimal import Decimal

import pytest
from django.template import Context, Template

from billing.models import Payment, PaymentStatus
from billing.selectors import invoice_payable
from crewcommand.lib.money import to_cents
from crewcommand.services import ServiceError
from documents.models import Invoice, InvoiceStatus, LineItem
from documents.totals import invoice_totals
from tests.billing.conftest import make_invoice, start_checkout

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
    draft = make_invoice(customer, send=False)
    with pytest.raises(ServiceError, match="not been sent"):
        start_checkout(draft)
    void = make_invoice(customer)
    Invoice.objects.filter(pk=void.pk).update(status=InvoiceStatus.VOID)
    void.refresh_from_db()
    with pytest.raises(ServiceError, match="cancelled"):
        start_checkout(void)
    paid = make_invoice(customer)
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


def test_cents_sent_to_stripe_equal_the_displayed_balance_for_1000_random_invoices(
    customer, connected, stripe_on, caplog
):
    """Random lines (quantities with 3 decimals, prices to the cent, some exempt), random
    provinces and part-payments; the amount Stripe receives is the balance on the page."""
    caplog.set_level(logging.WARNING, logger="stripe")
    rng = random.Random(20261125)
    provinces = ["ON", "QC", "BC", "AB", "NS", "MB", "SK", "NB", "PE", "NL", "YT"]
    for i in range(1000):
        lines = [
            (
                f"Item {j}",
                str(Decimal(rng.randint(1, 50_000)) / 1000),
                str(Decimal(rng.randint(1, 500_000)) / 100),
            )
            for j in range(rng.randint(1, 4))
        ]
        invoice = _quick_invoice(customer, lines, province=rng.choice(provinces), taxable=rng)
        paid_part = invoice.total * Decimal(rng.randint(0, 90)) / 100
        if paid_part >= Decimal("0.01"):
            Invoice.objects.filter(pk=invoice.pk).update(
                amount_paid=paid_part.quantize(Decimal("0.01")), status="partially_paid"
            )
            invoice.refresh_from_db()
        shown = BALANCE.render(Context({"invoice": invoice}))
        started = start_checkout(invoice)
        sent = stripe_on.last_request("/v1/checkout/sessions", "POST").form
        cents = int(sent["line_items"][0]["price_data"]["unit_amount"])
        assert cents == to_cents(invoice.balance), i
        assert shown.strip() == _format(cents), (i, shown)
        assert started.payment.amount == invoice.balance


def _format(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def _quick_invoice(customer, lines, *, province: str, taxable: random.Random) -> Invoice:
    """An invoice written straight to the tables (fast), totals from documents.totals."""
    from django.utils import timezone

    from documents.services import next_number

    today = timezone.localdate()
    invoice = Invoice.objects.create(
        company=customer.company,
        customer=customer,
        number=next_number(company=customer.company, kind="invoice"),
        province=province,
        issue_date=today,
        due_date=today,
        status=InvoiceStatus.SENT,
    )
    LineItem.objects.bulk_create(
        [
            LineItem(
                invoice=invoice,
                position=n,
                description=d,
                quantity=Decimal(q),
                unit_price=Decimal(p),
                taxable=taxable.random() > 0.2,
                public_id=f"l{invoice.pk:07d}{n:05d}"[:14],
            )
            for n, (d, q, p) in enumerate(lines)
        ]
    )
    totals = invoice_totals(invoice)
    Invoice.objects.filter(pk=invoice.pk).update(
        subtotal=totals.subtotal, tax_total=totals.tax_total, total=totals.total
    )
    invoice.refresh_from_db()
    return invoice
