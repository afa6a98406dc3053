"""The customer's side: the Pay button on the portal, the {payment_link} confirmation page,
the trip to Stripe Checkout and back, and the deposit on a signed estimate."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone

from billing.models import Payment, PaymentStatus, StripeEvent
from billing.selectors import payment_link
from billing.services import checkout_start
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from documents.models import Invoice, InvoiceStatus
from portal.services import link_create
from tests.billing.conftest import return_urls, start_checkout
from tests.factories import CustomerFactory, InvoiceFactory
from tests.fakes.stripe_server import DEFAULT_WEBHOOK_SECRET

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

    namespace = "billing_portal" if name.startswith("pay") else "portal"
    return reverse(f"{namespace}:{name}", args=[link.token, *args])


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
    phone, link, invoice, connected, stripe_on, settings
):
    answer = phone.post(url(link, "pay_invoice", invoice.public_id))

    payment = Payment.objects.get()
    assert answer.status_code == 303
    assert answer["Location"] == f"{stripe_on.url}/pay/{payment.stripe_session_id}"
    params = stripe_on.last_request("/v1/checkout/sessions", "POST").form
    # The return URLs name the attempt, never the portal link's secret.
    done = f"/pay/{payment.public_id}/done/?session_id={{CHECKOUT_SESSION_ID}}"
    assert params["success_url"] == f"{settings.SITE_URL}{done}"
    assert params["cancel_url"] == f"{settings.SITE_URL}/pay/{payment.public_id}/cancelled/"
    assert link.token not in params["success_url"] + params["cancel_url"]
    assert answer["Referrer-Policy"] == "no-referrer" and answer["Cache-Control"] == "no-store"
    # The way back to the portal stays in this browser, scoped to the attempt's return pages.
    cookie = answer.cookies["cc_pay_back"]
    assert cookie["path"] == f"/pay/{payment.public_id}/"
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


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
    other = InvoiceFactory(customer=CustomerFactory(company=company))
    assert phone.get(url(link, "pay_invoice", other.public_id)).status_code == 404
    assert phone.post(url(link, "pay_invoice", other.public_id)).status_code == 404
    theirs = start_checkout(other).payment
    for name in ("pay_done", "pay_cancelled"):
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


def done_url(payment, session_id=None) -> str:
    return f"/pay/{payment.public_id}/done/?session_id={session_id or payment.stripe_session_id}"


def test_the_return_page_says_unpaid_until_paid_then_records_what_stripe_confirms(
    phone, link, invoice, connected, stripe_on, django_capture_on_commit_callbacks
):
    phone.post(url(link, "pay_invoice", invoice.public_id))
    payment = Payment.objects.get()

    unpaid = phone.get(done_url(payment)).content.decode()
    assert 'data-state="unpaid"' in unpaid  # came back without paying
    assert Payment.objects.get().returned_at is None  # Stripe says open: nothing to confirm

    # Paid at Stripe, and the webhook is lost. The return page asks Stripe itself (once the
    # throttle window has passed) and records the payment through the webhook's own path.
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
    from django.core.cache import cache

    cache.clear()
    with django_capture_on_commit_callbacks(execute=True):
        paid = phone.get(done_url(payment)).content.decode()
    assert 'data-state="paid"' in paid and "hx-trigger" not in paid
    assert "Paid $1,356.00" in paid and "PAID" in paid
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.applied
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
    assert not StripeEvent.objects.exists()  # no webhook came
    assert len([m for m in mail.outbox if m.to == [invoice.customer.email]]) == 1
    invoice_page = phone.get(url(link, "invoice", invoice.public_id)).content.decode()
    assert "Payments received" in invoice_page and payment.public_id.upper() in invoice_page
    assert 'id="pay-button"' not in invoice_page

    # The webhook arriving late changes nothing.
    session = stripe_on.get(payment.stripe_session_id)
    event = stripe_on.build_event("checkout.session.completed", session)
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(
            "/webhooks/stripe/",
            data=json.dumps(event),
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=stripe_on.sign(
                json.dumps(event).encode(), DEFAULT_WEBHOOK_SECRET
            ),
        )
    assert Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count() == 1
    assert Invoice.objects.get(pk=invoice.pk).amount_paid == invoice.total
    assert len([m for m in mail.outbox if m.to == [invoice.customer.email]]) == 1


def test_fifty_loads_of_the_return_page_ask_stripe_once(phone, link, invoice, connected, stripe_on):
    phone.post(url(link, "pay_invoice", invoice.public_id))
    payment = Payment.objects.get()
    stripe_on.complete_session(payment.stripe_session_id, async_payment=True, send_webhook=False)
    retrieve = f"/v1/checkout/sessions/{payment.stripe_session_id}"
    before = len(stripe_on.requests_to(retrieve, "GET"))
    for i in range(50):
        page = phone.get(
            done_url(payment)
            if i % 2
            else f"/pay/{payment.public_id}/status/?session_id={payment.stripe_session_id}"
        )
        assert page.status_code == 200
    assert len(stripe_on.requests_to(retrieve, "GET")) - before == 1
    assert 'data-state="processing"' in page.content.decode()


def test_the_return_pages_need_the_attempts_own_session(phone, link, invoice, connected, stripe_on):
    phone.post(url(link, "pay_invoice", invoice.public_id))
    payment = Payment.objects.get()
    other = start_checkout(invoice).payment
    assert phone.get(done_url(payment, other.stripe_session_id)).status_code == 404
    assert phone.get(f"/pay/{payment.public_id}/done/").status_code == 404
    assert phone.get(f"/pay/{payment.public_id}/status/?session_id=cs_x").status_code == 404
    assert phone.get("/pay/aaaaaaaaaaaaaa/done/?session_id=cs_x").status_code == 404
    assert Payment.objects.get(pk=payment.pk).returned_at is None


def test_the_return_page_works_from_the_attempt_alone_and_shows_nothing_private(
    link, invoice, connected, stripe_on
):
    phone = Client(HTTP_USER_AGENT=PHONE)
    phone.post(url(link, "pay_invoice", invoice.public_id))
    payment = Payment.objects.get()
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)

    # Another browser (or this one after the cookie went): the attempt and its session only.
    stranger = Client(HTTP_USER_AGENT=PHONE)
    answer = stranger.get(done_url(payment))
    body = answer.content.decode()
    assert answer.status_code == 200 and 'data-state="paid"' in body
    assert "Paid $1,356.00" in body and invoice.display_number in body
    customer = invoice.customer
    for private in (customer.name, customer.email, link.token, "/p/"):
        assert private not in body
    assert "open the link Maple Plumbing sent you" in body
    assert answer["Referrer-Policy"] == "no-referrer" and answer["Cache-Control"] == "no-store"

    # The browser that pressed Pay still has its way back, to a page its link opens.
    back = phone.get(done_url(payment)).content.decode()
    assert f'href="{url(link, "invoice", invoice.public_id)}"' in back
    assert "Back to your invoice" in back

    # A revoked link gives no way back.
    from portal.services import link_revoke

    link_revoke(link=link.link, actor=Actor.system())
    assert link.token not in phone.get(done_url(payment)).content.decode()


def test_cancelling_at_stripe_returns_to_the_invoice(phone, link, invoice, connected):
    phone.post(url(link, "pay_invoice", invoice.public_id))
    payment = Payment.objects.get()
    answer = phone.get(f"/pay/{payment.public_id}/cancelled/", follow=True)
    assert answer.redirect_chain[-1][0] == url(link, "invoice", invoice.public_id)
    assert "Nothing was charged" in answer.content.decode()
    elsewhere = Client().get(f"/pay/{payment.public_id}/cancelled/")
    assert elsewhere.status_code == 200 and "Nothing was charged" in elsewhere.content.decode()
    assert link.token not in elsewhere.content.decode()


def test_the_cancel_page_of_a_paid_attempt_does_not_say_nothing_was_charged(
    phone, link, invoice, connected, stripe_on, django_capture_on_commit_callbacks
):
    phone.post(url(link, "pay_invoice", invoice.public_id))
    payment = Payment.objects.get()
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
    with django_capture_on_commit_callbacks(execute=True):
        phone.get(done_url(payment))  # recorded: paid
    # Later, the cancel URL is opened again (an old tab, the browser's history).
    answer = phone.get(f"/pay/{payment.public_id}/cancelled/", follow=True)
    body = answer.content.decode()
    assert "Nothing was charged" not in body and "it went through" in body
    elsewhere = Client().get(f"/pay/{payment.public_id}/cancelled/").content.decode()
    assert "Nothing was charged" not in elsewhere and "it was not cancelled" in elsewhere


def test_return_urls_of_sessions_made_before_the_change_still_land(phone, link, invoice, connected):
    payment = start_checkout(invoice).payment
    old = url(link, "pay_done", payment.public_id) + "?session_id=" + payment.stripe_session_id
    answer = phone.get(old)
    assert answer.status_code == 302 and answer["Location"] == done_url(payment)


def test_pay_pages_run_a_fixed_number_of_queries(
    phone, link, invoice, connected, django_assert_max_num_queries
):
    phone.get(url(link, "invoice", invoice.public_id))
    with django_assert_max_num_queries(15):
        phone.get(url(link, "pay_invoice", invoice.public_id))
    start_checkout(invoice)
    payment = Payment.objects.get()
    with django_assert_max_num_queries(12):
        phone.get(f"/pay/{payment.public_id}/status/?session_id={payment.stripe_session_id}")


# --- A payment not confirmed yet -----------------------------------------------------------------


def test_while_a_payment_is_being_confirmed_paying_again_needs_an_explicit_yes(
    phone, link, invoice, connected, stripe_on, settings
):
    phone.post(url(link, "pay_invoice", invoice.public_id))
    payment = Payment.objects.get()
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
    # The webhook is lost and Stripe does not answer when the customer comes back.
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    waiting = phone.get(done_url(payment)).content.decode()
    assert 'data-state="confirming"' in waiting and 'hx-trigger="every 2s"' in waiting
    assert Payment.objects.get(pk=payment.pk).returned_at is not None

    page = phone.get(url(link, "invoice", invoice.public_id)).content.decode()
    assert "Payment being confirmed" in page and "Your payment of $1,356.00 started" in page
    assert 'id="pay-button"' not in page and 'id="pay-form"' not in page

    # The one-tap form (an old tab) and the pay page without the box: refused, nothing started.
    refused = phone.post(url(link, "pay_invoice", invoice.public_id))
    body = refused.content.decode()
    assert refused.status_code == 200 and "A payment of $1,356.00 started on" in body
    assert "is still being confirmed. Pay again anyway?" in body
    assert "Tick the box to start a new payment anyway." in body
    assert Payment.objects.count() == 1

    # Stripe answers again: even with the box ticked, the paid attempt is found and recorded
    # before anything new is charged.
    settings.STRIPE_API_BASE = stripe_on.url
    again = phone.post(url(link, "pay_invoice", invoice.public_id), {"pay_again": "on"})
    assert again.status_code == 200 and "paid in full" in again.content.decode()
    assert Payment.objects.count() == 1
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED


def test_paying_again_after_losing_the_tab_asks_stripe_first_and_charges_nothing(
    phone, link, invoice, connected, stripe_on
):
    # Paid at Stripe; the browser never came back and the webhook was lost.
    phone.post(url(link, "pay_invoice", invoice.public_id))
    payment = Payment.objects.get()
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)

    again = phone.post(url(link, "pay_invoice", invoice.public_id))
    assert again.status_code == 200 and "paid in full" in again.content.decode()
    assert Payment.objects.count() == 1
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED
    assert len(stripe_on.requests_to("/v1/checkout/sessions", "POST")) == 1


def test_a_hanging_stripe_cannot_hang_the_return_page_or_the_pay_button(
    phone, link, invoice, connected, stripe_on, settings
):
    # Paid, webhook lost, and Stripe now takes 8 s to answer about the session (the SDK's own
    # timeout is 80 s per try). The customer's pages give up after a few seconds instead.
    settings.STRIPE_PAGE_TIMEOUT_SECONDS = 1
    phone.post(url(link, "pay_invoice", invoice.public_id))
    payment = Payment.objects.get()
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
    stripe_on.stall(f"/v1/checkout/sessions/{payment.stripe_session_id}", 8)

    started = time.monotonic()
    page = phone.get(done_url(payment))
    assert time.monotonic() - started < 4
    assert page.status_code == 200 and 'data-state="confirming"' in page.content.decode()
    assert Payment.objects.get(pk=payment.pk).returned_at is not None

    started = time.monotonic()
    again = phone.post(url(link, "pay_invoice", invoice.public_id), {"pay_again": "on"})
    assert time.monotonic() - started < 4
    assert again.status_code == 303


def test_a_stripe_that_hangs_or_fails_on_checkout_gives_a_clear_message_in_seconds(
    phone, link, invoice, connected, stripe_on, settings
):
    # Creating the Checkout Session hangs (the SDK's own timeout is 80 s per try, with
    # retries: longer than gunicorn lets a request run), then Stripe answers 500s.
    settings.STRIPE_PAGE_TIMEOUT_SECONDS = 1
    stripe_on.stall("/v1/checkout/sessions", 8)
    started = time.monotonic()
    page = phone.post(url(link, "pay_invoice", invoice.public_id))
    assert time.monotonic() - started < 4
    assert page.status_code == 200
    assert "Online payment is not available right now" in page.content.decode()
    assert Payment.objects.get().status == PaymentStatus.FAILED

    stripe_on.unstall()
    stripe_on.api_failure = 500
    page = phone.post(url(link, "pay_invoice", invoice.public_id))
    assert page.status_code == 200
    assert "Online payment is not available right now" in page.content.decode()
    assert list(Payment.objects.values_list("status", flat=True)) == [PaymentStatus.FAILED] * 2

    # Saving the card first makes the customer's Stripe Customer: that call gives up too.
    stripe_on.api_failure = None
    stripe_on.stall("/v1/customers", 8)
    started = time.monotonic()
    page = phone.post(url(link, "pay_invoice", invoice.public_id), {"save_card": "on"})
    assert time.monotonic() - started < 4
    assert "Online payment is not available right now" in page.content.decode()

    stripe_on.unstall()  # Stripe is back: the next press starts the checkout
    assert phone.post(url(link, "pay_invoice", invoice.public_id)).status_code == 303


def test_pressing_pay_waits_for_one_stripe_timeout_at_most_however_many_attempts_are_open(
    invoice, connected, stripe_on, settings
):
    settings.STRIPE_PAGE_TIMEOUT_SECONDS = 1
    for _ in range(3):
        start_checkout(invoice)
    stripe_on.stall("/v1/checkout/sessions/cs_", 8)  # asking about a session hangs
    started = time.monotonic()
    with pytest.raises(ServiceError, match="earlier payment attempt"):
        start_checkout(invoice)  # an open attempt Stripe can't speak for may have paid
    assert time.monotonic() - started < 2.5
    started = time.monotonic()
    # The customer chose to pay again all the same.
    checkout_start(document=invoice, amount=None, return_urls=return_urls, pay_again=True)
    assert time.monotonic() - started < 2.5
    assert Payment.objects.count() == 4


def test_a_flapping_stripe_cannot_charge_twice_a_customer_who_paid_and_never_came_back(
    phone, link, invoice, connected, stripe_on, settings
):
    # Paid on Stripe's page during an outage: the return page never reached us and the webhook
    # is held. Pressing Pay again while Stripe can't say what became of that attempt starts
    # nothing; once Stripe answers, the attempt is found paid and nothing more is charged.
    settings.STRIPE_PAGE_TIMEOUT_SECONDS = 1
    phone.post(url(link, "pay_invoice", invoice.public_id))
    payment = Payment.objects.get()
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
    stripe_on.stall(f"/v1/checkout/sessions/{payment.stripe_session_id}", 8)
    page = phone.post(url(link, "pay_invoice", invoice.public_id))
    assert page.status_code == 200
    assert "check your earlier payment attempt" in page.content.decode()
    assert Payment.objects.count() == 1
    assert len(stripe_on.requests_to("/v1/checkout/sessions", "POST")) == 1

    stripe_on.unstall()
    again = phone.post(url(link, "pay_invoice", invoice.public_id))
    assert again.status_code == 200 and "paid in full" in again.content.decode()
    assert Payment.objects.count() == 1
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED


def test_the_service_refuses_a_second_charge_without_pay_again(invoice, connected, stripe_on):
    from billing import services

    first = start_checkout(invoice).payment
    Payment.objects.filter(pk=first.pk).update(returned_at=timezone.now())
    with pytest.raises(ServiceError, match="still being confirmed"):
        start_checkout(invoice)
    services.checkout_start(document=invoice, amount=None, return_urls=return_urls, pay_again=True)
    assert Payment.objects.count() == 2


def test_reconciliation_picks_up_a_returned_attempt_within_a_minute(
    phone, link, invoice, connected, stripe_on, settings
):
    from billing.tasks import reconcile_payments, reconcile_returned_payments

    phone.post(url(link, "pay_invoice", invoice.public_id))
    payment = Payment.objects.get()
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    phone.get(done_url(payment))
    settings.STRIPE_API_BASE = stripe_on.url

    # The slow sweep leaves a fresh attempt alone; the frequent one takes it at once.
    assert reconcile_payments()["checked"] == 0
    assert reconcile_returned_payments() == {**_report(), "checked": 1, "changed": 1}
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
    assert reconcile_returned_payments()["checked"] == 0
    schedule = {e["task"]: e["schedule"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["billing.tasks.reconcile_returned_payments"] <= 60


def _report() -> dict:
    from billing.reconcile import Report

    return Report().as_dict()


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
        invoice = InvoiceFactory(customer=customer)
        link = issue(customer, invoice)
        answer = Client().post(url(link, "pay_invoice", invoice.public_id))
        assert answer.status_code == 303
        payment = Payment.objects.get(invoice=invoice)
        session = stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
        event = stripe_on.build_event("checkout.session.completed", session)
        rounds.append((invoice, event, live_server.url + done_url(payment)))

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
