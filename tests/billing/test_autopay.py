"""Saved cards and autopay: explicit consent on the pay page, the card kept on a Stripe
Customer of the connected account, off-session charges on the due date (one charge per invoice
and amount, even with ten concurrent runs or after a worker died mid-charge), failures notify
the customer with a pay link, the customer sees and removes the card, every saved-card charge
logged with who triggered it. Real stripe SDK against the fake server."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing import services
from billing.models import Payment, PaymentStatus, SavedCard, StripeCustomer
from billing.services import autopay
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from crewcommand.models import Activity
from documents.models import Invoice, InvoiceStatus
from portal.services import link_create
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _pay_and_save(invoice, hooks):
    issued = link_create(customer=invoice.customer, actor=Actor.system(), document=invoice)
    url = reverse("billing_portal:pay_invoice", args=[issued.token, invoice.public_id])
    client = Client()
    assert "Save this card for future invoices from" in client.get(url).content.decode()
    assert client.post(url, {"save_card": "on"}).status_code == 303
    payment = Payment.objects.get(invoice=invoice)
    hooks.complete_session(payment.stripe_session_id)
    return issued, payment


def test_a_card_is_saved_only_with_consent_on_a_stripe_customer(customer, job, connected, hooks):
    plain = InvoiceFactory(customer=customer, job=job)
    issued = link_create(customer=customer, actor=Actor.system(), document=plain)
    Client().post(reverse("billing_portal:pay_invoice", args=[issued.token, plain.public_id]))
    hooks.complete_session(Payment.objects.get(invoice=plain).stripe_session_id)
    assert not SavedCard.objects.exists()  # no box ticked, nothing kept

    invoice = InvoiceFactory(customer=customer, job=job)
    _issued, payment = _pay_and_save(invoice, hooks)
    session = hooks.get(payment.stripe_session_id)
    cus = StripeCustomer.objects.get(customer=customer)
    assert session["customer"] == cus.stripe_customer_id and session["customer_email"] is None
    card = SavedCard.objects.get()
    assert card.stripe_customer_id == cus.stripe_customer_id
    assert card.last4 == "4242" and not card.autopay and card.consent_payment_id == payment.pk
    assert "Save this card for future invoices from" in card.consent_text
    assert hooks.get(card.stripe_payment_method_id)["customer"] == cus.stripe_customer_id
    assert hooks.account_of(cus.stripe_customer_id) == connected.account_id


def test_autopay_charges_the_next_invoice_on_its_due_date_with_a_receipt(
    customer, job, connected, hooks, owner, owner_client
):
    _pay_and_save(InvoiceFactory(customer=customer, job=job), hooks)
    card = SavedCard.objects.get()
    page = owner_client.get(
        reverse("billing_dashboard:customer_autopay", args=[customer.public_id])
    )
    assert card.label in page.content.decode()
    owner_client.post(
        reverse("billing_dashboard:customer_autopay", args=[customer.public_id]),
        {"autopay": "on"},
    )
    card.refresh_from_db()
    assert card.autopay and card.autopay_changed_by == owner.user

    later = InvoiceFactory(customer=customer, job=job)
    Invoice.objects.filter(pk=later.pk).update(due_date=timezone.localdate() + dt.timedelta(days=3))
    assert autopay.autopay_due() == 0  # not due yet
    Invoice.objects.filter(pk=later.pk).update(due_date=timezone.localdate())
    mail.outbox.clear()
    assert autopay.autopay_due() == 1
    charge = Payment.objects.get(invoice=later)
    assert charge.status == PaymentStatus.SUCCEEDED and charge.applied
    assert charge.triggered_by == "autopay" and charge.saved_card_id == card.pk
    assert Invoice.objects.get(pk=later.pk).status == InvoiceStatus.PAID
    assert any(m.to == [customer.email] for m in mail.outbox)  # the receipt
    logged = Activity.objects.get(verb="payment.saved_card_charge")
    assert logged.data["by"] == "autopay" and logged.target_id == later.pk
    sent = hooks.last_request("/v1/payment_intents", "POST")
    assert sent.header("Idempotency-Key") == f"cc-autopay-{later.public_id}-135600"
    assert sent.form["off_session"] == "true" and sent.form["confirm"] == "true"
    assert autopay.autopay_due() == 0  # paid: nothing more


def test_ten_concurrent_autopay_runs_make_one_charge(customer, job, connected, hooks):
    _pay_and_save(InvoiceFactory(customer=customer, job=job), hooks)
    SavedCard.objects.update(autopay=True)
    invoice = InvoiceFactory(customer=customer, job=job)
    barrier = threading.Barrier(10)
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait()
            autopay.saved_card_charge(invoice=invoice, actor=Actor.system(), triggered_by="autopay")
        except ServiceError as error:  # the runs after the charge find nothing left to charge
            if "nothing to charge" not in str(error):
                errors.append(error)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert Payment.objects.filter(invoice=invoice).count() == 1
    charges = [o for o in hooks.objects.values() if o["object"] == "charge" and o["paid"]]
    assert len(charges) == 2  # the first invoice's checkout, and one autopay charge
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID


def test_a_worker_killed_mid_charge_never_charges_twice(customer, job, connected, hooks):
    _pay_and_save(InvoiceFactory(customer=customer, job=job), hooks)
    SavedCard.objects.update(autopay=True)
    invoice = InvoiceFactory(customer=customer, job=job)
    # The worker wrote the attempt and Stripe charged, but it died before recording it.
    row = autopay._charge_row(invoice=invoice, actor=Actor.system(), triggered_by="autopay")
    card = SavedCard.objects.get()
    from billing import stripe_client

    stripe_client.off_session_charge(
        account=row.stripe_account_id,
        params={
            "amount": 135600,
            "currency": "cad",
            "customer": card.stripe_customer_id,
            "payment_method": card.stripe_payment_method_id,
            "off_session": True,
            "confirm": True,
            "metadata": {
                "cc_payment": row.public_id,
                "cc_company": row.company.public_id,
                "cc_invoice": invoice.public_id,
            },
            "description": f"{row.company.name}: Invoice {invoice.display_number}",
            "expand": ["latest_charge"],
        },
        idempotency_key=row.autopay_key,
    )
    assert Payment.objects.get(pk=row.pk).status == PaymentStatus.CREATED
    autopay.autopay_due()
    assert Payment.objects.get(pk=row.pk).status == PaymentStatus.SUCCEEDED
    intents = [o for o in hooks.objects.values() if o["object"] == "payment_intent"]
    assert len([i for i in intents if i["metadata"].get("cc_payment") == row.public_id]) == 1


@pytest.mark.parametrize("outcome", ["authentication_required", "card_declined"])
def test_a_failed_off_session_charge_notifies_the_customer_with_a_pay_link(
    customer, job, connected, hooks, outcome
):
    _pay_and_save(InvoiceFactory(customer=customer, job=job), hooks)
    SavedCard.objects.update(autopay=True)
    card = SavedCard.objects.get()
    hooks.off_session_outcomes[card.stripe_payment_method_id] = outcome
    invoice = InvoiceFactory(customer=customer, job=job)
    mail.outbox.clear()
    autopay.autopay_due()
    charge = Payment.objects.get(invoice=invoice)
    assert charge.status == PaymentStatus.FAILED and charge.failure_notified_at
    invoice.refresh_from_db()
    assert invoice.balance == Decimal("1356.00") and invoice.amount_paid == 0
    notice = next(m for m in mail.outbox if m.to == [customer.email])
    assert "could not be charged" in notice.subject and "/pay/invoices/" in notice.body
    autopay.autopay_due()  # the same invoice and amount: never charged again
    assert Payment.objects.filter(invoice=invoice).count() == 1
    intents = [o for o in hooks.objects.values() if o["object"] == "payment_intent"]
    assert len(intents) == 2


def test_the_customer_sees_and_removes_the_saved_card(customer, job, connected, hooks):
    issued, _payment = _pay_and_save(InvoiceFactory(customer=customer, job=job), hooks)
    card = SavedCard.objects.get()
    SavedCard.objects.update(autopay=True)
    url = reverse("billing_portal:saved_card", args=[issued.token])
    page = Client().get(url).content.decode()
    assert card.label in page and "Automatic payment is on" in page
    assert Client().post(url).status_code == 302
    card.refresh_from_db()
    assert card.removed_at is not None and not card.autopay
    assert hooks.get(card.stripe_payment_method_id)["customer"] is None  # detached at Stripe
    assert "no card saved" in Client().get(url).content.decode()
    invoice = InvoiceFactory(customer=customer, job=job)
    assert autopay.autopay_due() == 0
    assert not Payment.objects.filter(invoice=invoice).exists()
    assert services.checkout_start  # the customer can still pay by hand
