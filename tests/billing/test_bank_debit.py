"""Canadian pre-authorized debit (acss_debit) through Checkout: the mandate Stripe collects,
the days-long processing state (never paid, Pay held), success with a receipt, failure that
leaves the invoice as it was and tells both sides with a fresh pay link, reconciliation of a
processing payment whose webhook was lost, and the payment method on receipts (wallets too).
Real stripe SDK against the fake server, real webhook signatures."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import stripe
from django.core import mail
from django.test import Client
from django.urls import reverse

from billing import reconcile, services
from billing.models import Payment, PaymentStatus, StripeEvent
from billing.selectors import PaymentFilters, job_payment_status, payment_list, payment_totals
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from crewcommand.models import Job
from documents.models import Invoice, InvoiceStatus
from portal.services import link_create
from tests.billing.conftest import start_checkout
from tests.factories import SignedEstimateFactory
from tests.fakes.stripe_server import DEFAULT_WEBHOOK_SECRET

pytestmark = pytest.mark.django_db

PROCESSING = "Bank payment processing, usually 3\N{EN DASH}5 business days"


@pytest.fixture
def pad(connected):
    connected.accept_bank_debit = True
    connected.save()
    return connected


def _session(fake, payment: Payment) -> dict:
    return fake.get(payment.stripe_session_id)


def _portal(invoice):
    issued = link_create(customer=invoice.customer, actor=Actor.system(), document=invoice)
    return issued, reverse("portal:invoice", args=[issued.token, invoice.public_id])


# --- The mandate -------------------------------------------------------------------------------


def test_checkout_offers_bank_debit_with_a_one_off_personal_mandate(invoice, pad, stripe_on):
    payment = start_checkout(invoice).payment
    session = _session(stripe_on, payment)
    assert session["payment_method_types"] == ["card", "acss_debit"]
    mandate = session["payment_method_options"]["acss_debit"]["mandate_options"]
    assert mandate["payment_schedule"] == "sporadic"
    assert mandate["transaction_type"] == "personal"
    assert mandate["interval_description"] is None
    assert session["currency"] == "cad" and session["amount_total"] == 135600


def test_a_business_company_gets_a_business_mandate(invoice, pad, stripe_on):
    pad.bank_debit_transaction_type = "business"
    pad.save()
    session = _session(stripe_on, start_checkout(invoice).payment)
    mandate = session["payment_method_options"]["acss_debit"]["mandate_options"]
    assert mandate["transaction_type"] == "business"


def test_without_the_setting_and_for_deposits_checkout_is_card_only(
    invoice, customer, job, connected, stripe_on
):
    assert _session(stripe_on, start_checkout(invoice).payment)["payment_method_types"] == ["card"]
    connected.accept_bank_debit = True
    connected.save()
    estimate = SignedEstimateFactory(
        customer=customer,
        job=job,
        lines=({"description": "Roof", "unit_price": "2000.00"},),
        revision={"deposit_kind": "percent", "deposit_value": "25"},
    )
    session = _session(stripe_on, start_checkout(estimate).payment)
    assert session["payment_method_types"] == ["card"]


def test_the_fake_refuses_a_bank_debit_without_its_mandate_like_stripe(
    stripe_on, stripe_client, connected
):
    params = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "cad",
                    "unit_amount": 1000,
                    "product_data": {"name": "x"},
                },
                "quantity": 1,
            }
        ],
        "success_url": "http://testserver/ok",
        "payment_method_types": ["card", "acss_debit"],
    }
    options = {"stripe_account": connected.account_id}
    with pytest.raises(stripe.InvalidRequestError, match="payment_schedule"):
        stripe_client.v1.checkout.sessions.create(params, options)
    params["payment_method_options"] = {
        "acss_debit": {
            "currency": "cad",
            "mandate_options": {"payment_schedule": "sporadic", "transaction_type": "personal"},
        }
    }
    with pytest.raises(stripe.InvalidRequestError, match="setup mode"):
        stripe_client.v1.checkout.sessions.create(params, options)


# --- Processing, then paid ----------------------------------------------------------------------


def test_a_processing_bank_payment_is_never_paid_and_holds_the_pay_button(
    invoice, pad, hooks, owner_client
):
    payment = start_checkout(invoice).payment
    hooks.complete_session(payment.stripe_session_id, async_payment=True)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PROCESSING and payment.method_type == "acss_debit"
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert invoice.amount_paid == 0 and invoice.balance == Decimal("1356.00")
    assert invoice.status == InvoiceStatus.SENT

    # Not collected anywhere: the payments ledger and the jobs' figures.
    totals = payment_totals(
        payments=payment_list(company=invoice.company, filters=PaymentFilters())
    )
    assert totals["collected"] == 0 and totals["net"] == 0
    job = job_payment_status(jobs=Job.objects.filter(pk=invoice.job_id)).get()
    assert job.settled == 0 and job.payment_state == "unpaid"

    # The customer sees processing, no Pay button, and cannot start another payment.
    issued, page_url = _portal(invoice)
    body = Client().get(page_url).content.decode()
    assert PROCESSING in body and 'data-state="processing"' in body
    assert 'id="pay-button"' not in body and 'id="pay-form"' not in body
    pay_url = reverse("billing_portal:pay_invoice", args=[issued.token, invoice.public_id])
    answer = Client().post(pay_url, {"pay_again": "on"})
    assert answer.status_code == 200 and PROCESSING in answer.content.decode()
    with pytest.raises(ServiceError, match="Bank payment processing"):
        services.checkout_start(
            document=invoice, amount=None, return_urls=lambda p: ("a", "b"), pay_again=True
        )
    assert Payment.objects.count() == 1

    # The contractor sees it too, not as paid.
    panel = owner_client.get(
        reverse("billing_dashboard:invoice_payments", args=[invoice.public_id])
    ).content.decode()
    assert PROCESSING in panel and "Pre-authorized debit ····6789" in panel

    # Days later the bank debit clears: paid, with a receipt naming the method.
    mail.outbox.clear()
    hooks.settle_async_payment(payment.stripe_session_id)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.applied
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and invoice.balance == 0
    receipts = [m for m in mail.outbox if m.to == [invoice.customer.email]]
    assert len(receipts) == 1 and "Pre-authorized debit ····6789" in receipts[0].body
    body = Client().get(page_url).content.decode()
    assert PROCESSING not in body


def test_a_failed_bank_payment_leaves_the_invoice_as_before_and_tells_both_sides(
    invoice, pad, hooks
):
    before = (
        Invoice.objects.filter(pk=invoice.pk)
        .values("status", "amount_paid", "deposit_credit")
        .get()
    )
    payment = start_checkout(invoice).payment
    hooks.complete_session(payment.stripe_session_id, async_payment=True)
    mail.outbox.clear()
    session = hooks.settle_async_payment(payment.stripe_session_id, succeeded=False)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and payment.failure_notified_at is not None
    after = (
        Invoice.objects.filter(pk=invoice.pk)
        .values("status", "amount_paid", "deposit_credit")
        .get()
    )
    assert after == before

    to_customer = [m for m in mail.outbox if m.to == [invoice.customer.email]]
    to_company = [m for m in mail.outbox if m.to != [invoice.customer.email]]
    assert len(to_customer) == 1 and len(to_company) >= 1
    assert "did not go through" in to_customer[0].subject
    pay_link = next(
        line for line in to_customer[0].body.splitlines() if "/pay/invoices/" in line
    ).strip()
    assert "insufficient funds" in to_customer[0].body
    assert invoice.public_id in to_company[0].body and "failed" in to_company[0].subject

    # The fresh link works: the Pay button is back for the whole balance.
    page = Client().get(urlsplit(pay_link).path)
    body = page.content.decode()
    assert page.status_code == 200 and "$1,356.00" in body and 'id="pay-button"' in body

    # The failure event delivered again changes nothing and sends nothing more.
    event = next(e for e in reversed(hooks.events) if e["data"]["object"]["id"] == session["id"])
    count = len(mail.outbox)
    delivery = hooks.send_event(event)
    assert delivery.status == 200
    assert len(mail.outbox) == count
    assert StripeEvent.objects.filter(event_id=event["id"]).count() == 1


def test_reconciliation_settles_a_processing_payment_whose_webhook_was_lost(
    invoice, pad, stripe_on
):
    payment = start_checkout(invoice).payment
    stripe_on.complete_session(payment.stripe_session_id, async_payment=True, send_webhook=False)
    reconcile.reconcile(older_than_minutes=0)
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.PROCESSING
    stripe_on.settle_async_payment(payment.stripe_session_id, send_webhook=False)
    report = reconcile.reconcile(older_than_minutes=0)
    assert report.changed == 1
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.SUCCEEDED
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID


def test_reconciliation_reopens_the_balance_of_a_failed_processing_payment(invoice, pad, stripe_on):
    payment = start_checkout(invoice).payment
    stripe_on.complete_session(payment.stripe_session_id, async_payment=True, send_webhook=False)
    stripe_on.settle_async_payment(payment.stripe_session_id, succeeded=False, send_webhook=False)
    reconcile.reconcile(older_than_minutes=0)
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.FAILED
    invoice.refresh_from_db()
    assert invoice.balance == Decimal("1356.00") and invoice.amount_paid == 0


# --- Wallets: the method on receipts and the dashboard --------------------------------------------


@pytest.mark.parametrize("wallet,label", [("apple_pay", "Apple Pay"), ("google_pay", "Google Pay")])
def test_a_wallet_payment_names_its_wallet_on_the_receipt_and_the_dashboard(
    invoice, connected, hooks, owner_client, wallet, label
):
    payment = start_checkout(invoice).payment
    mail.outbox.clear()
    hooks.complete_session(payment.stripe_session_id, method=wallet)
    payment.refresh_from_db()
    assert (payment.method_type, payment.wallet, payment.method_last4) == ("card", wallet, "4242")
    shown = f"Card ····4242 ({label})"
    receipt = next(m for m in mail.outbox if m.to == [invoice.customer.email])
    assert shown in receipt.body
    listing = owner_client.get(reverse("billing_dashboard:payment_list")).content.decode()
    assert shown in listing
    detail = owner_client.get(
        reverse("billing_dashboard:payment_detail", args=[payment.public_id])
    ).content.decode()
    assert shown in detail


def test_the_processing_notice_is_signed_json_free(invoice, pad, hooks):
    """The webhook carries a real signature; a forged one changes nothing."""
    payment = start_checkout(invoice).payment
    hooks.complete_session(payment.stripe_session_id, async_payment=True, send_webhook=False)
    session = hooks.settle_async_payment(payment.stripe_session_id, send_webhook=False)
    event = hooks.build_event("checkout.session.async_payment_succeeded", session)
    forged = hooks.send_event(event, secret="whsec_wrong")
    assert forged.status == 400
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.CREATED
    good = hooks.send_event(json.loads(json.dumps(event)), secret=DEFAULT_WEBHOOK_SECRET)
    assert good.status == 200
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.SUCCEEDED


def test_the_owner_turns_on_bank_debit_and_tips_in_the_options(owner_client, company):
    from billing.models import StripeAccount

    url = reverse("billing_dashboard:stripe")
    page = owner_client.get(url).content.decode()
    assert "pre-authorized debit" in page and "optional tip" in page
    owner_client.post(
        url,
        {
            "minimum_partial_amount": "50",
            "accept_bank_debit": "on",
            "bank_debit_transaction_type": "business",
            "tips_enabled": "on",
        },
    )
    row = StripeAccount.objects.get(company=company)
    assert row.accept_bank_debit and row.tips_enabled
    assert row.bank_debit_transaction_type == "business"
    bad = owner_client.post(
        url, {"minimum_partial_amount": "50", "bank_debit_transaction_type": "weekly"}
    )
    assert bad.status_code == 200 and "valid choice" in bad.content.decode()
    assert StripeAccount.objects.get(company=company).bank_debit_transaction_type == "business"
