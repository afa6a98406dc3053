"""The customer's side: the Pay button on the portal, the {payment_link} confirmation page,
the trip to Stripe Checkout and back, and the deposit on a signed estimate."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
from django.db import connection
from django.test import Client

from billing.models import Payment, PaymentStatus, StripeEvent
from billing.selectors import payment_link
from crewcommand.lib.activity import Actor
from documents.models import Invoice, InvoiceStatus
from portal.services import link_create
from tests.billing.conftest import make_invoice, start_checkout
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148 Safari/604.1"


def issue(customer, document=None):
    return link_create(customer=customer, actor=Actor.system(), document=document)


@pytest.fixture
def phone():
    return Client(HTTP_USER_AGENT=PHONE)


@pytest.fixture
def link(invoice):
    return issue(invoice.customer, invoice)


def url(link, name: str, *args) -> str:
    from django.urls import reverse

    return reverse(f"portal:{name}", args=[link.token, *args])


# --- The invoice page --------------------------------------------------------------------------


def test_the_invoice_page_has_a_pay_button_for_the_balance(phone, link, invoice, connected):
    body = phone.get(url(link, "invoice", invoice.public_id)).content.decode()
    assert 'id="pay-button"' in body and "Pay $1,356.00" in body
    assert f'action="{url(link, "pay_invoice", invoice.public_id)}"' in body
    assert "csrfmiddlewaretoken" in body


def test_without_online_payment_the_portal_shows_the_other_instructions(
    phone, link, invoice, company, settings
):
    settings.STRIPE_SECRET_KEY = ""
    company.payment_instructions = "Interac e-Transfer to pay@maple.example"
    company.save()
    body = phone.get(url(link, "invoice", invoice.public_id)).content.decode()
    assert 'id="pay-button"' not in body
    assert "Online payment is not available" in body
    assert "Interac e-Transfer to pay@maple.example" in body
    page = phone.get(url(link, "pay_invoice", invoice.public_id))
    assert page.status_code == 200 and "pay@maple.example" in page.content.decode()
    answer = phone.post(url(link, "pay_invoice", invoice.public_id))
    assert answer.status_code == 200 and "not available" in answer.content.decode()
    assert not Payment.objects.exists()


def test_pressing_pay_sends_the_customer_to_stripe_checkout(
    phone, link, invoice, connected, stripe_on
):
    answer = phone.post(url(link, "pay_invoice", invoice.public_id))

    payment = Payment.objects.get()
    assert answer.status_code == 303
    assert answer["Location"] == f"{stripe_on.url}/pay/{payment.stripe_session_id}"
    params = stripe_on.last_request("/v1/checkout/sessions", "POST").form
    done = url(link, "pay_done", payment.public_id)
    assert params["success_url"].endswith(f"{done}?session_id={{CHECKOUT_SESSION_ID}}")
    assert params["cancel_url"].endswith(url(link, "pay_cancelled", payment.public_id))
    assert answer["Referrer-Policy"] == "no-referrer" and answer["Cache-Control"] == "no-store"


def test_the_payment_link_page_confirms_then_pays_part_where_allowed(
    phone, link, invoice, connected, stripe_on
):
    connected.allow_partial_payments = True
    connected.minimum_partial_amount = Decimal("100.00")
    connected.save()
    assert payment_link(token=link.token).endswith(url(link, "pay"))
    assert phone.get(url(link, "pay"))["Location"] == url(link, "pay_invoice", invoice.public_id)

    page = phone.get(url(link, "pay_invoice", invoice.public_id)).content.decode()
    assert "$1,356.00" in page and "Between $100.00 and $1,356.00" in page

    too_small = phone.post(
        url(link, "pay_invoice", invoice.public_id), {"choice": "part", "amount": "50"}
    )
    assert (
        too_small.status_code == 200
        and "smallest partial payment is $100.00" in too_small.content.decode()
    )
    missing = phone.post(
        url(link, "pay_invoice", invoice.public_id), {"choice": "part", "amount": ""}
    )
    assert "Enter the amount" in missing.content.decode()
    answer = phone.post(
        url(link, "pay_invoice", invoice.public_id), {"choice": "part", "amount": "250.50"}
    )
    assert answer.status_code == 303
    assert Payment.objects.get().amount == Decimal("250.50")
    assert (
        stripe_on.last_request("/v1/checkout/sessions", "POST").form["line_items"][0]["price_data"][
            "unit_amount"
        ]
        == "25050"
    )


def test_a_paid_invoice_says_so_and_offers_no_pay_button(phone, link, invoice, connected):
    Invoice.objects.filter(pk=invoice.pk).update(
        amount_paid=invoice.total, status=InvoiceStatus.PAID
    )
    body = phone.get(url(link, "invoice", invoice.public_id)).content.decode()
    assert 'id="pay-button"' not in body
    page = phone.get(url(link, "pay_invoice", invoice.public_id)).content.decode()
    assert "paid in full" in page and 'id="pay-button"' not in page
    assert phone.post(url(link, "pay_invoice", invoice.public_id)).status_code == 200
    assert not Payment.objects.exists()


def test_another_customers_invoice_or_payment_is_404(phone, link, invoice, connected, company):
    other = make_invoice(CustomerFactory(company=company))
    assert phone.get(url(link, "pay_invoice", other.public_id)).status_code == 404
    assert phone.post(url(link, "pay_invoice", other.public_id)).status_code == 404
    theirs = start_checkout(other).payment
    for name in ("pay_done", "pay_status", "pay_cancelled"):
        assert phone.get(url(link, name, theirs.public_id)).status_code == 404


def test_pay_attempts_per_link_are_limited(phone, link, invoice, connected, monkeypatch):
    from billing import views_portal

    monkeypatch.setattr(views_portal, "PAY_ATTEMPTS_PER_HOUR", 2)
    for _ in range(2):
        assert phone.post(url(link, "pay_invoice", invoice.public_id)).status_code == 303
    answer = phone.post(url(link, "pay_invoice", invoice.public_id))
    assert answer.status_code == 200 and "Too many attempts" in answer.content.decode()
    assert Payment.objects.count() == 2


# --- Coming back from Stripe -------------------------------------------------------------------


def test_the_return_page_confirms_until_the_webhook_lands_then_shows_paid(
    phone, link, invoice, connected, stripe_on
):
    from billing import services, stripe_client

    phone.post(url(link, "pay_invoice", invoice.public_id))
    payment = Payment.objects.get()
    done = url(link, "pay_done", payment.public_id) + f"?session_id={payment.stripe_session_id}"

    unpaid = phone.get(done).content.decode()
    assert 'data-state="unpaid"' in unpaid  # came back without paying

    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
    waiting = phone.get(done).content.decode()
    assert 'data-state="confirming"' in waiting and 'hx-trigger="every 2s"' in waiting
    assert Payment.objects.get().status == PaymentStatus.CREATED  # the page wrote nothing

    session = stripe_client.checkout_session_retrieve(
        account=connected.account_id, session_id=payment.stripe_session_id
    )
    services.stripe_state_apply(payment_id=payment.pk, session=session)
    status = phone.get(url(link, "pay_status", payment.public_id)).content.decode()
    assert 'data-state="paid"' in status and "hx-trigger" not in status
    assert "Paid $1,356.00" in status and "PAID" in status
    invoice_page = phone.get(url(link, "invoice", invoice.public_id)).content.decode()
    assert "Payments received" in invoice_page and payment.public_id.upper() in invoice_page


def test_cancelling_at_stripe_returns_to_the_invoice(phone, link, invoice, connected):
    phone.post(url(link, "pay_invoice", invoice.public_id))
    payment = Payment.objects.get()
    answer = phone.get(url(link, "pay_cancelled", payment.public_id), follow=True)
    assert answer.redirect_chain[-1][0] == url(link, "invoice", invoice.public_id)
    assert "Nothing was charged" in answer.content.decode()


def test_pay_pages_run_a_fixed_number_of_queries(
    phone, link, invoice, connected, django_assert_max_num_queries
):
    phone.get(url(link, "invoice", invoice.public_id))
    with django_assert_max_num_queries(14):
        phone.get(url(link, "pay_invoice", invoice.public_id))
    start_checkout(invoice)
    payment = Payment.objects.get()
    with django_assert_max_num_queries(12):
        phone.get(url(link, "pay_status", payment.public_id))


# --- Deposits ----------------------------------------------------------------------------------


def test_a_signed_estimate_offers_pay_deposit_then_says_paid(
    phone, signed_estimate, connected, stripe_on
):
    from billing import services, stripe_client

    link = issue(signed_estimate.customer, signed_estimate)
    body = phone.get(url(link, "estimate", signed_estimate.public_id)).content.decode()
    assert "Pay deposit $565.00" in body
    answer = phone.post(url(link, "pay_deposit", signed_estimate.public_id))
    assert answer.status_code == 303
    payment = Payment.objects.get()
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
    services.stripe_state_apply(
        payment_id=payment.pk,
        session=stripe_client.checkout_session_retrieve(
            account=connected.account_id, session_id=payment.stripe_session_id
        ),
    )
    body = phone.get(url(link, "estimate", signed_estimate.public_id)).content.decode()
    assert "your deposit of $565.00 is paid" in body and "Pay deposit" not in body
    assert phone.get(url(link, "pay"))["Location"] == url(
        link, "pay_deposit", signed_estimate.public_id
    )


# --- The race: webhook against the success page, 100 times ---------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_webhook_racing_the_success_page_100_times_records_exactly_one_payment_each(
    customer, connected, stripe_on, live_server
):
    stripe_on.webhook_url = live_server.url + "/webhooks/stripe/"
    rounds = []
    for _ in range(100):
        invoice = make_invoice(customer)
        link = issue(customer, invoice)
        answer = Client().post(url(link, "pay_invoice", invoice.public_id))
        assert answer.status_code == 303
        payment = Payment.objects.get(invoice=invoice)
        session = stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
        event = stripe_on.build_event("checkout.session.completed", session)
        done = live_server.url + url(link, "pay_done", payment.public_id)
        rounds.append((invoice, event, f"{done}?session_id={session['id']}"))

    def race(item):
        _invoice, event, done = item
        with ThreadPoolExecutor(max_workers=3) as pool:
            pages = [pool.submit(requests.get, done, timeout=30) for _ in range(2)]
            hook = pool.submit(stripe_on.send_event, event)
            states = [re.search(r'data-state="(\w+)"', p.result().text).group(1) for p in pages]
            return hook.result().status, states

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(race, rounds))
    connection.close()

    assert all(status == 200 for status, _states in results)
    seen = {state for _status, states in results for state in states}
    assert seen <= {"confirming", "paid"}
    for invoice, _event, done in rounds:
        assert Payment.objects.filter(invoice=invoice, status=PaymentStatus.SUCCEEDED).count() == 1
        assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
        assert 'data-state="paid"' in requests.get(done, timeout=30).text
    assert StripeEvent.objects.count() == 100
