"""What ``scripts/mutation billing-services`` left alive in ``billing/services``: refunds made or
settled in Stripe (``stripe_state._refund_from_stripe``, ``refund_settle``), a bank debit that
bounces (``_apply_failure``), the stored Stripe event (``services.events``), the customer's return
page (``returns._session_status``), connecting a Stripe account (``connect``) and the deposit's
tax point (``manual._set_deposit_tax_point``).

Every test drives the real services with the real stripe SDK against the fake Stripe
(``tests/fakes``) and asserts what the contractor, the customer or the books would see: rows,
amounts, notices, timeline entries, log lines, requests made to Stripe. Where Stripe has to
report a state the fake never reaches by itself (a refund pending or failed, a failure with no
message), the session or charge is read from the fake through the SDK and that one field is set
as Stripe would send it, then applied through ``stripe_state_apply`` like a webhook.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from decimal import Decimal
from typing import cast
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from billing import services, stripe_client
from billing.models import (
    EventStatus,
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    Refund,
    RefundStatus,
    StripeAccount,
    StripeEvent,
)
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from crewcommand.models import Activity
from documents import services as documents
from documents.models import DepositKind, Estimate, Invoice
from tests.billing.conftest import return_urls, start_checkout
from tests.billing.test_manual_refunds_deposits import paid_by_card
from tests.factories import InvoiceFactory, PaymentFactory, SignedEstimateFactory

pytestmark = pytest.mark.django_db

NOWHERE = "http://127.0.0.1:9"  # nothing listens there: Stripe does not answer


def refund_notices(customer) -> list:
    return [m for m in mail.outbox if m.to == [customer.email] and "Refund" in m.subject]


def timeline(verb: str) -> list[Activity]:
    return list(Activity.objects.filter(verb=verb).order_by("pk"))


# --- Refunds Stripe tells us about (_refund_from_stripe, refund_settle) --------------------------


def stripe_refund(stripe_client_, payment: Payment, cents: int, metadata=None) -> str:
    """A refund made at Stripe (its dashboard, or our call whose answer was lost)."""
    params = {"payment_intent": payment.stripe_payment_intent_id, "amount": cents}
    if metadata:
        params["metadata"] = metadata
    refund = stripe_client_.v1.refunds.create(
        params, options={"stripe_account": payment.stripe_account_id}
    )
    return refund.id


def apply_charge(payment: Payment, **changes) -> None:
    """Apply the payment's session and charge as Stripe reports them now, each refund's
    fields in ``changes`` (by refund id) set as Stripe would send them."""
    account = payment.stripe_account_id
    session = stripe_client.checkout_session_retrieve(
        account=account, session_id=payment.stripe_session_id
    )
    charge = stripe_client.charge_retrieve(
        account=account, charge_id=session["payment_intent"]["latest_charge"]["id"]
    )
    for data in charge["refunds"]["data"]:
        data.update(changes.get(data["id"], {}))
    services.stripe_state_apply(payment_id=payment.pk, session=session, charge=charge)


def test_refunds_made_in_stripes_dashboard_are_recorded_once_each_with_one_notice(
    invoice, connected, stripe_on, stripe_client, django_capture_on_commit_callbacks
):
    payment = paid_by_card(invoice, connected, stripe_on)
    first = stripe_refund(stripe_client, payment, 10000)
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_refresh(payment=payment, with_refunds=True)
        services.payment_refresh(payment=payment, with_refunds=True)  # reconciliation again
    refund = Refund.objects.get()
    assert refund.payment_id == payment.pk and refund.company_id == invoice.company_id
    assert (refund.amount, refund.status, refund.stripe_refund_id) == (
        Decimal("100.00"),
        RefundStatus.SUCCEEDED,
        first,
    )
    assert refund.reason == "Refunded in Stripe" and refund.succeeded_at is not None
    (entry,) = timeline("refund.created")
    assert entry.data["amount"] == "$100.00" and entry.actor_kind == "system"
    (notice,) = refund_notices(invoice.customer)
    assert "$100.00" in notice.body

    second = stripe_refund(stripe_client, payment, 5000)
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_refresh(payment=payment, with_refunds=True)
    amounts = dict(Refund.objects.values_list("stripe_refund_id", "amount"))
    assert amounts == {first: Decimal("100.00"), second: Decimal("50.00")}
    assert Invoice.objects.get(pk=invoice.pk).balance == Decimal("150.00")
    assert [e.data["amount"] for e in timeline("refund.created")] == ["$100.00", "$50.00"]
    assert len(refund_notices(invoice.customer)) == 2


def test_a_dashboard_refund_pending_at_stripe_waits_then_settles_once(
    invoice, connected, stripe_on, stripe_client, django_capture_on_commit_callbacks
):
    payment = paid_by_card(invoice, connected, stripe_on)
    made = stripe_refund(stripe_client, payment, 10000)
    with django_capture_on_commit_callbacks(execute=True):
        apply_charge(payment, **{made: {"status": "pending"}})
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.PENDING and refund.succeeded_at is None
    assert Invoice.objects.get(pk=invoice.pk).balance == 0
    assert not timeline("refund.created") and not refund_notices(invoice.customer)

    with django_capture_on_commit_callbacks(execute=True):
        apply_charge(payment)  # Stripe: succeeded
        apply_charge(payment)  # the same news again
        apply_charge(payment, **{made: {"status": "failed"}})  # succeeded is final
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.SUCCEEDED and refund.succeeded_at is not None
    assert refund.failure_message == ""
    assert Invoice.objects.get(pk=invoice.pk).balance == Decimal("100.00")
    (entry,) = timeline("refund.created")
    assert entry.actor_kind == "system" and entry.data["amount"] == "$100.00"
    assert not timeline("refund.failed")
    assert len(refund_notices(invoice.customer)) == 1


@pytest.mark.parametrize("status", ["requires_reauthorization", "", None])
def test_a_refund_status_we_do_not_know_is_kept_pending(
    invoice, connected, stripe_on, stripe_client, status
):
    payment = paid_by_card(invoice, connected, stripe_on)
    made = stripe_refund(stripe_client, payment, 10000)
    apply_charge(payment, **{made: {"status": status}})
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.PENDING and refund.stripe_refund_id == made
    assert Invoice.objects.get(pk=invoice.pk).balance == 0


def _refund_stripe_did_notrefused(payment, owner, settings, amount="200") -> Refund:
    """Our refund, asked for while Stripe did not answer: left pending, no Stripe id."""
    base = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = NOWHERE
    with pytest.raises(ServiceError, match="did not answer"):
        services.refund_create(
            payment=payment, amount=Decimal(amount), actor=Actor.member(owner.user), reason="Late"
        )
    settings.STRIPE_API_BASE = base
    refund = Refund.objects.get(payment=payment, stripe_refund_id=None)
    assert refund.status == RefundStatus.PENDING
    return refund


def test_our_refund_that_stripe_made_is_matched_by_its_metadata_not_made_twice(
    invoice,
    connected,
    stripe_on,
    stripe_client,
    owner,
    settings,
    django_capture_on_commit_callbacks,
):
    payment = paid_by_card(invoice, connected, stripe_on)
    dashboard = stripe_refund(stripe_client, payment, 5000)
    services.payment_refresh(payment=payment, with_refunds=True)  # an earlier refund, recorded
    ours = _refund_stripe_did_notrefused(payment, owner, settings)
    made = stripe_refund(stripe_client, payment, 20000, services.refund_metadata(ours))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_refresh(payment=payment, with_refunds=True)
    assert Refund.objects.count() == 2
    ours.refresh_from_db()
    assert (ours.stripe_refund_id, ours.status, ours.reason) == (
        made,
        RefundStatus.SUCCEEDED,
        "Late",
    )
    assert ours.succeeded_at is not None
    assert Refund.objects.get(stripe_refund_id=dashboard).amount == Decimal("50.00")
    assert Invoice.objects.get(pk=invoice.pk).balance == Decimal("250.00")
    entry = timeline("refund.created")[-1]
    assert entry.data["amount"] == "$200.00"  # the refund's amount, not the payment's
    assert (entry.actor_kind, entry.actor_user) == ("member", owner.user)
    (notice,) = refund_notices(invoice.customer)
    assert "$200.00" in notice.body


def test_a_refund_naming_another_payments_refund_is_recorded_on_its_own_payment(
    invoice, connected, stripe_on, stripe_client, owner, settings, customer, job
):
    """Metadata copied in Stripe's dashboard onto a refund of another payment: our refund on the
    first payment is not settled by it."""
    first = paid_by_card(invoice, connected, stripe_on)
    ours = _refund_stripe_did_notrefused(first, owner, settings)
    other = paid_by_card(InvoiceFactory(customer=customer, job=job), connected, stripe_on)
    made = stripe_refund(stripe_client, other, 20000, services.refund_metadata(ours))
    services.payment_refresh(payment=other, with_refunds=True)
    ours.refresh_from_db()
    assert ours.status == RefundStatus.PENDING and ours.stripe_refund_id is None
    recorded = Refund.objects.get(stripe_refund_id=made)
    assert recorded.payment_id == other.pk and recorded.reason == "Refunded in Stripe"


@pytest.mark.parametrize(
    "reason,message",
    [
        ("expired_or_canceled_card", "expired_or_canceled_card"),
        (None, "Stripe could not refund."),
        ("x" * 400, "x" * 300),
    ],
)
def test_our_refund_that_stripe_fails_records_why_and_tells_no_customer(
    invoice,
    connected,
    stripe_on,
    stripe_client,
    owner,
    settings,
    django_capture_on_commit_callbacks,
    reason,
    message,
):
    payment = paid_by_card(invoice, connected, stripe_on)
    ours = _refund_stripe_did_notrefused(payment, owner, settings)
    made = stripe_refund(stripe_client, payment, 20000, services.refund_metadata(ours))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        apply_charge(payment, **{made: {"status": "pending"}})
    ours.refresh_from_db()
    assert (ours.status, ours.stripe_refund_id) == (RefundStatus.PENDING, made)
    assert not timeline("refund.failed") and not timeline("refund.created")

    with django_capture_on_commit_callbacks(execute=True):
        apply_charge(payment, **{made: {"status": "failed", "failure_reason": reason}})
        apply_charge(payment, **{made: {"status": "failed", "failure_reason": reason}})
    ours.refresh_from_db()
    assert (ours.status, ours.failure_message) == (RefundStatus.FAILED, message)
    assert ours.succeeded_at is None
    (entry,) = timeline("refund.failed")
    assert entry.data["amount"] == "$200.00"
    assert (entry.actor_kind, entry.actor_user) == ("member", owner.user)
    assert not timeline("refund.created") and not refund_notices(invoice.customer)
    assert Invoice.objects.get(pk=invoice.pk).balance == 0


# --- A bank debit that bounces (_apply_failure) --------------------------------------------------


@pytest.fixture
def pad(connected):
    connected.accept_bank_debit = True
    connected.save()
    return connected


def test_a_processing_bank_debit_that_bounces_fails_and_tells_the_customer(
    invoice, pad, stripe_on, django_capture_on_commit_callbacks
):
    payment = start_checkout(invoice).payment
    stripe_on.complete_session(payment.stripe_session_id, async_payment=True, send_webhook=False)
    services.payment_refresh(payment=payment)
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.PROCESSING
    stripe_on.settle_async_payment(payment.stripe_session_id, succeeded=False, send_webhook=False)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_refresh(payment=payment)
        services.payment_refresh(payment=payment)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert (
        payment.failure_message
        == "The customer's account has insufficient funds to cover this payment."
    )
    assert payment.finished_at is not None and payment.failure_notified_at is not None
    (entry,) = timeline("payment.failed")
    assert entry.actor_kind == "system" and entry.data["payment"] == payment.public_id
    to_customer = [m for m in mail.outbox if m.to == [invoice.customer.email]]
    assert len(to_customer) == 1 and "did not go through" in to_customer[0].subject
    assert Invoice.objects.get(pk=invoice.pk).balance == Decimal("1356.00")


def test_a_debit_that_bounces_before_we_saw_it_processing_still_tells_the_customer(
    invoice, pad, stripe_on, django_capture_on_commit_callbacks
):
    # The processing webhook and the reconciliation both missed it: the first we hear is the
    # failure. The customer left Stripe's page believing it paid, so they are told all the same.
    payment = start_checkout(invoice).payment
    stripe_on.complete_session(payment.stripe_session_id, async_payment=True, send_webhook=False)
    stripe_on.settle_async_payment(payment.stripe_session_id, succeeded=False, send_webhook=False)
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.CREATED
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_refresh(payment=payment)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and payment.failure_notified_at is not None
    to_customer = [m for m in mail.outbox if m.to == [invoice.customer.email]]
    assert len(to_customer) == 1 and "did not go through" in to_customer[0].subject
    assert Invoice.objects.get(pk=invoice.pk).balance == Decimal("1356.00")


@pytest.mark.parametrize(
    "error,message",
    [
        (None, "The payment failed."),
        ({"code": "debit_not_authorized"}, "The payment failed."),
        ({"message": "y" * 400}, "y" * 300),
    ],
)
def test_a_bounced_debit_says_what_stripe_said_or_that_it_failed(
    invoice, pad, stripe_on, error, message
):
    payment = start_checkout(invoice).payment
    stripe_on.complete_session(payment.stripe_session_id, async_payment=True, send_webhook=False)
    stripe_on.settle_async_payment(payment.stripe_session_id, succeeded=False, send_webhook=False)
    session = stripe_client.checkout_session_retrieve(
        account=pad.account_id, session_id=payment.stripe_session_id
    )
    session["payment_intent"]["last_payment_error"] = error
    services.stripe_state_apply(payment_id=payment.pk, session=session)
    payment.refresh_from_db()
    assert (payment.status, payment.failure_message) == (PaymentStatus.FAILED, message)


# --- The stored event (services.events) -----------------------------------------------------------


def _stored(event_id: str, account: str, body: dict, created: int = 1_764_460_800):
    return services.EventIn(
        id=event_id,
        type="checkout.session.completed",
        account=account,
        created=created,
        body=json.dumps(body),
    )


def test_the_event_is_stored_once_with_its_time_and_no_portal_token(db):
    token = "A" * 43
    body = {"id": "evt_stored", "data": {"object": {"success_url": f"/p/{token}/pay/x/"}}}
    event = _stored("evt_stored", "acct_1", body)
    first = services.event_store(event=event)
    assert first is not None and services.event_store(event=event) is None
    row = StripeEvent.objects.get()
    assert (row.pk, row.event_id, row.type, row.account) == (
        first,
        "evt_stored",
        "checkout.session.completed",
        "acct_1",
    )
    assert (row.status, row.attempts, row.company_id, row.payment_id) == ("received", 0, None, None)
    assert row.stripe_created == dt.datetime(2025, 11, 30, tzinfo=dt.UTC)
    assert row.payload["id"] == "evt_stored" and token not in str(row.payload)
    assert "/p/" in row.payload["data"]["object"]["success_url"]


def test_an_event_without_a_time_is_stored_without_one(db):
    services.event_store(event=_stored("evt_alone", "", {"a": 1}, created=0))
    row = StripeEvent.objects.get()
    assert (row.company_id, row.payment_id, row.stripe_created) == (None, None, None)
    assert row.payload == {"a": 1}


def test_an_event_with_a_nul_character_is_stored_not_a_server_error(db):
    """PostgreSQL's jsonb refuses ``\\u0000``; a signed event carrying one is still stored."""
    body = json.dumps({"id": "evt_nul", "data": {"object": {"description": "a\x00b"}}})
    assert "\\u0000" in body
    event = services.EventIn(id="evt_nul", type="x", account="", created=0, body=body)
    assert services.event_store(event=event) is not None
    assert StripeEvent.objects.get().payload["data"]["object"]["description"] == "a\ufffdb"


def test_applying_with_a_claim_marks_the_event_applied_with_its_payment_and_company(
    invoice, connected, stripe_on, customer, job
):
    payment = start_checkout(invoice).payment
    if payment.pk == invoice.company_id:  # so that storing one id for the other shows
        payment = start_checkout(InvoiceFactory(customer=customer, job=job)).payment
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
    session = stripe_client.checkout_session_retrieve(
        account=connected.account_id, session_id=payment.stripe_session_id
    )
    pk = services.event_store(event=_stored("evt_claimed", connected.account_id, {"id": "x"}))
    claim, _row = services.event_claim(event_pk=pk)
    assert services.event_claim(event_pk=pk) is None  # one worker at a time
    applied = services.stripe_state_apply(payment_id=payment.pk, session=session, event=claim)
    assert applied == services.Applied.APPLIED
    row = StripeEvent.objects.get()
    assert (row.status, row.payment_id, row.company_id) == (
        "applied",
        payment.pk,
        invoice.company_id,
    )
    assert row.processed_at is not None and row.attempts == 1
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.SUCCEEDED


def test_a_worker_whose_claim_was_taken_over_changes_nothing(invoice, connected, stripe_on):
    """A worker that outlived its lease: the sweep gave the row to another worker, whose claim
    is the one that counts. The late worker's change is not made."""
    payment = start_checkout(invoice).payment
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
    session = stripe_client.checkout_session_retrieve(
        account=connected.account_id, session_id=payment.stripe_session_id
    )
    pk = services.event_store(event=_stored("evt_late", connected.account_id, {"id": "x"}))
    late, _row = services.event_claim(event_pk=pk)
    StripeEvent.objects.filter(pk=pk).update(claimed_at=late.claimed_at - dt.timedelta(hours=1))
    assert services.events_due() == []  # put back to received, but too recent to hand over
    assert StripeEvent.objects.get().status == "received"
    current, _row = services.event_claim(event_pk=pk)
    again = services.stripe_state_apply(payment_id=payment.pk, session=session, event=late)
    assert again == services.Applied.DUPLICATE
    assert Payment.objects.get(pk=payment.pk).status != PaymentStatus.SUCCEEDED
    assert not services.event_finish(claim=late, status=EventStatus.FAILED, error="late")
    applied = services.stripe_state_apply(payment_id=payment.pk, session=session, event=current)
    assert applied == services.Applied.APPLIED
    assert StripeEvent.objects.get().status == "applied"


# --- The customer's return page (returns._session_status) ----------------------------------------


def asked(fake, payment: Payment) -> int:
    return len(fake.requests_to(f"/v1/checkout/sessions/{payment.stripe_session_id}"))


def test_the_return_page_asks_stripe_once_per_window_and_each_attempt_for_itself(
    invoice, connected, stripe_on, customer, job, settings
):
    settings.BILLING_RETURN_CHECK_SECONDS = 3
    open_ = Payment.objects.get(pk=start_checkout(invoice).payment.pk)
    other = InvoiceFactory(customer=customer, job=job)
    paid = Payment.objects.get(pk=start_checkout(other).payment.pk)
    stripe_on.complete_session(paid.stripe_session_id, send_webhook=False)

    assert services.attempt_return(payment=open_) == "open"
    # Loaded again within the window: the answer seen, Stripe not asked again.
    assert services.attempt_return(payment=open_) == "open"
    assert asked(stripe_on, open_) == 1
    assert Payment.objects.get(pk=open_.pk).returned_at is None  # still open at Stripe
    assert services.attempt_return(payment=paid) == "complete"
    assert Payment.objects.get(pk=paid.pk).status == PaymentStatus.SUCCEEDED

    stripe_on.complete_session(open_.stripe_session_id, send_webhook=False)
    assert services.attempt_return(payment=open_) == "open"  # the window has not passed
    time.sleep(3.1)
    assert services.attempt_return(payment=open_) == "complete"
    assert asked(stripe_on, open_) == 2
    assert Payment.objects.get(pk=open_.pk).status == PaymentStatus.SUCCEEDED


def test_the_return_page_asks_nothing_about_a_finished_attempt_or_one_without_a_session(
    invoice, connected, stripe_on, customer, job
):
    done = paid_by_card(invoice, connected, stripe_on)
    before = len(stripe_on.requests_to("/v1/checkout/sessions/"))
    assert services.attempt_return(payment=done) == ""
    fresh = start_checkout(InvoiceFactory(customer=customer, job=job)).payment
    Payment.objects.filter(pk=fresh.pk).update(stripe_session_id=None)
    assert services.attempt_return(payment=Payment.objects.get(pk=fresh.pk)) == ""
    assert len(stripe_on.requests_to("/v1/checkout/sessions/")) == before


def test_when_stripe_does_not_answer_the_page_says_unknown_and_asks_again_after_the_window(
    invoice, connected, stripe_on, settings, caplog
):
    settings.BILLING_RETURN_CHECK_SECONDS = 3
    payment = Payment.objects.get(pk=start_checkout(invoice).payment.pk)
    settings.STRIPE_API_BASE = NOWHERE
    with caplog.at_level(logging.WARNING, logger="billing.services.returns"):
        assert services.attempt_return(payment=payment) == ""
        assert services.attempt_return(payment=payment) == ""  # not asked again in the window
    (record,) = [r for r in caplog.records if r.name == "billing.services.returns"]
    assert record.getMessage() == f"return check of payment {payment.public_id} failed: transient"
    assert Payment.objects.get(pk=payment.pk).returned_at is not None
    settings.STRIPE_API_BASE = stripe_on.url
    time.sleep(3.1)
    assert services.attempt_return(payment=payment) == "open"


def test_a_session_stripe_does_not_know_is_logged_with_stripes_code(
    invoice, connected, stripe_on, caplog
):
    payment = start_checkout(invoice).payment
    Payment.objects.filter(pk=payment.pk).update(stripe_session_id="cs_gone")
    payment = Payment.objects.get(pk=payment.pk)
    with caplog.at_level(logging.WARNING, logger="billing.services.returns"):
        assert services.attempt_return(payment=payment) == ""
    (record,) = [r for r in caplog.records if r.name == "billing.services.returns"]
    assert record.getMessage() == (
        f"return check of payment {payment.public_id} failed: resource_missing"
    )


def test_without_stripe_the_return_page_asks_nothing_and_logs_nothing(invoice, caplog, settings):
    attempt = Payment.objects.create(
        company=invoice.company,
        customer=invoice.customer,
        invoice=invoice,
        purpose=PaymentPurpose.INVOICE,
        method=PaymentMethod.CARD,
        status=PaymentStatus.CREATED,
        amount=Decimal("1356.00"),
        stripe_session_id="cs_left_from_before",
    )
    settings.STRIPE_SECRET_KEY = ""
    with caplog.at_level(logging.WARNING, logger="billing.services.returns"):
        assert services.attempt_return(payment=attempt) == ""
    assert not [r for r in caplog.records if r.name == "billing.services.returns"]


def test_the_return_page_gives_up_on_a_hanging_stripe_after_the_page_timeout(
    invoice, connected, stripe_on, settings
):
    settings.STRIPE_PAGE_TIMEOUT_SECONDS = 1
    payment = Payment.objects.get(pk=start_checkout(invoice).payment.pk)
    stripe_on.stall(f"/v1/checkout/sessions/{payment.stripe_session_id}", 3)
    started = time.monotonic()
    assert services.attempt_return(payment=payment) == ""
    assert time.monotonic() - started < 2.5


# --- Connecting a Stripe account (connect) -------------------------------------------------------


def test_an_account_id_of_64_characters_with_spaces_around_is_linked(company, owner, stripe_on):
    account_id = "acct_" + "A" * 59
    stripe_on.add_account(account_id)
    row = services.stripe_account_link(
        company=company, account_id=f"  {account_id} ", actor=Actor.member(owner.user)
    )
    assert StripeAccount.objects.get(company=company).pk == row.pk
    assert row.account_id == account_id and row.charges_enabled and row.connected_by == owner.user
    (entry,) = timeline("stripe.connected")
    assert entry.actor_user == owner.user and entry.data["account"] == account_id


@pytest.mark.parametrize("account_id", ["abc", "ACCT_123", " ", "acct_" + "A" * 60])
def test_what_is_not_a_stripe_account_id_is_refused_before_asking_stripe(
    company, owner, stripe_on, account_id
):
    stripe_on.add_account(account_id.strip() or None)
    with pytest.raises(ServiceError) as refused:
        services.stripe_account_link(
            company=company, account_id=account_id, actor=Actor.member(owner.user)
        )
    assert str(refused.value) == "A Stripe account ID starts with acct_."
    assert not stripe_on.requests_to("/v1/accounts")
    assert not StripeAccount.objects.exists()


def test_an_account_stripe_does_not_know_or_a_silent_stripe_is_said_so(
    company, owner, stripe_on, settings
):
    with pytest.raises(ServiceError) as unknown:
        services.stripe_account_link(
            company=company, account_id="acct_nobodyknows", actor=Actor.member(owner.user)
        )
    assert str(unknown.value) == (
        "Stripe does not know that account, or it is not connected to CrewCommand."
    )
    known = stripe_on.add_account()["id"]
    settings.STRIPE_API_BASE = NOWHERE
    with pytest.raises(ServiceError) as silent:
        services.stripe_account_link(
            company=company, account_id=known, actor=Actor.member(owner.user)
        )
    assert str(silent.value) == "Stripe did not answer. Please try again."
    assert not StripeAccount.objects.exists()


def test_onboarding_creates_the_account_once_and_links_to_stripes_page(company, owner, stripe_on):
    url = services.stripe_onboarding_start(
        company=company,
        actor=Actor.member(owner.user),
        refresh_url="http://testserver/again/",
        return_url="http://testserver/back/",
    )
    assert url.startswith(f"{stripe_on.url}/connect/onboard/")
    row = StripeAccount.objects.get(company=company)
    assert row.account_id.startswith("acct_") and not row.charges_enabled
    assert row.connected_by == owner.user
    (created,) = stripe_on.requests_to("/v1/accounts", "POST")
    assert created.form["email"] == company.email
    assert created.header("Idempotency-Key") == f"cc-account-{company.public_id}"
    link = stripe_on.last_request("/v1/account_links", "POST").form
    assert link["account"] == row.account_id
    assert link["refresh_url"] == "http://testserver/again/"
    assert link["return_url"] == "http://testserver/back/"
    (entry,) = timeline("stripe.connected")
    assert entry.actor_user == owner.user


def test_onboarding_a_connected_company_reuses_its_account(company, owner, connected, stripe_on):
    url = services.stripe_onboarding_start(
        company=company,
        actor=Actor.member(owner.user),
        refresh_url="http://r/",
        return_url="http://b/",
    )
    assert url.startswith(f"{stripe_on.url}/connect/onboard/")
    assert not stripe_on.requests_to("/v1/accounts", "POST")
    assert stripe_on.last_request("/v1/account_links", "POST").form["account"] == (
        connected.account_id
    )


def test_onboarding_when_stripe_does_not_answer_says_so(company, owner, stripe_on, settings):
    settings.STRIPE_API_BASE = NOWHERE
    for setup in ("no account", "connected"):
        if setup == "connected":
            StripeAccount.objects.create(company=company, account_id="acct_known")
        with pytest.raises(ServiceError) as silent:
            services.stripe_onboarding_start(
                company=company,
                actor=Actor.member(owner.user),
                refresh_url="http://r/",
                return_url="http://b/",
            )
        assert str(silent.value) == "Stripe did not answer. Please try again."
    assert StripeAccount.objects.get(company=company).account_id == "acct_known"


# --- The deposit's tax point (manual._set_deposit_tax_point) -------------------------------------
# Nova Scotia's HST went from 15 % to 14 % on 2025-04-01: a deposit paid before that keeps its
# share of the tax at 15 % (tests/billing/test_tax_point.py has the worked figures).

HALIFAX = ZoneInfo("America/Halifax")
SIGNED = dt.date(2025, 3, 28)


def signed_ns_estimate(customer) -> Estimate:
    return SignedEstimateFactory(
        customer=customer,
        lines=({"description": "Deck", "unit_price": "1000.00"},),
        revision={
            "issue_date": SIGNED,
            "valid_until": dt.date(2099, 12, 31),
            "deposit_kind": DepositKind.PERCENT,
            "deposit_value": Decimal("25"),
        },
    )


@pytest.fixture
def ns_estimate(company, customer) -> Estimate:
    """$1,000.00 of work dated 2025-03-28 in Nova Scotia, 25 % deposit ($287.50), signed."""
    company.province = "NS"
    company.timezone = "America/Halifax"
    company.save()
    return signed_ns_estimate(customer)


def card_deposit(estimate: Estimate, amount: str, paid_at: dt.datetime, **fields) -> Payment:
    """A card deposit as the webhook leaves it (succeeded, applied unless flagged)."""
    return Payment.objects.create(
        company=estimate.company,
        customer=estimate.customer,
        estimate=estimate,
        purpose=PaymentPurpose.DEPOSIT,
        method=PaymentMethod.CARD,
        status=PaymentStatus.SUCCEEDED,
        applied=fields.pop("applied", True),
        amount=Decimal(amount),
        succeeded_at=paid_at,
        finished_at=paid_at,
        **fields,
    )


def convert_on(estimate: Estimate, day: dt.date) -> Invoice:
    invoice = services.estimate_convert(estimate=estimate, actor=Actor.system())
    documents.invoice_update(invoice=invoice, actor=Actor.system(), fields={"issue_date": day})
    return Invoice.objects.get(pk=invoice.pk)


def tax_point(invoice: Invoice) -> tuple[Decimal, dt.date | None]:
    return invoice.prepaid_amount, invoice.prepaid_on


def test_a_flagged_later_deposit_does_not_move_the_tax_point(ns_estimate):
    PaymentFactory(estimate=ns_estimate, amount="287.50", method="etransfer", received_on=SIGNED)
    card_deposit(ns_estimate, "50.00", dt.datetime(2025, 4, 1, 12, tzinfo=HALIFAX), applied=False)
    invoice = convert_on(ns_estimate, dt.date(2025, 4, 2))
    assert tax_point(invoice) == (Decimal("287.50"), SIGNED)
    assert invoice.total == Decimal("1142.50")


def test_only_this_estimates_deposits_make_its_tax_point(ns_estimate, customer):
    PaymentFactory(estimate=ns_estimate, amount="287.50", method="etransfer", received_on=SIGNED)
    other = signed_ns_estimate(customer)  # another job's estimate, its deposit paid later
    PaymentFactory(
        estimate=other, amount="100.00", method="etransfer", received_on=SIGNED.replace(day=30)
    )
    invoice = convert_on(ns_estimate, dt.date(2025, 4, 2))
    assert tax_point(invoice) == (Decimal("287.50"), SIGNED)


def test_the_tax_point_is_the_day_of_the_last_deposit_paid_not_the_last_recorded(ns_estimate):
    card_deposit(ns_estimate, "143.75", dt.datetime(2025, 3, 27, 10, tzinfo=HALIFAX))
    card_deposit(ns_estimate, "143.75", dt.datetime(2025, 3, 20, 10, tzinfo=HALIFAX))
    invoice = convert_on(ns_estimate, dt.date(2025, 4, 2))
    assert tax_point(invoice) == (Decimal("287.50"), dt.date(2025, 3, 27))


def test_a_card_deposit_just_after_midnight_in_halifax_is_paid_at_the_new_rate(ns_estimate):
    """00:30 on 2025-04-01 in Halifax is still 2025-03-31 in Toronto (the server's zone)."""
    card_deposit(ns_estimate, "287.50", dt.datetime(2025, 4, 1, 0, 30, tzinfo=HALIFAX))
    invoice = convert_on(ns_estimate, dt.date(2025, 4, 2))
    assert tax_point(invoice) == (Decimal("287.50"), dt.date(2025, 4, 1))
    assert invoice.total == Decimal("1140.00")


@pytest.mark.parametrize("method", [PaymentMethod.ETRANSFER, PaymentMethod.CARD])
def test_a_one_dollar_deposit_has_its_tax_point(ns_estimate, method):
    if method == PaymentMethod.CARD:
        card_deposit(ns_estimate, "1.00", dt.datetime(2025, 3, 28, 10, tzinfo=HALIFAX))
    else:
        PaymentFactory(estimate=ns_estimate, amount="1.00", method=method, received_on=SIGNED)
    invoice = convert_on(ns_estimate, dt.date(2025, 4, 2))
    assert tax_point(invoice) == (Decimal("1.00"), SIGNED)


@pytest.mark.parametrize("method", [PaymentMethod.ETRANSFER, PaymentMethod.CARD])
def test_a_deposit_refunded_in_full_leaves_no_tax_point(ns_estimate, method):
    if method == PaymentMethod.CARD:
        card_deposit(
            ns_estimate,
            "287.50",
            dt.datetime(2025, 3, 28, 10, tzinfo=HALIFAX),
            amount_refunded=Decimal("287.50"),
        )
    else:
        paid = PaymentFactory(
            estimate=ns_estimate, amount="287.50", method=method, received_on=SIGNED
        )
        services.refund_create(payment=paid, amount=Decimal("287.50"), actor=Actor.system())
    invoice = convert_on(ns_estimate, dt.date(2025, 4, 2))
    assert tax_point(invoice) == (Decimal("0.00"), None)
    assert invoice.total == Decimal("1140.00") and invoice.deposit_credit == 0


def test_a_deposit_paid_the_day_the_invoice_is_made_leaves_no_tax_point(ns_estimate):
    PaymentFactory(estimate=ns_estimate, amount="287.50", method="etransfer")  # received today
    invoice = services.estimate_convert(estimate=ns_estimate, actor=Actor.system())
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert tax_point(invoice) == (Decimal("0.00"), None)
    assert invoice.deposit_credit == Decimal("287.50")


# --- billing-checkout ----------------------------------------------------------------------------
# What ``scripts/mutation billing-checkout`` left alive in ``checkout.py``, ``autopay.py`` and
# ``returns.py``: what the Checkout Session asks Stripe for (one line, the amount in cents worked
# out here by hand, its name, the Pay button, the expiry Stripe gets and we store), Stripe's
# limits at their edges ($0.50, 99,999,999 cents, 30 minutes to 24 hours), and idempotency.


def logged(caplog) -> list[str]:
    """The log messages, each whole (a changed message must not pass as a part of it)."""
    return [record.getMessage() for record in caplog.records]


def checkout_form(fake) -> dict:
    return fake.last_request("/v1/checkout/sessions", "POST").form


def one_line_invoice(customer, price: str, *, taxable: bool = False) -> Invoice:
    line = {"description": "Work", "unit_price": price, "taxable": taxable}
    return Invoice.objects.get(
        pk=cast(Invoice, InvoiceFactory(customer=customer, lines=(line,))).pk
    )


def test_checkout_asks_stripe_for_one_line_named_after_the_invoice_with_a_pay_button(
    invoice, connected, stripe_on, settings
):
    settings.BILLING_CHECKOUT_EXPIRY_MINUTES = 90
    before = int(time.time())
    started = start_checkout(invoice)
    after = int(time.time())
    form = checkout_form(stripe_on)
    label = f"Maple Plumbing: Invoice {invoice.display_number}"
    assert (form["mode"], form["submit_type"], form["locale"]) == ("payment", "pay", "auto")
    assert form["line_items"] == [
        {
            "price_data": {
                "currency": "cad",
                "unit_amount": "135600",  # $1,200.00 + 13 % HST
                "product_data": {"name": label},
            },
            "quantity": "1",
        }
    ]
    assert form["payment_intent_data"]["description"] == label
    assert "payment_method_types" not in form and "customer" not in form  # a card, no debit
    expires = int(form["expires_at"])
    assert before + 90 * 60 <= expires <= after + 90 * 60
    stored = Payment.objects.get()
    assert stored.stripe_expires_at == dt.datetime.fromtimestamp(expires, dt.UTC)
    assert stored.stripe_session_id == started.payment.stripe_session_id
    assert stripe_on.get(stored.stripe_session_id)["amount_total"] == 135600


def test_checkout_a_balance_of_exactly_fifty_cents_is_charged_by_card(
    customer, connected, stripe_on
):
    invoice = one_line_invoice(customer, "0.50")
    assert invoice.balance == Decimal("0.50")
    started = start_checkout(invoice)
    assert started.payment.amount == Decimal("0.50")
    sent = stripe_on.last_request("/v1/checkout/sessions", "POST")
    assert sent.form["line_items"][0]["price_data"]["unit_amount"] == "50"
    assert sent.header("Idempotency-Key") == f"cc-checkout-{started.payment.public_id}-50"


def test_checkout_a_deposit_is_named_after_its_estimate_and_charged_a_quarter_of_the_total(
    signed_estimate, connected, stripe_on
):
    started = start_checkout(signed_estimate)
    form = checkout_form(stripe_on)
    # $2,000.00 + 13 % HST = $2,260.00; a 25 % deposit is $565.00.
    assert started.payment.amount == Decimal("565.00")
    assert form["line_items"][0]["price_data"]["unit_amount"] == "56500"
    label = f"Maple Plumbing: Deposit for estimate {signed_estimate.display_number}"
    assert form["line_items"][0]["price_data"]["product_data"]["name"] == label
    assert form["metadata"] == {
        "cc_payment": started.payment.public_id,
        "cc_company": signed_estimate.company.public_id,
        "cc_estimate": signed_estimate.public_id,
    }
    assert "payment_method_types" not in form  # bank debit is for invoices only


def checkout_with_tip(document, tip: str, amount=None):
    return services.checkout_start(
        document=document, amount=amount, return_urls=return_urls, tip=Decimal(tip)
    )


def test_checkout_a_tip_up_to_the_amount_paid_is_its_own_line_and_part_of_the_key(
    invoice, connected, stripe_on
):
    connected.tips_enabled = True
    connected.save()
    with pytest.raises(ServiceError, match=r"A tip can be at most \$1,356\.00 here"):
        checkout_with_tip(invoice, "1356.01")
    with pytest.raises(ServiceError, match="can't be negative"):
        checkout_with_tip(invoice, "-0.01")
    assert not Payment.objects.exists()
    started = checkout_with_tip(invoice, "1356.00")
    sent = stripe_on.last_request("/v1/checkout/sessions", "POST")
    assert [i["price_data"]["unit_amount"] for i in sent.form["line_items"]] == ["135600"] * 2
    assert sent.form["line_items"][1]["price_data"]["product_data"]["name"] == (
        "Tip for Maple Plumbing"
    )
    assert sent.form["line_items"][1]["quantity"] == "1"
    payment = Payment.objects.get()
    assert (payment.amount, payment.tip_amount) == (Decimal("1356.00"), Decimal("1356.00"))
    key = f"cc-checkout-{payment.public_id}-135600-tip135600"
    assert payment.idempotency_key == key == sent.header("Idempotency-Key")
    assert started.payment.pk == payment.pk


def test_checkout_a_tip_that_rounds_to_nothing_is_no_tip(invoice, connected, stripe_on):
    connected.tips_enabled = True
    connected.save()
    checkout_with_tip(invoice, "0.004")
    sent = stripe_on.last_request("/v1/checkout/sessions", "POST")
    assert len(sent.form["line_items"]) == 1
    payment = Payment.objects.get()
    assert payment.tip_amount == Decimal("0.00")
    assert sent.header("Idempotency-Key") == f"cc-checkout-{payment.public_id}-135600"


def test_checkout_a_tip_may_bring_the_charge_to_exactly_stripes_maximum(
    customer, connected, stripe_on
):
    connected.tips_enabled = True
    connected.save()
    invoice = one_line_invoice(customer, "999000.00")
    with pytest.raises(ServiceError, match="too large for one card payment"):
        checkout_with_tip(invoice, "1000.00")  # 100,000,000 cents: one too many
    assert not Payment.objects.exists()
    checkout_with_tip(invoice, "999.99")
    items = checkout_form(stripe_on)["line_items"]
    assert [i["price_data"]["unit_amount"] for i in items] == ["99900000", "99999"]
    assert Payment.objects.get().tip_amount == Decimal("999.99")


def test_checkout_no_tip_on_a_deposit_even_where_the_company_takes_tips(
    signed_estimate, connected, stripe_on
):
    connected.tips_enabled = True
    connected.save()
    with pytest.raises(ServiceError, match="doesn't take tips online"):
        checkout_with_tip(signed_estimate, "10.00")
    assert not Payment.objects.exists()


# Saved cards and autopay (autopay.py), without a live server: Stripe's answer about the session
# is applied as reconciliation does (``payment_refresh``).


def card_saved(invoice, fake):
    """The customer pays ``invoice`` ticking "save this card"; Stripe's answer is applied."""
    from billing.models import SavedCard

    started = services.checkout_start(
        document=invoice, amount=None, return_urls=return_urls, save_card=True
    )
    fake.complete_session(started.payment.stripe_session_id, send_webhook=False)
    services.payment_refresh(payment=Payment.objects.get(pk=started.payment.pk))
    return SavedCard.objects.get(removed_at=None)


def test_checkout_saving_a_card_makes_one_stripe_customer_and_keeps_the_card_it_paid_with(
    customer, job, connected, stripe_on
):
    from billing.models import SavedCard, StripeCustomer

    first = InvoiceFactory(customer=customer, job=job)
    card = card_saved(first, stripe_on)
    made = stripe_on.requests_to("/v1/customers", "POST")
    assert len(made) == 1
    assert made[0].header("Idempotency-Key") == (
        f"cc-customer-{customer.public_id}-{connected.account_id}"
    )
    assert made[0].header("Stripe-Account") == connected.account_id
    assert made[0].form["email"] == customer.email and made[0].form["name"] == "Alice Tremblay"
    assert made[0].form["metadata"] == {"cc_customer": customer.public_id}
    cus = StripeCustomer.objects.get()
    form = checkout_form(stripe_on)
    assert form["customer"] == cus.stripe_customer_id and "customer_email" not in form
    assert form["payment_intent_data"]["setup_future_usage"] == "off_session"
    pm = stripe_on.get(card.stripe_payment_method_id)
    payment = Payment.objects.get(invoice=first)
    assert (
        (card.brand, card.last4) == (pm["card"]["brand"], pm["card"]["last4"]) == ("visa", "4242")
    )
    assert (card.exp_month, card.exp_year) == (pm["card"]["exp_month"], pm["card"]["exp_year"])
    assert card.exp_month is not None and card.exp_year is not None
    assert card.consent_text == "Save this card for future invoices from Maple Plumbing"
    assert card.consent_at == payment.created_at and card.consent_payment_id == payment.pk
    assert (card.company_id, card.customer_id) == (customer.company_id, customer.pk)
    assert card.stripe_account_id == connected.account_id
    assert card.stripe_customer_id == cus.stripe_customer_id and not card.autopay
    (entry,) = timeline("card.saved")
    assert entry.data["card"] == "Visa ····4242" and entry.actor_kind == "customer"

    # Autopay on, then a second card saved: it replaces the first and keeps autopay on.
    SavedCard.objects.filter(pk=card.pk).update(autopay=True)
    second = card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    assert len(stripe_on.requests_to("/v1/customers", "POST")) == 1  # the same Stripe Customer
    assert second.pk != card.pk and second.autopay
    assert second.stripe_payment_method_id != card.stripe_payment_method_id
    assert SavedCard.objects.get(pk=card.pk).removed_at is not None
    # Reconciliation asking again keeps nothing twice.
    services.payment_refresh(payment=Payment.objects.filter(invoice__isnull=False).last())
    assert SavedCard.objects.count() == 2 and len(timeline("card.saved")) == 2


def _paid_saving_the_card(invoice, connected, stripe_on):
    """The customer pays ``invoice`` ticking "save this card"; returns the attempt and Stripe's
    PaymentIntent for it (read back, not applied)."""
    started = services.checkout_start(
        document=invoice, amount=None, return_urls=return_urls, save_card=True
    )
    stripe_on.complete_session(started.payment.stripe_session_id, send_webhook=False)
    payment = Payment.objects.get()
    session = stripe_client.checkout_session_retrieve(
        account=connected.account_id, session_id=payment.stripe_session_id
    )
    return payment, session["payment_intent"]


def test_checkout_a_card_is_kept_only_if_stripe_set_it_up_for_later(
    customer, job, connected, stripe_on
):
    from billing.models import SavedCard
    from billing.services import autopay

    invoice = InvoiceFactory(customer=customer, job=job)
    payment, intent = _paid_saving_the_card(invoice, connected, stripe_on)
    assert intent["setup_future_usage"] == "off_session"
    for changed in (
        {"setup_future_usage": "on_session"},
        {"customer": None},
        {"payment_method": None},
        {"latest_charge": intent["latest_charge"]["id"]},  # not expanded: no details
        {"latest_charge": {**intent["latest_charge"], "payment_method_details": None}},
        {
            "latest_charge": {
                **intent["latest_charge"],
                "payment_method_details": {"type": "acss_debit"},
            }
        },
    ):
        assert autopay.card_save_from(payment, {**intent, **changed}) is None, changed
    assert not SavedCard.objects.exists()
    payment.save_card = False
    assert autopay.card_save_from(payment, intent) is None
    assert not SavedCard.objects.exists()


def test_checkout_a_saved_card_charge_sends_the_balance_once_with_our_metadata(
    customer, job, connected, stripe_on
):
    from billing.services import autopay

    card = card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    invoice = InvoiceFactory(customer=customer, job=job)
    PaymentFactory(invoice=invoice, amount="356.00", method=PaymentMethod.CHEQUE)
    invoice.refresh_from_db()
    payment = autopay.saved_card_charge(invoice=invoice, actor=Actor.system(), triggered_by="x")
    sent = stripe_on.last_request("/v1/payment_intents", "POST")
    assert sent.header("Stripe-Account") == connected.account_id
    assert sent.header("Idempotency-Key") == f"cc-autopay-{invoice.public_id}-100000"
    assert sent.form == {
        "amount": "100000",  # $1,356.00 less the $356.00 cheque
        "currency": "cad",
        "customer": card.stripe_customer_id,
        "payment_method": card.stripe_payment_method_id,
        "off_session": "true",
        "confirm": "true",
        "metadata": {
            "cc_payment": payment.public_id,
            "cc_company": customer.company.public_id,
            "cc_invoice": invoice.public_id,
        },
        "description": f"Maple Plumbing: Invoice {invoice.display_number}",
        "expand": ["latest_charge"],
    }
    assert payment.status == PaymentStatus.SUCCEEDED and payment.amount == Decimal("1000.00")
    assert payment.stripe_payment_intent_id.startswith("pi_")
    assert payment.method == PaymentMethod.CARD and payment.purpose == PaymentPurpose.INVOICE
    assert (payment.triggered_by, payment.saved_card_id) == ("x", card.pk)
    invoice.refresh_from_db()
    assert invoice.balance == 0 and invoice.amount_paid == Decimal("1356.00")
    with pytest.raises(ServiceError, match=r"This invoice has nothing to charge\."):
        autopay.saved_card_charge(invoice=invoice, actor=Actor.system(), triggered_by="x")
    assert len(stripe_on.requests_to("/v1/payment_intents", "POST")) == 1


def test_checkout_a_declined_saved_card_fails_the_attempt_with_stripes_reason(
    customer, job, connected, stripe_on, django_capture_on_commit_callbacks
):
    from billing.services import autopay

    card = card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    stripe_on.off_session_outcomes[card.stripe_payment_method_id] = "card_declined"
    invoice = InvoiceFactory(customer=customer, job=job)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        payment = autopay.saved_card_charge(
            invoice=invoice, actor=Actor.system(), triggered_by="autopay"
        )
    assert payment.status == PaymentStatus.FAILED and payment.finished_at is not None
    assert payment.failure_message == "Your card was declined."
    intent = stripe_on.get(payment.stripe_payment_intent_id)
    assert intent["status"] == "requires_payment_method"
    (entry,) = timeline("payment.failed")
    assert entry.data["amount"] == "$1,356.00"
    (notice,) = [m for m in mail.outbox if m.to == [customer.email]]
    assert "could not be charged" in notice.subject
    assert Invoice.objects.get(pk=invoice.pk).balance == Decimal("1356.00")


def test_checkout_a_saved_card_charge_while_stripe_is_down_waits_and_charges_once_later(
    customer, job, connected, stripe_on, settings
):
    from billing.services import autopay

    card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    invoice = InvoiceFactory(customer=customer, job=job)
    settings.STRIPE_API_BASE = NOWHERE
    waiting = autopay.saved_card_charge(invoice=invoice, actor=Actor.system(), triggered_by="a")
    assert waiting.status == PaymentStatus.CREATED and waiting.failure_message == ""
    settings.STRIPE_API_BASE = stripe_on.url
    done = autopay.saved_card_charge(invoice=invoice, actor=Actor.system(), triggered_by="b")
    assert done.pk == waiting.pk and done.status == PaymentStatus.SUCCEEDED
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_checkout_a_saved_card_charge_refused_by_stripe_is_recorded_failed(
    customer, job, connected, stripe_on
):
    from billing.services import autopay

    card = card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    # The card was detached at Stripe (by the customer's bank, or the contractor there).
    stripe_client.payment_method_detach(
        account=connected.account_id, payment_method_id=card.stripe_payment_method_id
    )
    invoice = InvoiceFactory(customer=customer, job=job)
    payment = autopay.saved_card_charge(invoice=invoice, actor=Actor.system(), triggered_by="a")
    assert payment.status == PaymentStatus.FAILED
    assert "may not be used again" in payment.failure_message
    assert payment.stripe_payment_intent_id is None


def test_checkout_a_saved_card_charge_is_refused_where_it_must_not_charge(
    customer, job, connected, stripe_on
):
    from billing.models import SavedCard
    from billing.services import autopay
    from crewcommand.models import Customer
    from documents.models import InvoiceStatus

    def charge(invoice):
        return autopay.saved_card_charge(invoice=invoice, actor=Actor.system(), triggered_by="t")

    invoice = InvoiceFactory(customer=customer, job=job)
    with pytest.raises(ServiceError, match=r"This customer has no saved card\."):
        charge(invoice)
    card = card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    paid = Payment.objects.count()

    StripeAccount.objects.filter(pk=connected.pk).update(charges_enabled=False)
    with pytest.raises(ServiceError, match=r"Online payment is not available for this business\."):
        charge(invoice)
    StripeAccount.objects.filter(pk=connected.pk).update(charges_enabled=True)

    SavedCard.objects.filter(pk=card.pk).update(stripe_account_id="acct_elsewhere")
    with pytest.raises(ServiceError, match=r"The saved card belongs to another Stripe account\."):
        charge(invoice)
    SavedCard.objects.filter(pk=card.pk).update(stripe_account_id=connected.account_id)

    draft = InvoiceFactory(customer=customer, job=job, sent=False)
    with pytest.raises(ServiceError, match=r"This invoice has nothing to charge\."):
        charge(draft)
    Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.VOID)
    with pytest.raises(ServiceError, match=r"This invoice has nothing to charge\."):
        charge(invoice)
    Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.VIEWED)

    # A bank debit on the invoice still processing: it may yet pay the balance.
    attempt = start_checkout(invoice).payment
    Payment.objects.filter(pk=attempt.pk).update(status=PaymentStatus.PROCESSING)
    with pytest.raises(ServiceError, match=r"A payment on this invoice is still processing\."):
        charge(invoice)
    assert Payment.objects.count() == paid + 1
    assert not stripe_on.requests_to("/v1/payment_intents", "POST")
    Payment.objects.filter(pk=attempt.pk).update(status=PaymentStatus.FAILED)

    # Another customer's card is never used for this customer.
    Customer.objects.filter(pk=customer.pk).update(email="other@example.com")
    long = autopay.saved_card_charge(invoice=invoice, actor=Actor.system(), triggered_by="t" * 200)
    assert long.status == PaymentStatus.SUCCEEDED and long.triggered_by == "t" * 150
    assert long.saved_card_id == card.pk


def test_checkout_autopay_charges_open_invoices_due_by_today_of_customers_who_turned_it_on(
    customer, job, connected, stripe_on
):
    from billing.models import SavedCard
    from billing.services import autopay
    from documents.models import InvoiceStatus

    card = card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    from django.utils import timezone

    today = timezone.localdate() + dt.timedelta(days=60)  # due dates stay after issue dates
    due = {}
    for name, status, days in (
        ("sent", InvoiceStatus.SENT, 0),
        ("viewed", InvoiceStatus.VIEWED, -3),
        ("partly", InvoiceStatus.PARTIALLY_PAID, -40),
        ("tomorrow", InvoiceStatus.SENT, 1),
    ):
        invoice = InvoiceFactory(customer=customer, job=job)
        Invoice.objects.filter(pk=invoice.pk).update(
            status=status, due_date=today + dt.timedelta(days=days)
        )
        due[name] = invoice
    draft = InvoiceFactory(customer=customer, job=job, sent=False)
    Invoice.objects.filter(pk=draft.pk).update(due_date=today)
    assert autopay.autopay_due(today=today) == 0  # autopay is off
    SavedCard.objects.filter(pk=card.pk).update(autopay=True)
    assert autopay.autopay_due(today=today) == 3
    charged = set(Payment.objects.filter(saved_card=card).values_list("invoice_id", flat=True))
    assert charged == {due["sent"].pk, due["viewed"].pk, due["partly"].pk}
    assert autopay.autopay_due(today=today) == 0  # paid: nothing left to charge
    assert len(stripe_on.requests_to("/v1/payment_intents", "POST")) == 3


def test_checkout_removing_a_saved_card_detaches_it_at_stripe_first(
    customer, job, connected, stripe_on, settings
):
    from billing.models import SavedCard
    from billing.services import autopay

    card = card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    SavedCard.objects.filter(pk=card.pk).update(autopay=True)
    card.refresh_from_db()
    settings.STRIPE_API_BASE = NOWHERE  # Stripe unreachable: nothing removed, say so
    with pytest.raises(ServiceError, match="could not be removed right now"):
        autopay.card_remove(card=card, actor=Actor.system())
    card.refresh_from_db()
    assert card.removed_at is None and card.autopay and not timeline("card.removed")

    settings.STRIPE_API_BASE = stripe_on.url
    # Detached at Stripe already (Stripe refuses to detach it again): ours is removed too.
    stripe_client.payment_method_detach(
        account=connected.account_id, payment_method_id=card.stripe_payment_method_id
    )
    removed = autopay.card_remove(card=card, actor=Actor.system())
    assert removed.removed_at is not None and not removed.autopay
    (entry,) = timeline("card.removed")
    assert entry.data == {"card": "Visa ····4242"} and entry.target_id == customer.pk
    detaches = len(stripe_on.requests_to(f"/v1/payment_methods/{card.stripe_payment_method_id}"))
    assert autopay.card_remove(card=removed, actor=Actor.system()).removed_at == removed.removed_at
    assert (
        len(stripe_on.requests_to(f"/v1/payment_methods/{card.stripe_payment_method_id}"))
        == detaches
    )
    assert len(timeline("card.removed")) == 1
    assert autopay.saved_card_of(customer=customer) is None


# Asking Stripe about earlier attempts before charging again (_recheck_open_attempts).


def sessions_asked(fake, since: int = 0) -> list[str]:
    gets = fake.requests_to("/v1/checkout/sessions/cs_", "GET")[since:]
    return [r.path.rsplit("/", 1)[-1] for r in gets]


def test_checkout_pressing_pay_asks_stripe_about_the_three_newest_open_attempts(
    invoice, connected, stripe_on, settings
):
    from django.utils import timezone

    settings.BILLING_CHECKOUT_EXPIRY_MINUTES = 60
    attempts = [start_checkout(invoice).payment for _ in range(5)]
    # The oldest was made more than an hour ago: its session has expired, no need to ask.
    Payment.objects.filter(pk=attempts[0].pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=61)
    )
    # One attempt failed here already; another is a cheque.
    Payment.objects.filter(pk=attempts[4].pk).update(status=PaymentStatus.FAILED)
    PaymentFactory(invoice=invoice, amount="1.00", method=PaymentMethod.CHEQUE)
    since = len(sessions_asked(stripe_on))
    start_checkout(invoice)
    asked = sessions_asked(stripe_on, since)
    assert asked == [a.stripe_session_id for a in (attempts[3], attempts[2], attempts[1])]


def test_checkout_an_earlier_attempt_stripe_no_longer_knows_does_not_stop_a_new_one(
    invoice, connected, stripe_on, caplog
):
    first = start_checkout(invoice).payment
    second = start_checkout(invoice).payment
    stripe_on.objects.pop(second.stripe_session_id)  # Stripe answers 404 about it, for good
    since = len(sessions_asked(stripe_on))
    with caplog.at_level(logging.WARNING, logger="billing.services.checkout"):
        third = start_checkout(invoice).payment
    assert sessions_asked(stripe_on, since) == [second.stripe_session_id, first.stripe_session_id]
    assert third.status == PaymentStatus.CREATED and Payment.objects.count() == 3
    assert f"recheck of payment {second.public_id} failed: resource_missing" in logged(caplog)


def test_checkout_a_deposit_paid_at_stripe_whose_webhook_was_lost_is_found_before_paying_again(
    signed_estimate, connected, stripe_on
):
    first = start_checkout(signed_estimate).payment
    stripe_on.complete_session(first.stripe_session_id, send_webhook=False)
    with pytest.raises(ServiceError):
        start_checkout(signed_estimate)
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED
    assert len(stripe_on.requests_to("/v1/checkout/sessions", "POST")) == 1


def test_checkout_the_unconfirmed_and_processing_messages_name_the_amount_and_when_it_started(
    invoice, connected, stripe_on
):
    from billing.services import checkout

    first = start_checkout(invoice).payment
    started = dt.datetime(2026, 3, 5, 14, 7, tzinfo=ZoneInfo("America/Toronto"))
    Payment.objects.filter(pk=first.pk).update(created_at=started, returned_at=started)
    with pytest.raises(ServiceError) as refused:
        start_checkout(invoice)
    assert str(refused.value) == (
        "A payment of $1,356.00 started on Mar 5 at 2:07 p.m. is still being confirmed. "
        "Pay again anyway?"
    )
    Payment.objects.filter(pk=first.pk).update(status=PaymentStatus.PROCESSING)
    with pytest.raises(ServiceError) as held:
        services.checkout_start(
            document=invoice, amount=None, return_urls=return_urls, pay_again=True
        )
    assert str(held.value) == checkout.processing_message(Payment.objects.get(pk=first.pk))
    assert "$1,356.00 started on Mar 5. You can pay again only if it fails." in str(held.value)
    assert str(held.value).startswith("Bank payment processing, usually 3")


def test_checkout_when_stripe_cannot_make_the_customer_to_save_the_card_nothing_is_charged(
    invoice, connected, stripe_on
):
    stripe_on.api_failure = 500
    with pytest.raises(ServiceError, match="Online payment is not available right now"):
        services.checkout_start(
            document=invoice, amount=None, return_urls=return_urls, save_card=True
        )
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.FAILED and payment.finished_at is not None
    assert payment.failure_message and payment.stripe_session_id is None
    assert not stripe_on.requests_to("/v1/checkout/sessions", "POST")
    stripe_on.api_failure = None
    started = services.checkout_start(
        document=invoice, amount=None, return_urls=return_urls, customer_email=""
    )
    assert "customer_email" not in checkout_form(stripe_on)
    assert started.payment.status == PaymentStatus.CREATED


def test_checkout_above_stripes_maximum_the_customer_is_told_exactly_what_to_do(
    customer, connected, stripe_on
):
    big = one_line_invoice(customer, "1000000.01")  # no tax: two cents more than Stripe takes
    with pytest.raises(ServiceError) as whole:
        start_checkout(big)
    assert str(whole.value) == (
        "A single card payment can be at most $999,999.99, so this amount can't be paid by "
        "card. Please use one of the other ways to pay."
    )
    connected.allow_partial_payments = True
    connected.save()
    for amount in (None, Decimal("1000000.00")):  # the whole balance, or a part still too big
        with pytest.raises(ServiceError) as part:
            start_checkout(big, amount)
        assert str(part.value) == (
            "A single card payment can be at most $999,999.99. Pay in parts of up to "
            "$999,999.99, or use one of the other ways to pay."
        )
    assert not Payment.objects.exists()
    assert not stripe_on.requests_to("/v1/checkout/sessions", "POST")


def test_checkout_the_return_page_marks_the_attempt_returned_once_and_touches_it(
    invoice, connected, stripe_on, settings
):
    from billing.services import returns

    other = start_checkout(InvoiceFactory(customer=invoice.customer)).payment
    payment = start_checkout(invoice).payment
    settings.STRIPE_API_BASE = NOWHERE  # Stripe does not answer: the attempt is "returned"
    assert returns.attempt_return(payment=payment) == ""
    assert Payment.objects.get(pk=other.pk).returned_at is None  # another attempt: untouched
    row = Payment.objects.get(pk=payment.pk)
    assert row.returned_at is not None and row.updated_at == row.returned_at
    assert row.status == PaymentStatus.CREATED
    returns.attempt_return(payment=row)  # loaded again: the first return stands
    assert Payment.objects.get(pk=payment.pk).returned_at == row.returned_at
    # An attempt that is over (here: cancelled, it never got a session) is not "returned".
    Payment.objects.filter(pk=other.pk).update(status=PaymentStatus.CANCELLED)
    returns.attempt_return(payment=Payment.objects.get(pk=other.pk))
    assert Payment.objects.get(pk=other.pk).returned_at is None


@pytest.mark.parametrize(("minutes", "lifetime"), [(10, 32), (30, 32), (90, 90), (1440, 1438)])
def test_checkout_the_session_expires_as_set_kept_two_minutes_inside_stripes_range(
    invoice, connected, stripe_on, settings, minutes, lifetime
):
    settings.BILLING_CHECKOUT_EXPIRY_MINUTES = minutes
    before = int(time.time())
    start_checkout(invoice)
    after = int(time.time())
    expires = int(checkout_form(stripe_on)["expires_at"])
    assert before + lifetime * 60 - 1 <= expires <= after + lifetime * 60


def test_checkout_paying_again_while_stripe_fails_asks_about_the_newest_attempt_only(
    invoice, connected, stripe_on, caplog
):
    attempts = [start_checkout(invoice).payment for _ in range(3)]
    since = len(sessions_asked(stripe_on))
    stripe_on.api_failure = 500
    with (
        caplog.at_level(logging.WARNING, logger="billing.services.checkout"),
        pytest.raises(ServiceError, match="Online payment is not available right now"),
    ):
        services.checkout_start(
            document=invoice, amount=None, return_urls=return_urls, pay_again=True
        )
    assert sessions_asked(stripe_on, since) == [attempts[2].stripe_session_id]
    assert f"recheck of payment {attempts[2].public_id} failed: transient" in logged(caplog)


def test_checkout_each_refusal_tells_the_customer_exactly_why(customer, invoice, stripe_on):
    def refusal(document, amount=None) -> str:
        with pytest.raises(ServiceError) as refused:
            start_checkout(document, amount)
        return str(refused.value)

    assert refusal(invoice) == "Online payment is not available for this business."
    account = stripe_on.add_account()
    connected = StripeAccount.objects.create(
        company=customer.company,
        account_id=account["id"],
        charges_enabled=True,
        details_submitted=True,
    )
    assert refusal(one_line_invoice(customer, "0.49")) == (
        "The amount due is too small to pay by card."
    )
    assert refusal(invoice, Decimal("100.00")) == "Please pay the full amount of $1,356.00."
    connected.allow_partial_payments = True
    connected.minimum_partial_amount = Decimal("100.00")
    connected.save()
    assert refusal(invoice, Decimal("1356.01")) == (
        "That is more than the $1,356.00 due. Enter $1,356.00 or less."
    )
    assert refusal(invoice, Decimal("99.99")) == "The smallest partial payment is $100.00."
    assert not Payment.objects.exists()
    # A part typed to a fraction of a cent is rounded: here it is the whole balance.
    assert start_checkout(invoice, Decimal("1356.004")).payment.amount == Decimal("1356.00")
    assert checkout_form(stripe_on)["line_items"][0]["price_data"]["unit_amount"] == "135600"


def test_checkout_bank_debit_is_offered_with_stripes_automatic_account_verification(
    invoice, connected, stripe_on
):
    connected.accept_bank_debit = True
    connected.save()
    start_checkout(invoice)
    form = checkout_form(stripe_on)
    assert form["payment_method_types"] == ["card", "acss_debit"]
    assert form["payment_method_options"] == {
        "acss_debit": {
            "mandate_options": {
                "payment_schedule": "sporadic",
                "transaction_type": connected.bank_debit_transaction_type,
            },
            "verification_method": "automatic",
        }
    }


# Found by the fifth session's run of ``billing-checkout`` (checkout.py).


def test_checkout_a_part_of_exactly_stripes_maximum_or_exactly_the_smallest_part_is_taken(
    customer, connected, stripe_on
):
    connected.allow_partial_payments = True
    connected.minimum_partial_amount = Decimal("100.00")
    connected.save()
    big = one_line_invoice(customer, "1000000.01")  # no tax: two cents more than Stripe takes
    started = start_checkout(big, Decimal("999999.99"))
    assert started.payment.amount == Decimal("999999.99")
    assert checkout_form(stripe_on)["line_items"][0]["price_data"]["unit_amount"] == "99999999"
    small = one_line_invoice(customer, "250.00")
    started = start_checkout(small, Decimal("100.00"))
    assert started.payment.amount == Decimal("100.00")
    assert checkout_form(stripe_on)["line_items"][0]["price_data"]["unit_amount"] == "10000"


def test_checkout_while_stripe_cannot_say_what_became_of_an_earlier_attempt_nothing_starts(
    invoice, connected, stripe_on, caplog
):
    earlier = start_checkout(invoice).payment
    stripe_on.api_failure = 500
    with (
        caplog.at_level(logging.WARNING, logger="billing.services.checkout"),
        pytest.raises(ServiceError) as refused,
    ):
        start_checkout(invoice)
    assert str(refused.value) == (
        "We couldn't check your earlier payment attempt with our payment processor. "
        "Please try again in a few minutes."
    )
    assert f"recheck of payment {earlier.public_id} failed: transient" in logged(caplog)
    assert Payment.objects.get() == earlier  # no second attempt
    assert len(stripe_on.requests_to("/v1/checkout/sessions", "POST")) == 1


def test_checkout_the_attempt_is_touched_when_its_session_is_attached(
    invoice, connected, stripe_on
):
    stripe_on.stall("/v1/checkout/sessions", 0.5)  # Stripe takes half a second to answer
    started = start_checkout(invoice)
    row = Payment.objects.get()
    assert row.stripe_session_id == started.payment.stripe_session_id
    assert row.updated_at - row.created_at >= dt.timedelta(seconds=0.5)


def _stripe_refuses(monkeypatch, fake, path: str, message: str) -> None:
    """The fake answers POSTs to ``path`` with a 400 carrying ``message`` (Stripe's long
    parameter errors), everything else as usual."""
    from tests.fakes.stripe_server import StripeError

    answer = fake._call_api

    def refusing(request, path_args, handler):
        if request.method == "POST" and request.path == path:
            return StripeError(400, message).response()
        return answer(request, path_args, handler)

    monkeypatch.setattr(fake, "_call_api", refusing)


@pytest.mark.parametrize(
    ("save_card", "path"), [(False, "/v1/checkout/sessions"), (True, "/v1/customers")]
)
def test_checkout_a_long_refusal_from_stripe_is_kept_cut_to_300_characters(
    invoice, connected, stripe_on, monkeypatch, save_card, path
):
    _stripe_refuses(monkeypatch, stripe_on, path, "Invalid request: " + "x" * 400)
    with pytest.raises(ServiceError) as refused:
        services.checkout_start(
            document=invoice, amount=None, return_urls=return_urls, save_card=save_card
        )
    assert str(refused.value) == (
        "Online payment is not available right now. Please try again in a few minutes."
    )
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.FAILED and payment.stripe_session_id is None
    assert payment.failure_message == ("Invalid request: " + "x" * 400)[:300]


def test_checkout_the_tip_is_a_line_of_its_own_in_canadian_dollars(invoice, connected, stripe_on):
    connected.tips_enabled = True
    connected.save()
    checkout_with_tip(invoice, "20.00")
    items = checkout_form(stripe_on)["line_items"]
    assert items[1] == {
        "price_data": {
            "currency": "cad",
            "unit_amount": "2000",
            "product_data": {"name": "Tip for Maple Plumbing"},
        },
        "quantity": "1",
    }
    assert items[0]["price_data"]["unit_amount"] == "135600"


def test_checkout_each_tip_refusal_tells_the_customer_exactly_why(
    customer, invoice, signed_estimate, connected, stripe_on
):
    def refusal(document, tip: str) -> str:
        with pytest.raises(ServiceError) as refused:
            checkout_with_tip(document, tip)
        return str(refused.value)

    assert refusal(invoice, "5.00") == "This business doesn't take tips online."
    connected.tips_enabled = True
    connected.save()
    assert refusal(signed_estimate, "5.00") == "This business doesn't take tips online."
    assert refusal(invoice, "-0.01") == "A tip can't be negative."
    assert refusal(invoice, "1356.01") == "A tip can be at most $1,356.00 here."
    big = one_line_invoice(customer, "999000.00")
    assert refusal(big, "1000.00") == "This amount is too large for one card payment."
    assert not Payment.objects.exists()


# --- billing-checkout: what its seventh-session run left alive ----------------------------------
# ``checkout._attempt_create`` (the code refusal, one account read) and ``_attempt_fail`` /
# ``attempt_abandon``: which attempts are given up on, when,
# and that they write only the fields they change. The return page (``returns._mark_returned``)
# and checkout's session-id write take no document lock, so they may commit while either holds
# it between reading the attempt and saving it: a whole-row save would write back what it read.


def _return_page_meanwhile(monkeypatch) -> list[str]:
    """After ``checkout.lock_payment`` has read the attempt (document locked), the customer's
    return page marks the attempt returned on its own connection and commits, before the
    locked section goes on. Returns what the return page answered."""
    import threading

    from django.db import connections

    from billing.services import checkout

    original = checkout.lock_payment
    answers: list[str] = []
    errors: list[BaseException] = []

    def return_page(pk: int) -> None:
        try:
            answers.append(services.attempt_return(payment=Payment.objects.get(pk=pk)))
        except BaseException as error:  # handed to the test thread
            errors.append(error)
        finally:
            connections.close_all()

    def locked_then_returned(payment_id, **kwargs):
        result = original(payment_id, **kwargs)
        thread = threading.Thread(target=return_page, args=(payment_id,))
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the return page waited for the document lock"
        if errors:
            raise errors[0]
        return result

    monkeypatch.setattr(checkout, "lock_payment", locked_then_returned)
    return answers


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_checkout_failing_an_attempt_keeps_the_return_it_did_not_read(
    invoice, connected, settings, monkeypatch
):
    settings.STRIPE_API_BASE = NOWHERE
    answers = _return_page_meanwhile(monkeypatch)
    with pytest.raises(ServiceError) as refused:
        start_checkout(invoice)
    assert str(refused.value) == (
        "Online payment is not available right now. Please try again in a few minutes."
    )
    assert answers == [""]  # no session to ask Stripe about: marked returned
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.FAILED and payment.failure_message
    assert payment.finished_at is not None
    assert payment.returned_at is not None  # written while the attempt was being failed


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_checkout_abandoning_an_attempt_keeps_the_return_it_did_not_read(
    invoice, connected, monkeypatch
):
    started = start_checkout(invoice)
    Payment.objects.filter(pk=started.payment.pk).update(stripe_session_id=None)  # never saved
    answers = _return_page_meanwhile(monkeypatch)
    services.attempt_abandon(payment=Payment.objects.get(pk=started.payment.pk))
    assert answers == [""]
    payment = Payment.objects.get(pk=started.payment.pk)
    assert payment.status == PaymentStatus.CANCELLED and payment.finished_at is not None
    assert payment.returned_at is not None  # written while the attempt was being abandoned


def test_checkout_abandon_cancels_only_a_waiting_attempt_without_a_session_and_stamps_its_end(
    invoice, connected, stripe_on, settings
):
    from django.utils import timezone as django_timezone

    # Waiting, with a session: the customer has a page to pay on.
    open_ = start_checkout(invoice).payment
    kept = services.attempt_abandon(payment=open_)
    assert kept.status == PaymentStatus.CREATED and kept.finished_at is None
    assert Payment.objects.get(pk=open_.pk).status == PaymentStatus.CREATED

    # Waiting, without a session (the process died before saving it): cancelled, stamped now.
    Payment.objects.filter(pk=open_.pk).update(stripe_session_id=None)
    before = django_timezone.now()
    cancelled = services.attempt_abandon(payment=open_)
    after = django_timezone.now()
    stored = Payment.objects.get(pk=open_.pk)
    assert cancelled.status == stored.status == PaymentStatus.CANCELLED
    assert stored.finished_at is not None and before <= stored.finished_at <= after
    assert cancelled.finished_at == stored.finished_at

    # Failed, without a session (Stripe did not answer): it stays failed, as it ended.
    settings.STRIPE_API_BASE = NOWHERE
    other = InvoiceFactory(customer=invoice.customer)
    with pytest.raises(ServiceError):
        start_checkout(other)
    failed = Payment.objects.get(invoice=other)
    assert failed.status == PaymentStatus.FAILED and failed.stripe_session_id is None
    again = services.attempt_abandon(payment=failed)
    stored = Payment.objects.get(pk=failed.pk)
    assert again.status == stored.status == PaymentStatus.FAILED
    assert (stored.finished_at, stored.failure_message) == (
        failed.finished_at,
        failed.failure_message,
    )


def test_checkout_a_code_asked_for_and_not_given_is_refused_in_words_before_anything_is_written(
    invoice, connected, stripe_on
):
    from portal import stepup

    invoice.company.step_up_required = True
    invoice.company.save()
    with pytest.raises(stepup.CodeRefused) as refused:
        start_checkout(invoice)
    assert str(refused.value) == "Enter the code we sent you first."
    assert not Payment.objects.exists()
    assert not stripe_on.requests_to("/v1/checkout/sessions")


def test_checkout_the_stripe_account_read_for_the_charge_serves_for_the_tip_too(
    invoice, connected, stripe_on
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    document = Invoice.objects.get(pk=invoice.pk)  # its company's account not loaded yet
    with CaptureQueriesContext(connection) as queries:
        start_checkout(document)
    table = StripeAccount._meta.db_table
    reads = [
        q["sql"] for q in queries if q["sql"].startswith("SELECT") and f'"{table}"' in q["sql"]
    ]
    # Once for what can be charged (and a tip), once for the bank-debit offer; never again.
    assert len(reads) == 2, reads


# --- billing-state/refunds ---
# --- billing-refunds (this session) ---
# ``manual.deposit_credit_apply`` (the deposit credited when an estimate becomes an invoice),
# what a refund says when Stripe does not answer or refuses at length (``refunds.refund_create``),
# and reading the company's Stripe account again (``connect.stripe_account_refresh``).


def _deposit_by_hand(estimate: Estimate, amount: str, day: dt.date = SIGNED) -> Payment:
    return services.payment_record(
        actor=Actor.system(),
        estimate=estimate,
        amount=Decimal(amount),
        method=PaymentMethod.ETRANSFER,
        received_on=day,
    )


CREDIT_FIELDS = (
    "amount_paid",
    "deposit_credit",
    "status",
    "updated_at",
    "prepaid_amount",
    "prepaid_on",
    "subtotal",
    "tax_total",
    "total",
)


def _as_stored(invoice: Invoice) -> dict:
    stored = Invoice.objects.get(pk=invoice.pk)
    return {name: getattr(stored, name) for name in CREDIT_FIELDS}


def test_converting_credits_the_deposit_at_its_tax_point_and_returns_the_invoice_as_stored(
    ns_estimate, customer
):
    """$1,000.00 in Nova Scotia; $287.50 deposit received 2025-03-28, at 15 %: $250.00 of work
    and $37.50 of tax. The invoice (dated today, 14 %) taxes the other $750.00 at 14 %:
    $105.00. Tax $142.50, total $1,142.50, all of the deposit credited."""
    paid = _deposit_by_hand(ns_estimate, "287.50")
    other = signed_ns_estimate(customer)  # another estimate's deposit stays where it is
    elsewhere = _deposit_by_hand(other, "100.00")
    before = Payment.objects.get(pk=paid.pk).updated_at

    invoice = services.estimate_convert(estimate=ns_estimate, actor=Actor.system())

    # The object the conversion returns is the stored row, not the one made before the credit.
    mine = {name: getattr(invoice, name) for name in CREDIT_FIELDS}
    assert mine == _as_stored(invoice)
    assert mine["deposit_credit"] == Decimal("287.50")
    assert (mine["prepaid_amount"], mine["prepaid_on"]) == (Decimal("287.50"), SIGNED)
    assert (mine["subtotal"], mine["tax_total"], mine["total"]) == (
        Decimal("1000.00"),
        Decimal("142.50"),
        Decimal("1142.50"),
    )
    assert (mine["amount_paid"], mine["status"]) == (Decimal("0.00"), "draft")
    assert invoice.balance == Decimal("855.00")

    paid = Payment.objects.get(pk=paid.pk)
    assert paid.invoice_id == invoice.pk and paid.updated_at > before
    assert Payment.objects.get(pk=elsewhere.pk).invoice_id is None
    (credited,) = timeline("deposit.credited")
    assert (credited.target_id, credited.actor_kind, credited.actor_user) == (
        invoice.pk,
        "system",
        None,
    )
    assert credited.data == {"number": invoice.display_number, "amount": "$287.50"}


@pytest.mark.parametrize(("amount", "shown"), [("1.00", "$1.00"), ("0.75", "$0.75")])
def test_a_deposit_of_a_dollar_or_less_is_credited_and_noted(signed_estimate, amount, shown):
    from django.utils import timezone

    _deposit_by_hand(signed_estimate, amount, timezone.localdate())
    invoice = services.estimate_convert(estimate=signed_estimate, actor=Actor.system())
    assert invoice.deposit_credit == Decimal(amount)
    (credited,) = timeline("deposit.credited")
    assert credited.data["amount"] == shown


def test_no_deposit_no_credit_and_nothing_noted(signed_estimate):
    invoice = services.estimate_convert(estimate=signed_estimate, actor=Actor.system())
    assert invoice.deposit_credit == 0
    assert timeline("deposit.credited") == []


def test_crediting_again_brings_the_callers_invoice_up_to_date_and_notes_nothing_new(
    ns_estimate, owner
):
    """``deposit_credit_apply`` recomputes (it does not add) and leaves the invoice object it
    was given as stored, however old that object was."""
    from django.db import transaction
    from django.utils import timezone

    _deposit_by_hand(ns_estimate, "287.50")
    invoice = services.estimate_convert(estimate=ns_estimate, actor=Actor.system())
    stale = Invoice.objects.get(pk=invoice.pk)
    # Since it was read: a line added ($200.00, 14 %: $28.00) and a cheque of $100.00.
    documents.line_save(
        doc=Invoice.objects.get(pk=invoice.pk),
        actor=Actor.member(owner.user),
        fields={"description": "Railing", "quantity": Decimal("1"), "unit_price": Decimal("200")},
    )
    services.payment_record(
        actor=Actor.system(),
        invoice=Invoice.objects.get(pk=invoice.pk),
        amount=Decimal("100.00"),
        method=PaymentMethod.CHEQUE,
        received_on=timezone.localdate(),
    )
    old = {name: getattr(stale, name) for name in CREDIT_FIELDS}
    assert (old["subtotal"], old["amount_paid"], old["status"]) == (
        Decimal("1000.00"),
        Decimal("0.00"),
        "draft",
    )
    with transaction.atomic():
        credit = services.deposit_credit_apply(invoice=stale, estimate=ns_estimate)
    assert credit == Decimal("287.50")
    now = {name: getattr(stale, name) for name in CREDIT_FIELDS}
    assert now == _as_stored(stale)
    assert (now["subtotal"], now["tax_total"], now["total"]) == (
        Decimal("1200.00"),
        Decimal("170.50"),
        Decimal("1370.50"),
    )
    assert (now["amount_paid"], now["status"]) == (Decimal("100.00"), "partially_paid")
    assert (now["prepaid_amount"], now["prepaid_on"]) == (Decimal("287.50"), SIGNED)
    assert now["updated_at"] > old["updated_at"]
    assert len(timeline("deposit.credited")) == 1  # the same credit: not noted again


def test_the_deposit_is_credited_only_to_the_invoice_its_estimate_became(
    ns_estimate, signed_estimate
):
    """Another estimate's invoice, or the estimate's voided invoice once it was converted
    again, is refused in words, and nothing is credited."""
    from django.db import transaction

    from documents.models import InvoiceStatus

    _deposit_by_hand(ns_estimate, "287.50")
    first = services.estimate_convert(estimate=ns_estimate, actor=Actor.system())
    Invoice.objects.filter(pk=first.pk).update(status=InvoiceStatus.VOID)
    second = services.estimate_convert(estimate=ns_estimate, actor=Actor.system())
    assert second.pk != first.pk and second.deposit_credit == Decimal("287.50")
    another = services.estimate_convert(estimate=signed_estimate, actor=Actor.system())
    noted = len(timeline("deposit.credited"))
    for invoice in (Invoice.objects.get(pk=first.pk), another):
        with pytest.raises(ServiceError) as refused, transaction.atomic():
            services.deposit_credit_apply(invoice=invoice, estimate=ns_estimate)
        assert str(refused.value) == "This invoice was not made from that estimate."
    assert Payment.objects.get(estimate=ns_estimate).invoice_id == second.pk
    assert len(timeline("deposit.credited")) == noted


@pytest.mark.django_db(transaction=True)
def test_crediting_a_deposit_outside_a_transaction_is_refused(ns_estimate):
    invoice = services.estimate_convert(estimate=ns_estimate, actor=Actor.system())
    with pytest.raises(RuntimeError) as refused:
        services.deposit_credit_apply(invoice=invoice, estimate=ns_estimate)
    assert str(refused.value) == (
        "deposit_credit_apply must run inside the conversion's transaction"
    )


def test_a_refund_stripe_does_not_answer_stays_pending_and_says_so(invoice, connected, stripe_on):
    payment = paid_by_card(invoice, connected, stripe_on)
    stripe_on.api_failure = 500
    with pytest.raises(ServiceError) as refused:
        services.refund_create(payment=payment, amount=Decimal("10.00"), actor=Actor.system())
    assert str(refused.value) == (
        "Stripe did not answer. The refund will be checked again in a few minutes."
    )
    refund = Refund.objects.get()
    assert (refund.status, refund.stripe_refund_id, refund.amount) == (
        RefundStatus.PENDING,
        None,
        Decimal("10.00"),
    )
    assert Payment.objects.get(pk=payment.pk).amount_refunded == 0


def test_stripes_refusal_is_cut_to_200_characters_in_the_message(
    invoice, connected, stripe_on, monkeypatch
):
    payment = paid_by_card(invoice, connected, stripe_on)
    reason = "The bank declined this refund because " + "x" * 200 + " (end)"

    def refuse(**kwargs):
        raise stripe_client.StripeFailure(reason, permanent=True, code="refund_declined")

    monkeypatch.setattr(stripe_client, "refund_create", refuse)
    with pytest.raises(ServiceError) as refused:
        services.refund_create(payment=payment, amount=Decimal("10.00"), actor=Actor.system())
    assert str(refused.value) == "Stripe refused the refund: " + reason[:200]
    assert Refund.objects.get().status == RefundStatus.FAILED


def test_reading_the_stripe_account_again_keeps_what_stripe_says_now(company, owner, stripe_on):
    data = stripe_on.add_account(charges_enabled=False, details_submitted=False)
    StripeAccount.objects.create(company=company, account_id=data["id"])
    stripe_on.complete_onboarding(data["id"], send_webhook=False)
    account = services.stripe_account_refresh(company=company, actor=Actor.member(owner.user))
    assert account is not None and account.account_id == data["id"]
    assert account.charges_enabled and account.details_submitted
    row = StripeAccount.objects.get(company=company)
    assert row.charges_enabled and row.details_submitted


def test_reading_again_without_an_account_asks_stripe_nothing(company, owner, stripe_on):
    assert services.stripe_account_refresh(company=company, actor=Actor.system()) is None
    StripeAccount.objects.create(company=company, account_id=None)
    account = services.stripe_account_refresh(company=company, actor=Actor.system())
    assert account is not None and account.account_id is None
    assert stripe_on.requests_to("/v1/accounts") == []


def test_stripes_account_update_is_kept_with_the_time_it_came(connected, stripe_on):
    """``account.updated`` through the webhook worker: the row says what changed and when."""
    from billing import webhooks
    from tests.billing.conftest import store_event

    before = StripeAccount.objects.get(pk=connected.pk).updated_at
    data = {**stripe_on.get(connected.account_id), "charges_enabled": False}
    pk = store_event(stripe_on.build_event("account.updated", data, account=connected.account_id))
    assert webhooks.event_process(event_pk=pk) == "applied"
    row = StripeAccount.objects.get(pk=connected.pk)
    assert (row.charges_enabled, row.details_submitted) == (False, True)
    assert row.updated_at > before


def test_reading_the_account_again_when_stripe_does_not_answer_says_so(
    company, owner, connected, stripe_on
):
    stripe_on.api_failure = 500
    with pytest.raises(ServiceError) as refused:
        services.stripe_account_refresh(company=company, actor=Actor.system())
    assert str(refused.value) == "Stripe did not answer. Please try again."


# What ``scripts/mutation billing-state`` and ``billing-refunds`` left alive: the event queue's
# clock (``services.events``), the ledger's sums and locks, applying Stripe's state, refunds.

T0 = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock(monkeypatch):
    """The queue's clock stopped at ``T0`` (so that its boundaries can be tested to the
    microsecond): ``clock.now`` moves it."""

    class Clock:
        now = T0

    from django.utils import timezone as django_timezone

    monkeypatch.setattr(django_timezone, "now", lambda: Clock.now)
    return Clock


def _queued(event_id: str, **fields) -> int:
    pk = services.event_store(event=_stored(event_id, "acct_q", {"id": event_id}))
    assert pk is not None
    if fields:
        StripeEvent.objects.filter(pk=pk).update(**fields)
    return pk


def test_the_retry_wait_doubles_from_ten_seconds_up_to_an_hour():
    waits = [services.events.backoff(n).total_seconds() for n in range(0, 14)]
    assert waits == [10, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600, 3600]


def test_a_claim_is_given_up_a_minute_after_the_task_time_limit(settings):
    settings.CELERY_TASK_TIME_LIMIT = 100
    assert services.events.lease() == dt.timedelta(seconds=160)


def test_an_event_is_claimed_once_its_retry_time_has_come_to_the_microsecond(db, clock):
    early = _queued("evt_early", retry_at=T0 + dt.timedelta(microseconds=1))
    due = _queued("evt_due", retry_at=T0, attempts=3)
    fresh = _queued("evt_fresh")
    assert services.event_claim(event_pk=early) is None
    row = StripeEvent.objects.get(pk=early)
    assert (row.status, row.attempts, row.claimed_at) == ("received", 0, None)

    claim, row = services.event_claim(event_pk=due)
    assert (claim.pk, claim.claimed_at) == (due, T0)
    assert (row.pk, row.status, row.attempts, row.claimed_at) == (due, "processing", 4, T0)
    assert services.event_claim(event_pk=due) is None  # taken
    assert StripeEvent.objects.get(pk=due).attempts == 4

    claim, row = services.event_claim(event_pk=fresh)
    assert row.event_id == "evt_fresh" and row.attempts == 1
    for status in ("applied", "failed", "ignored", "rejected"):
        StripeEvent.objects.filter(pk=fresh).update(status=status, retry_at=None)
        assert services.event_claim(event_pk=fresh) is None
        assert StripeEvent.objects.get(pk=fresh).status == status


def test_an_outcome_is_written_only_under_its_own_claim(db, clock):
    pk = _queued("evt_out")
    claim, _row = services.event_claim(event_pk=pk)
    stale = services.events.Claim(pk=pk, claimed_at=T0 - dt.timedelta(microseconds=1))
    other = _queued("evt_other")
    assert not services.event_finish(claim=stale, status=EventStatus.IGNORED, error="stale")
    assert not services.event_finish(
        claim=services.events.Claim(pk=other, claimed_at=T0), status=EventStatus.IGNORED
    )
    assert StripeEvent.objects.get(pk=other).status == "received"
    row = StripeEvent.objects.get(pk=pk)
    assert (row.status, row.last_error, row.processed_at) == ("processing", "", None)

    clock.now = T0 + dt.timedelta(seconds=5)
    retry = T0 + dt.timedelta(minutes=1)
    StripeEvent.objects.filter(pk=pk).update(requeued_at=T0)
    token = "B" * 43
    error = f"ConnectionError: GET /p/{token}/ " + "x" * 600
    assert services.event_finish(
        claim=claim, status=EventStatus.RECEIVED, error=error, retry_at=retry
    )
    row = StripeEvent.objects.get(pk=pk)
    assert (row.status, row.retry_at, row.requeued_at, row.processed_at) == (
        "received",
        retry,
        None,
        None,
    )
    assert len(row.last_error) == 500 and token not in row.last_error
    assert row.last_error.startswith("ConnectionError: GET /p/")
    # The row is received again: this claim no longer holds it.
    assert not services.event_finish(claim=claim, status=EventStatus.FAILED, error="late")

    assert services.event_claim(event_pk=pk) is None  # at T0 + 5 s: not its retry time yet
    clock.now = retry
    claim, _row = services.event_claim(event_pk=pk)
    clock.now = retry + dt.timedelta(seconds=1)
    assert services.event_finish(claim=claim, status=EventStatus.IGNORED, error="not ours")
    row = StripeEvent.objects.get(pk=pk)
    assert (row.status, row.last_error, row.processed_at) == (
        "ignored",
        "not ours",
        retry + dt.timedelta(seconds=1),
    )


def test_the_sweep_hands_over_what_waited_past_its_grace_oldest_first(db, clock, settings):
    settings.CELERY_TASK_TIME_LIMIT = 100  # a lease of 160 s
    grace, again = dt.timedelta(seconds=30), dt.timedelta(seconds=120)
    tick = dt.timedelta(microseconds=1)
    old = _queued("evt_old", received_at=T0 - dt.timedelta(hours=2))
    at_grace = _queued("evt_at_grace", received_at=T0 - grace)
    past_grace = _queued("evt_past_grace", received_at=T0 - grace - tick)
    retry_at_grace = _queued(
        "evt_retry_at_grace", received_at=T0 - dt.timedelta(hours=1), retry_at=T0 - grace
    )
    _queued("evt_retry_soon", received_at=T0 - dt.timedelta(hours=1), retry_at=T0 - grace + tick)
    _queued("evt_retry_later", received_at=T0 - dt.timedelta(hours=1), retry_at=T0 + grace)
    handed_at_again = _queued(
        "evt_handed_at_again", received_at=T0 - dt.timedelta(minutes=90), requeued_at=T0 - again
    )
    _queued(
        "evt_handed_lately",
        received_at=T0 - dt.timedelta(minutes=80),
        requeued_at=T0 - again + tick,
    )
    for status in ("applied", "failed", "ignored", "rejected"):
        _queued(f"evt_{status}", received_at=T0 - dt.timedelta(hours=3), status=status)
    abandoned = _queued(
        "evt_abandoned",
        received_at=T0 - dt.timedelta(minutes=70),
        status="processing",
        claimed_at=T0 - dt.timedelta(seconds=160) - tick,
        requeued_at=T0 - dt.timedelta(hours=1),
    )
    _queued(
        "evt_working",
        received_at=T0 - dt.timedelta(minutes=60),
        status="processing",
        claimed_at=T0 - dt.timedelta(seconds=160),
    )
    assert services.events_due() == [old, handed_at_again, abandoned, retry_at_grace, past_grace]
    assert at_grace not in services.events_due()
    statuses = dict(StripeEvent.objects.values_list("event_id", "status"))
    assert statuses["evt_abandoned"] == "received" and statuses["evt_working"] == "processing"
    assert StripeEvent.objects.get(pk=abandoned).requeued_at is None
    assert services.events_due(limit=2) == [old, handed_at_again]


def test_handing_events_over_marks_only_those_still_waiting(db, clock):
    waiting, other = _queued("evt_waiting"), _queued("evt_other_waiting")
    done = _queued("evt_done", status="applied")
    services.events_requeued(pks=[waiting, done])
    rows = {row.pk: row for row in StripeEvent.objects.all()}
    assert rows[waiting].requeued_at == T0
    assert rows[done].requeued_at is None and rows[other].requeued_at is None


# Two writers at once (PostgreSQL, real threads: ``tests.billing.races``). The document's row
# lock (``ledger.lock_documents``, taken by ``lock_payment``) is what keeps these apart.


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_refunds_of_one_payment_at_once_never_give_back_more_than_it_paid(invoice, monkeypatch):
    from billing.services import refunds
    from tests.billing.races import Rendezvous, race, refused

    paid = PaymentFactory(invoice=invoice, amount="100.00", method=PaymentMethod.ETRANSFER)
    meeting = Rendezvous()
    meeting.hold(monkeypatch, refunds, "quantize_money")  # after the lock, before the check
    give_back = refused(
        lambda: services.refund_create(payment=paid, amount=Decimal("60.00"), actor=Actor.system())
    )

    results = race(meeting, give_back, give_back)

    assert sorted(type(r).__name__ for r in results) == ["Refund", "ServiceError"]
    refused = next(r for r in results if isinstance(r, ServiceError))
    assert "at most $40.00" in str(refused)
    assert list(Refund.objects.values_list("amount", flat=True)) == [Decimal("60.00")]
    assert Payment.objects.get(pk=paid.pk).amount_refunded == Decimal("60.00")
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.amount_paid, invoice.balance) == (Decimal("40.00"), Decimal("1316.00"))
    assert meeting.excluded and not meeting.met


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_payments_recorded_on_one_invoice_at_once_refuse_the_overpayment(invoice, monkeypatch):
    from billing.services import manual
    from tests.billing.races import Rendezvous, race, refused

    meeting = Rendezvous()
    meeting.hold(monkeypatch, manual, "_check_manual_fits")
    record = refused(
        lambda: PaymentFactory(invoice=invoice, amount="1000.00", method=PaymentMethod.CHEQUE)
    )

    results = race(meeting, record, record)

    assert sorted(type(r).__name__ for r in results) == ["Payment", "ServiceError"]
    refused = next(r for r in results if isinstance(r, ServiceError))
    assert "more than the balance of $356.00" in str(refused)
    assert Payment.objects.count() == 1
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.amount_paid, invoice.balance) == (Decimal("1000.00"), Decimal("356.00"))
    assert meeting.excluded and not meeting.met


def test_money_received_by_hand_is_recorded_as_entered_with_a_days_grace_for_the_date(
    invoice, owner, django_capture_on_commit_callbacks
):
    from django.utils import timezone as django_timezone

    today = django_timezone.localdate()
    with pytest.raises(ServiceError, match="future"):
        PaymentFactory(invoice=invoice, received_on=today + dt.timedelta(days=2))
    with pytest.raises(ServiceError, match="Choose an invoice or an estimate"):
        PaymentFactory(invoice=None, estimate=None)
    with pytest.raises(ServiceError, match="Choose how the money was received"):
        PaymentFactory(invoice=invoice, method="bitcoin")
    with pytest.raises(ServiceError, match="greater than zero"):
        PaymentFactory(invoice=invoice, amount="0.004")  # rounds to $0.00
    with pytest.raises(ServiceError, match="greater than zero"):
        PaymentFactory(invoice=invoice, amount="-5.00")
    assert not Payment.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        payment = PaymentFactory(
            invoice=invoice,
            amount="100.005",  # half a cent rounds up
            method=PaymentMethod.CHEQUE,
            received_on=today + dt.timedelta(days=1),  # tomorrow: another time zone's today
            reference="  " + "R" * 120 + "  ",
            note="  " + "n" * 600,
            actor=Actor.member(owner.user),
        )
    payment = Payment.objects.get(pk=payment.pk)
    assert (payment.amount, payment.method, payment.received_on) == (
        Decimal("100.01"),
        PaymentMethod.CHEQUE,
        today + dt.timedelta(days=1),
    )
    assert (payment.company_id, payment.customer_id, payment.invoice_id, payment.estimate_id) == (
        invoice.company_id,
        invoice.customer_id,
        invoice.pk,
        None,
    )
    assert (payment.purpose, payment.status, payment.applied) == ("invoice", "succeeded", True)
    assert payment.reference == "R" * 100 and payment.note == "n" * 500
    assert payment.created_by == owner.user
    assert payment.succeeded_at is not None and payment.finished_at == payment.succeeded_at
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.amount_paid, invoice.balance, invoice.status) == (
        Decimal("100.01"),
        Decimal("1255.99"),
        "partially_paid",
    )
    (entry,) = timeline("payment.recorded")
    assert entry.data["method"] == "Cheque" and entry.data["amount"] == "$100.01"
    assert entry.actor_kind == "member"
    receipts = [m for m in mail.outbox if m.to == [invoice.customer.email]]
    assert len(receipts) == 1 and "$100.01" in receipts[0].body


def test_a_deposit_received_by_hand_is_recorded_on_the_estimate_until_it_is_paid(
    signed_estimate,
):
    # $2,000.00 + 13 % = $2,260.00; a 25 % deposit: $565.00.
    with pytest.raises(ServiceError, match=r"more than the deposit due of \$565.00"):
        PaymentFactory(estimate=signed_estimate, amount="565.01")
    first = PaymentFactory(estimate=signed_estimate, amount="500.00")
    assert (first.purpose, first.estimate_id, first.invoice_id) == (
        "deposit",
        signed_estimate.pk,
        None,
    )
    assert first.customer_id == signed_estimate.customer_id
    with pytest.raises(ServiceError, match=r"deposit due of \$65.00"):
        PaymentFactory(estimate=signed_estimate, amount="65.01")
    PaymentFactory(estimate=signed_estimate, amount="65.00")
    with pytest.raises(ServiceError, match="The deposit is paid"):
        PaymentFactory(estimate=signed_estimate, amount="0.01")
    invoice = services.estimate_convert(estimate=signed_estimate, actor=Actor.system())
    with pytest.raises(ServiceError, match="has been invoiced"):
        PaymentFactory(estimate=signed_estimate, amount="0.01")
    assert Invoice.objects.get(pk=invoice.pk).deposit_credit == Decimal("565.00")
    assert Payment.objects.count() == 2


def test_a_payment_can_move_only_to_its_customers_other_open_invoices_newest_first(
    customer, job, company
):
    from billing.services import transfers
    from tests.factories import CompanyFactory, CustomerFactory

    source = InvoiceFactory(customer=customer, job=job)
    payment = PaymentFactory(invoice=source, amount="100.00")
    older, newer = InvoiceFactory(customer=customer, job=job), InvoiceFactory(customer=customer)
    part_paid, viewed = InvoiceFactory(customer=customer), InvoiceFactory(customer=customer)
    PaymentFactory(invoice=part_paid, amount="1.00")
    Invoice.objects.filter(pk=viewed.pk).update(status="viewed")
    paid = InvoiceFactory(customer=customer)
    PaymentFactory(invoice=paid, amount="1356.00")
    InvoiceFactory(customer=customer, sent=False)  # a draft
    void = InvoiceFactory(customer=customer)
    Invoice.objects.filter(pk=void.pk).update(status="void")
    InvoiceFactory(customer=CustomerFactory(company=company))  # another customer's
    other_company = CompanyFactory()
    InvoiceFactory(customer=CustomerFactory(company=other_company), company=other_company)
    # Newest first by creation time (not by id); at the same time, the later id first.
    Invoice.objects.filter(pk__in=[part_paid.pk, viewed.pk]).update(created_at=newer.created_at)
    Invoice.objects.filter(pk=older.pk).update(
        created_at=newer.created_at + dt.timedelta(seconds=1)
    )

    targets = transfers.move_targets(payment=payment)

    assert [i.pk for i in targets] == [older.pk, viewed.pk, part_paid.pk, newer.pk]
    assert [i.pk for i in transfers.move_targets(payment=Payment(purpose="deposit"))] == []


def _paid_twice(invoice, connected, stripe_on) -> tuple[Payment, Payment]:
    """Two card payments of the whole invoice: the first applied, the second flagged."""
    attempts = [start_checkout(invoice).payment for _ in range(2)]
    for attempt in attempts:
        stripe_on.complete_session(attempt.stripe_session_id, send_webhook=False)
        services.stripe_state_apply(
            payment_id=attempt.pk,
            session=stripe_client.checkout_session_retrieve(
                account=connected.account_id, session_id=attempt.stripe_session_id
            ),
        )
    first, second = (Payment.objects.get(pk=attempt.pk) for attempt in attempts)
    assert first.applied and not second.applied
    return first, second


def test_a_duplicate_is_refunded_automatically_only_when_the_company_opted_in(
    invoice, connected, stripe_on
):
    applied, flagged = _paid_twice(invoice, connected, stripe_on)
    assert services.duplicate_refund(payment=flagged) is None  # not opted in
    StripeAccount.objects.filter(pk=connected.pk).update(refund_duplicate_payments=True)
    assert services.duplicate_refund(payment=applied) is None  # the applied one is not a duplicate
    assert not Refund.objects.exists() and not stripe_on.requests_to("/v1/refunds")

    refund = services.duplicate_refund(payment=flagged)

    assert refund is not None and refund.payment_id == flagged.pk
    assert (refund.amount, refund.status, refund.automatic) == (
        Decimal("1356.00"),
        RefundStatus.SUCCEEDED,
        True,
    )
    assert refund.reason == "Duplicate payment, refunded automatically"
    sent = stripe_on.last_request("/v1/refunds", "POST")
    assert sent.form["reason"] == "duplicate" and sent.form["amount"] == "135600"
    assert services.duplicate_refund(payment=flagged) is None  # done already
    assert Refund.objects.count() == 1 and len(stripe_on.requests_to("/v1/refunds", "POST")) == 1
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.amount_paid, invoice.balance) == (Decimal("1356.00"), Decimal("0.00"))


def test_a_duplicate_whose_automatic_refund_failed_is_refunded_again(invoice, connected, stripe_on):
    _applied, flagged = _paid_twice(invoice, connected, stripe_on)
    StripeAccount.objects.filter(pk=connected.pk).update(refund_duplicate_payments=True)
    Refund.objects.create(
        company=flagged.company,
        payment=flagged,
        amount=flagged.amount,
        status=RefundStatus.FAILED,
        automatic=True,
    )
    refund = services.duplicate_refund(payment=flagged)
    assert refund is not None and refund.status == RefundStatus.SUCCEEDED
    assert Payment.objects.get(pk=flagged.pk).amount_refunded == Decimal("1356.00")


def test_no_automatic_refund_without_a_stripe_account_or_for_money_not_received(
    invoice, customer, connected, stripe_on
):
    started = start_checkout(InvoiceFactory(customer=customer))
    StripeAccount.objects.filter(pk=connected.pk).update(refund_duplicate_payments=True)
    Payment.objects.filter(pk=started.payment.pk).update(applied=False)
    assert services.duplicate_refund(payment=started.payment) is None  # never went through
    _applied, flagged = _paid_twice(invoice, connected, stripe_on)
    StripeAccount.objects.all().delete()
    assert services.duplicate_refund(payment=flagged) is None
    assert not Refund.objects.exists() and not stripe_on.requests_to("/v1/refunds")


def test_a_refund_asked_by_a_person_says_requested_by_customer_and_stripes_refusal_in_full(
    invoice, connected, stripe_on, owner
):
    payment = paid_by_card(invoice, connected, stripe_on)
    refund = services.refund_create(
        payment=payment,
        amount=Decimal("10.00"),
        actor=Actor.member(owner.user),
        reason="  Scratched door  ",
    )
    assert refund.reason == "Scratched door" and refund.created_by == owner.user
    assert not refund.automatic
    sent = stripe_on.last_request("/v1/refunds", "POST")
    assert sent.form["reason"] == "requested_by_customer"
    assert sent.form["metadata"] == {"cc_refund": refund.public_id, "cc_payment": payment.public_id}
    assert sent.form["payment_intent"] == payment.stripe_payment_intent_id

    with pytest.raises(ServiceError, match=r"at most \$1,346.00") as refused:
        services.refund_create(payment=payment, amount=Decimal("1346.01"), actor=Actor.system())
    assert str(refused.value) == "You can refund at most $1,346.00 on this payment."
    with pytest.raises(ServiceError) as refused:
        services.refund_create(
            payment=payment, amount=Decimal("5.00"), actor=Actor.system(), kind="x"
        )
    assert str(refused.value) == "Choose what the refund does to the balance."
    with pytest.raises(ServiceError) as refused:
        services.refund_create(payment=payment, amount=Decimal("0.004"), actor=Actor.system())
    assert str(refused.value) == "Enter an amount greater than zero."


def test_a_dashboard_refund_reaching_into_the_tip_takes_back_no_more_than_the_invoice_got(
    invoice, connected, stripe_on, stripe_client
):
    connected.tips_enabled = True
    connected.save()
    started = services.checkout_start(
        document=invoice, amount=None, return_urls=return_urls, tip=Decimal("100.00")
    )
    stripe_on.complete_session(started.payment.stripe_session_id, send_webhook=False)
    payment = Payment.objects.get(pk=started.payment.pk)
    services.payment_refresh(payment=payment)
    payment = Payment.objects.get(pk=payment.pk)
    assert (payment.amount, payment.tip_amount, payment.applied) == (
        Decimal("1356.00"),
        Decimal("100.00"),
        True,
    )
    stripe_refund(stripe_client, payment, 145600)  # the whole charge, tip included

    services.payment_refresh(payment=payment, with_refunds=True)

    assert Refund.objects.get().amount == Decimal("1456.00")
    payment = Payment.objects.get(pk=payment.pk)
    assert (payment.amount_refunded, payment.amount_refunded_goodwill) == (
        Decimal("1356.00"),
        Decimal("0.00"),
    )
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.amount_paid, invoice.balance, invoice.status) == (
        Decimal("0.00"),
        Decimal("1356.00"),
        "sent",
    )
    assert invoice.paid_at is None


def test_goodwill_and_reversals_are_summed_apart_and_only_once_they_went_through(invoice):
    from billing.models import RefundKind

    payment = PaymentFactory(invoice=invoice, amount="1356.00")
    assert Invoice.objects.get(pk=invoice.pk).paid_at is not None
    for amount, kind in (("100.00", RefundKind.GOODWILL), ("30.00", RefundKind.GOODWILL)):
        services.refund_create(
            payment=payment, amount=Decimal(amount), actor=Actor.system(), kind=kind
        )
    services.refund_create(payment=payment, amount=Decimal("6.00"), actor=Actor.system())
    Refund.objects.create(  # a card refund still pending would not count (as if)
        company=payment.company,
        payment=payment,
        amount=Decimal("50.00"),
        kind=RefundKind.REVERSAL,
        status=RefundStatus.PENDING,
    )
    Refund.objects.create(
        company=payment.company,
        payment=payment,
        amount=Decimal("70.00"),
        kind=RefundKind.GOODWILL,
        status=RefundStatus.FAILED,
    )
    services.refund_create(payment=payment, amount=Decimal("4.00"), actor=Actor.system())

    payment = Payment.objects.get(pk=payment.pk)
    assert (payment.amount_refunded, payment.amount_refunded_goodwill) == (
        Decimal("140.00"),  # 100 + 30 + 6 + 4
        Decimal("130.00"),
    )
    invoice = Invoice.objects.get(pk=invoice.pk)
    # Goodwill leaves the balance alone; the $10.00 reversed is due again.
    assert (invoice.amount_paid, invoice.balance, invoice.status) == (
        Decimal("1346.00"),
        Decimal("10.00"),
        "partially_paid",
    )
    assert invoice.paid_at is None


def test_an_invoice_its_deposit_covers_in_full_is_paid_when_its_money_is_recomputed(customer, job):
    from billing.models import RefundKind
    from tests.billing.conftest import deposit, roof

    estimate = SignedEstimateFactory(
        customer=customer, job=job, lines=roof("100.00"), revision=deposit(fixed="113.00")
    )
    paid = PaymentFactory(estimate=estimate, amount="113.00")
    invoice = services.estimate_convert(estimate=estimate, actor=Actor.system())
    documents.invoice_send(invoice=invoice, actor=Actor.system())
    # A goodwill refund on the deposit: the credit stays, the invoice's money is recomputed.
    services.refund_create(
        payment=paid, amount=Decimal("10.00"), actor=Actor.system(), kind=RefundKind.GOODWILL
    )
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.total, invoice.deposit_credit, invoice.amount_paid, invoice.balance) == (
        Decimal("113.00"),
        Decimal("113.00"),
        Decimal("0.00"),
        Decimal("0.00"),
    )
    assert invoice.status == "paid" and invoice.paid_at is not None


def test_an_event_with_an_overlong_type_or_account_is_stored_cut_to_its_columns(db, clock):
    event = services.EventIn(
        id="evt_long", type="t" * 150, account="a" * 80, created=1, body='{"id": "evt_long"}'
    )
    pk = services.event_store(event=event)
    row = StripeEvent.objects.get(pk=pk)
    assert (row.type, row.account) == ("t" * 100, "a" * 64)
    assert row.stripe_created == dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=dt.UTC)
    assert (row.received_at, row.status, row.last_error) == (T0, "received", "")


def test_what_does_not_fit_is_refused_in_the_contractors_words(invoice, signed_estimate):
    def refusal(**fields) -> str:
        with pytest.raises(ServiceError) as refused:
            PaymentFactory(**fields)
        return str(refused.value)

    assert refusal(invoice=invoice, amount="1356.01") == (
        "That is more than the balance of $1,356.00. Record $1,356.00 or less; "
        "give any extra back to the customer."
    )
    assert refusal(estimate=signed_estimate, amount="565.01") == (
        "That is more than the deposit due of $565.00. Record $565.00 or less; "
        "give any extra back to the customer."
    )
    PaymentFactory(estimate=signed_estimate, amount="565.00")
    assert refusal(estimate=signed_estimate, amount="0.01") == "The deposit is paid."
    Invoice.objects.filter(pk=invoice.pk).update(status="void")
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert refusal(invoice=invoice) == "This invoice is void; it can't take payments."
    assert Payment.objects.count() == 1


@pytest.mark.parametrize(
    "charge,expected",
    [
        (None, ("", "", "")),
        ("ch_only_an_id", ("", "", "")),
        ({"payment_method_details": None}, ("", "", "")),
        ({"payment_method_details": "card"}, ("", "", "")),
        (
            {
                "payment_method_details": {
                    "type": "card",
                    "card": {"last4": "4242", "wallet": {"type": "apple_pay"}},
                }
            },
            ("card", "apple_pay", "4242"),
        ),
        (
            {"payment_method_details": {"type": "card", "card": {"last4": "4242", "wallet": None}}},
            ("card", "", "4242"),
        ),
        (
            {"payment_method_details": {"type": "card", "card": {"wallet": {"type": None}}}},
            ("card", "", ""),
        ),
        (
            {"payment_method_details": {"type": "acss_debit", "acss_debit": {"last4": "6789"}}},
            ("acss_debit", "", "6789"),
        ),
        ({"payment_method_details": {"type": "card", "card": "x"}}, ("card", "", "")),
        ({"payment_method_details": {"type": None, "": {"last4": "1"}}}, ("", "", "1")),
        (
            {
                "payment_method_details": {
                    "type": "k" * 40,
                    "k" * 30: {"last4": "999999", "wallet": {"type": "w" * 40}},
                    "k" * 40: {"last4": "123456", "wallet": {"type": "v" * 40}},
                }
            },
            ("k" * 30, "w" * 30, "9999"),
        ),
    ],
)
def test_what_paid_is_read_from_the_charge_and_cut_to_its_columns(charge, expected):
    from billing.services.stripe_state import method_details

    assert method_details({"id": "pi_1", "latest_charge": charge}) == expected


def test_the_payment_intent_is_read_expanded_as_an_id_or_not_at_all():
    from billing.services.stripe_state import _intent

    assert _intent({"payment_intent": {"id": "pi_1", "status": "succeeded"}}) == {
        "id": "pi_1",
        "status": "succeeded",
    }
    assert _intent({"payment_intent": "pi_2"}) == {"id": "pi_2"}
    assert _intent({"payment_intent": None}) == {} and _intent({}) == {}
    assert _intent({"payment_intent": ""}) == {}


def _session_now(payment: Payment) -> dict:
    assert payment.stripe_session_id is not None
    return stripe_client.checkout_session_retrieve(
        account=payment.stripe_account_id, session_id=payment.stripe_session_id
    )


def _paid_on_stripe(document, stripe_on, count: int) -> list[Payment]:
    """``count`` card attempts on ``document``, each paid on Stripe's page and applied in turn
    from the session as Stripe has it (no webhook)."""
    attempts = [start_checkout(document).payment for _ in range(count)]
    for attempt in attempts:
        stripe_on.complete_session(attempt.stripe_session_id, send_webhook=False)
        services.stripe_state_apply(payment_id=attempt.pk, session=_session_now(attempt))
    return attempts


def test_a_card_declined_on_stripes_page_is_noted_once_and_the_attempt_stays_open(
    invoice, connected, stripe_on
):
    payment = start_checkout(invoice).payment
    stripe_on.fail_session_payment(payment.stripe_session_id, send_webhook=False)
    session = _session_now(payment)
    message = session["payment_intent"]["last_payment_error"]["message"]
    assert message

    services.stripe_state_apply(payment_id=payment.pk, session=session)
    after = Payment.objects.get(pk=payment.pk)
    assert (after.status, after.failure_message) == (PaymentStatus.CREATED, message[:300])
    stamp = after.updated_at
    services.stripe_state_apply(payment_id=payment.pk, session=session)  # the same news
    assert Payment.objects.get(pk=payment.pk).updated_at == stamp

    session["payment_intent"]["last_payment_error"]["message"] = "D" * 400
    services.stripe_state_apply(payment_id=payment.pk, session=session)
    assert Payment.objects.get(pk=payment.pk).failure_message == "D" * 300
    session["payment_intent"]["last_payment_error"]["message"] = None
    services.stripe_state_apply(payment_id=payment.pk, session=session)
    assert Payment.objects.get(pk=payment.pk).failure_message == ""
    assert not timeline("payment.failed")


@pytest.mark.parametrize(
    "intent_status,expected",
    [
        ("requires_payment_method", PaymentStatus.FAILED),
        ("canceled", PaymentStatus.FAILED),
        ("processing", PaymentStatus.PROCESSING),
        ("requires_action", PaymentStatus.PROCESSING),
    ],
)
def test_a_completed_session_not_paid_yet_follows_its_intent(
    invoice, connected, stripe_on, intent_status, expected
):
    payment = start_checkout(invoice).payment
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False, async_payment=True)
    session = _session_now(payment)
    assert (session["status"], session["payment_status"]) == ("complete", "unpaid")
    session["payment_intent"]["status"] = intent_status
    services.stripe_state_apply(payment_id=payment.pk, session=session)
    after = Payment.objects.get(pk=payment.pk)
    assert after.status == expected
    recorded = session["payment_intent"]["id"] if expected == PaymentStatus.PROCESSING else None
    assert after.stripe_payment_intent_id == recorded
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.amount_paid, invoice.balance) == (Decimal("0.00"), Decimal("1356.00"))


def test_a_session_needing_no_payment_applies_what_it_says_was_paid(invoice, connected, stripe_on):
    payment = start_checkout(invoice).payment
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
    session = _session_now(payment)
    session["payment_status"] = "no_payment_required"
    Payment.objects.filter(pk=payment.pk).update(stripe_session_id=None)  # as if never stored

    services.stripe_state_apply(payment_id=payment.pk, session=session)

    after = Payment.objects.get(pk=payment.pk)
    assert (after.status, after.applied, after.stripe_session_id) == (
        PaymentStatus.SUCCEEDED,
        True,
        session["id"],
    )
    assert Invoice.objects.get(pk=invoice.pk).balance == 0


def test_an_expired_session_cancels_only_an_attempt_still_open(invoice, connected, stripe_on):
    open_, processing = start_checkout(invoice).payment, start_checkout(invoice).payment
    Payment.objects.filter(pk=processing.pk).update(status=PaymentStatus.PROCESSING)
    for payment in (open_, processing):
        stripe_on.expire_session(payment.stripe_session_id, send_webhook=False)
        services.stripe_state_apply(payment_id=payment.pk, session=_session_now(payment))
    cancelled = Payment.objects.get(pk=open_.pk)
    assert cancelled.status == PaymentStatus.CANCELLED and cancelled.finished_at is not None
    assert Payment.objects.get(pk=processing.pk).status == PaymentStatus.PROCESSING


def _tipped_and_paid(invoice, connected, stripe_on, **session_changes) -> tuple[Payment, dict]:
    """A $1,356.00 payment with a $100.00 tip, completed at Stripe; the session as Stripe
    reports it, with ``session_changes``, applied."""
    connected.tips_enabled = True
    connected.save()
    started = services.checkout_start(
        document=invoice, amount=None, return_urls=return_urls, tip=Decimal("100.00")
    )
    stripe_on.complete_session(started.payment.stripe_session_id, send_webhook=False)
    session = _session_now(started.payment)
    assert session["amount_total"] == 145600
    session.update(session_changes)
    services.stripe_state_apply(payment_id=started.payment.pk, session=session)
    return Payment.objects.get(pk=started.payment.pk), session


def test_money_in_another_currency_is_recorded_as_taken_and_flagged_not_applied(
    invoice, connected, stripe_on
):
    from billing.models import PaymentIssue

    payment, session = _tipped_and_paid(invoice, connected, stripe_on, currency="USD")
    assert (payment.status, payment.applied, payment.currency) == ("succeeded", False, "usd")
    assert (payment.amount, payment.tip_amount) == (Decimal("1356.00"), Decimal("100.00"))
    assert payment.stripe_payment_intent_id == session["payment_intent"]["id"]
    issue = PaymentIssue.objects.get()
    assert (issue.payment_id, issue.kind, issue.company_id) == (
        payment.pk,
        "currency",
        invoice.company_id,
    )
    assert issue.details == {"cents": 145600, "currency": "USD", "expected": 145600}
    (entry,) = timeline("payment.flagged")
    assert entry.data["problem"] == "Paid in another currency" and entry.actor_kind == "system"
    assert not timeline("payment.received")
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.amount_paid, invoice.balance) == (Decimal("0.00"), Decimal("1356.00"))


def test_less_than_the_tip_arriving_is_recorded_as_the_payment_without_a_tip(
    invoice, connected, stripe_on
):
    from billing.models import PaymentIssue

    payment, _session = _tipped_and_paid(invoice, connected, stripe_on, amount_total=10000)
    assert (payment.amount, payment.tip_amount, payment.applied) == (
        Decimal("100.00"),
        Decimal("0.00"),
        False,
    )
    assert PaymentIssue.objects.get().details == {
        "cents": 10000,
        "currency": "cad",
        "expected": 145600,
    }
    assert Invoice.objects.get(pk=invoice.pk).balance == Decimal("1356.00")


def test_more_than_the_tip_but_less_than_asked_keeps_the_tip(invoice, connected, stripe_on):
    payment, _session = _tipped_and_paid(invoice, connected, stripe_on, amount_total=10001)
    assert (payment.amount, payment.tip_amount, payment.applied) == (
        Decimal("0.01"),
        Decimal("100.00"),
        False,
    )


def test_a_sent_invoices_pdf_is_rendered_again_when_its_money_changes_a_drafts_is_not(
    invoice, signed_estimate, monkeypatch
):
    from billing.services import ledger

    warmed: list[dict] = []

    class Spy:
        @staticmethod
        def delay_on_commit(**kwargs):
            warmed.append(kwargs)

    monkeypatch.setattr(ledger, "warm_pdf", Spy)
    PaymentFactory(estimate=signed_estimate, amount="565.00")
    draft = services.estimate_convert(estimate=signed_estimate, actor=Actor.system())
    assert Invoice.objects.get(pk=draft.pk).deposit_credit == Decimal("565.00")
    assert warmed == []  # a draft: nobody can download it yet
    PaymentFactory(invoice=invoice, amount="10.00")
    assert warmed == [{"kind": "invoice", "pk": invoice.pk}]


def test_a_second_card_deposit_is_flagged_as_an_overpayment_and_the_first_applied(
    signed_estimate, connected, stripe_on
):
    from billing.models import PaymentIssue
    from billing.selectors import deposit_paid

    attempts = _paid_on_stripe(signed_estimate, stripe_on, 2)
    first, second = (Payment.objects.get(pk=a.pk) for a in attempts)
    assert (first.amount, first.applied, second.amount, second.applied) == (
        Decimal("565.00"),
        True,
        Decimal("565.00"),
        False,
    )
    assert PaymentIssue.objects.get().kind == "overpaid"
    assert deposit_paid(estimate_id=signed_estimate.pk) == Decimal("565.00")


def test_a_refund_stripe_refuses_keeps_stripes_reason(invoice, connected, stripe_on, stripe_client):
    payment = paid_by_card(invoice, connected, stripe_on)
    stripe_refund(stripe_client, payment, 135600)  # all of it, in Stripe's dashboard meanwhile
    with pytest.raises(ServiceError) as refused:
        services.refund_create(payment=payment, amount=Decimal("10.00"), actor=Actor.system())
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.FAILED
    assert "has already been refunded" in refund.failure_message
    assert str(refused.value) == f"Stripe refused the refund: {refund.failure_message}"


def _stripe_answers_with(monkeypatch, call: str, **fields) -> None:
    """``stripe_client.<call>`` still goes through the SDK to the fake Stripe; its answer then
    has ``fields`` set, as in the rarer answers the code is written for (a refund Stripe cannot
    settle at once, a charge without an amount received, ...)."""
    real = getattr(stripe_client, call)

    def answer(**kwargs):
        data = real(**kwargs)
        data.update(fields)
        return data

    monkeypatch.setattr(stripe_client, call, answer)


def _stripe_answers_refunds_with(monkeypatch, **fields) -> None:
    _stripe_answers_with(monkeypatch, "refund_create", **fields)


@pytest.mark.parametrize("status", ["requires_reauthorization", None])
def test_a_refund_stripe_answers_with_a_status_we_do_not_know_stays_pending(
    invoice, connected, stripe_on, monkeypatch, status
):
    payment = paid_by_card(invoice, connected, stripe_on)
    _stripe_answers_refunds_with(monkeypatch, status=status)
    refund = services.refund_create(payment=payment, amount=Decimal("10.00"), actor=Actor.system())
    refund = Refund.objects.get(pk=refund.pk)
    assert refund.status == RefundStatus.PENDING and refund.stripe_refund_id.startswith("re_")
    assert Invoice.objects.get(pk=invoice.pk).balance == 0  # not refunded yet


def test_a_refund_stripe_answers_as_failed_records_stripes_reason(
    invoice, connected, stripe_on, monkeypatch
):
    payment = paid_by_card(invoice, connected, stripe_on)
    _stripe_answers_refunds_with(monkeypatch, status="failed", failure_reason="lost_or_stolen_card")
    refund = services.refund_create(payment=payment, amount=Decimal("10.00"), actor=Actor.system())
    refund = Refund.objects.get(pk=refund.pk)
    assert (refund.status, refund.failure_message) == (RefundStatus.FAILED, "lost_or_stolen_card")
    assert Payment.objects.get(pk=payment.pk).amount_refunded == 0
    assert Invoice.objects.get(pk=invoice.pk).balance == 0


def test_a_refund_given_no_reason_records_none(invoice):
    paid = PaymentFactory(invoice=invoice, amount="100.00")
    refund = services.refund_create(payment=paid, amount=Decimal("1.00"), actor=Actor.system())
    assert Refund.objects.get(pk=refund.pk).reason == ""
    assert (refund.kind, refund.automatic, refund.created_by) == ("reversal", False, None)


# --- billing-refunds (sixth session) ---
# Connecting, disconnecting and the options of the company's Stripe account (``connect``), a
# deposit moved like an invoice payment and a move without a reason (``transfers.payment_move``),
# and a long resolution of a payment issue (``manual.issue_resolve``).


def test_an_account_another_business_connected_is_refused_by_name(company, owner, stripe_on):
    """Another business with a row and no account (options only) does not stand in the way; one
    that has the account connected does, and is said so."""
    from tests.factories import CompanyFactory

    StripeAccount.objects.create(company=CompanyFactory(slug="options-only"))
    taken = stripe_on.add_account()["id"]
    StripeAccount.objects.create(company=CompanyFactory(slug="taken"), account_id=taken)
    free = stripe_on.add_account()["id"]
    row = services.stripe_account_link(
        company=company, account_id=free, actor=Actor.member(owner.user)
    )
    assert StripeAccount.objects.get(company=company).account_id == free == row.account_id
    with pytest.raises(ServiceError) as refused:
        services.stripe_account_link(
            company=company, account_id=taken, actor=Actor.member(owner.user)
        )
    assert str(refused.value) == "That Stripe account is connected to another business."
    assert StripeAccount.objects.get(company=company).account_id == free


def test_a_connected_account_records_when_and_names_itself_on_the_timeline(
    company, owner, stripe_on
):
    account_id = stripe_on.add_account()["id"]
    before = dt.datetime.now(tz=dt.UTC)
    row = services.stripe_account_link(
        company=company, account_id=account_id, actor=Actor.member(owner.user)
    )
    stored = StripeAccount.objects.get(company=company)
    assert stored.connected_at is not None
    assert before <= stored.connected_at <= dt.datetime.now(tz=dt.UTC)
    (entry,) = timeline("stripe.connected")
    assert entry.target == stored and entry.target_id == row.pk


def test_two_businesses_disconnecting_keep_no_account_and_say_so_on_the_timeline(
    company, owner, connected, stripe_on
):
    from tests.factories import CompanyFactory, MemberFactory

    other = CompanyFactory(slug="other")
    other_owner = MemberFactory(company=other)
    StripeAccount.objects.create(
        company=other,
        account_id=stripe_on.add_account()["id"],
        charges_enabled=True,
        details_submitted=True,
    )
    for who, member in ((company, owner), (other, other_owner)):
        services.stripe_disconnect(company=who, actor=Actor.member(member.user))
        stored = StripeAccount.objects.get(company=who)
        assert (stored.account_id, stored.charges_enabled, stored.details_submitted) == (
            None,
            False,
            False,
        )
        assert stored.connected_at is None and not stored.is_ready
    first, second = timeline("stripe.disconnected")
    assert (first.target_id, first.company) == (connected.pk, company)
    assert (second.target, second.company) == (StripeAccount.objects.get(company=other), other)


def test_changed_payment_options_name_the_account_on_the_timeline(company, owner, connected):
    row = services.stripe_options_update(
        company=company, actor=Actor.member(owner.user), fields={"tips_enabled": True}
    )
    assert StripeAccount.objects.get(company=company).tips_enabled
    (entry,) = timeline("stripe.options_updated")
    assert (entry.target, entry.target_id, entry.actor_user) == (connected, row.pk, owner.user)


def test_a_deposit_credited_to_an_invoice_cannot_be_moved_to_another(signed_estimate, invoice):
    deposit = PaymentFactory(estimate=signed_estimate, amount="565.00")
    converted = services.estimate_convert(estimate=signed_estimate, actor=Actor.system())
    deposit = Payment.objects.get(pk=deposit.pk)
    assert (deposit.purpose, deposit.invoice_id) == (PaymentPurpose.DEPOSIT, converted.pk)
    with pytest.raises(ServiceError) as refused:
        services.payment_move(payment=deposit, to_invoice=invoice, actor=Actor.system())
    assert str(refused.value) == "Only an invoice payment can be moved to another invoice."
    assert Payment.objects.get(pk=deposit.pk).invoice_id == converted.pk
    assert Invoice.objects.get(pk=invoice.pk).amount_paid == 0


def test_a_payment_moved_without_a_reason_records_none(customer, job):
    from billing.models import PaymentTransfer

    wrong, right = (
        InvoiceFactory(customer=customer, job=job),
        InvoiceFactory(customer=customer, job=job),
    )
    payment = PaymentFactory(invoice=wrong, amount="100.00")
    transfer = services.payment_move(payment=payment, to_invoice=right, actor=Actor.system())
    assert PaymentTransfer.objects.get(pk=transfer.pk).reason == ""


def test_a_long_resolution_of_an_issue_keeps_its_first_200_characters(
    invoice, connected, stripe_on, owner
):
    from billing.models import PaymentIssue

    _paid_on_stripe(invoice, stripe_on, 2)  # the second is flagged: one open issue
    said = "Refunded by cheque " + "x" * 231  # 250 characters
    services.issue_resolve(
        issue=PaymentIssue.objects.get(), actor=Actor.member(owner.user), resolution=said
    )
    stored = PaymentIssue.objects.get()
    assert stored.resolution == said[:200] and len(stored.resolution) == 200
    assert stored.resolved_by == owner.user
    (entry,) = timeline("payment_issue.resolved")
    assert entry.data["resolution"] == said[:200]


def test_each_move_that_does_not_fit_is_refused_in_so_many_words(
    customer, job, connected, stripe_on
):
    """A $1,356.00 cheque on one invoice; $1,300.00 already paid on another leaves $56.00."""
    from billing.models import PaymentTransfer
    from tests.factories import CompanyFactory, CustomerFactory

    def cheque(invoice, amount="1356.00"):
        return PaymentFactory(invoice=invoice, amount=amount, method=PaymentMethod.CHEQUE)

    source, refunded_on = (InvoiceFactory(customer=customer, job=job) for _ in range(2))
    payment = cheque(source)
    open_ = InvoiceFactory(customer=customer, job=job)
    elsewhere = InvoiceFactory(customer=CustomerFactory(company=CompanyFactory(slug="elsewhere")))
    small = InvoiceFactory(customer=customer, job=job)
    cheque(small, "1300.00")
    void = InvoiceFactory(customer=customer, job=job)
    Invoice.objects.filter(pk=void.pk).update(status="void")
    pending = start_checkout(InvoiceFactory(customer=customer, job=job)).payment
    refunded = cheque(refunded_on)
    services.refund_create(payment=refunded, amount=Decimal("1.00"), actor=Actor.system())
    for moved, target, message in (
        (payment, elsewhere, "Choose one of this customer's open invoices."),
        (payment, source, "The payment is already on that invoice."),
        (pending, open_, "Only a payment that went through can be moved."),
        (refunded, open_, "A payment with refunds can't be moved. Refund or record it anew."),
        (
            payment,
            Invoice.objects.get(pk=void.pk),
            "That invoice is not open: it is a draft or void.",
        ),
        (
            payment,
            small,
            "That invoice has only $56.00 due, less than the $1,356.00 payment.",
        ),
    ):
        with pytest.raises(ServiceError) as refused:
            services.payment_move(payment=moved, to_invoice=target, actor=Actor.system())
        assert str(refused.value) == message
    assert not PaymentTransfer.objects.exists()


def test_a_moved_duplicate_closes_its_own_issue_in_the_movers_name_and_says_it_was_not_applied(
    customer, job, connected, stripe_on, owner
):
    from billing.models import PaymentIssue

    invoice = InvoiceFactory(customer=customer, job=job)
    other = InvoiceFactory(customer=customer, job=job)
    attempts = _paid_on_stripe(invoice, stripe_on, 3)
    _applied, moved, left = (Payment.objects.get(pk=a.pk) for a in attempts)
    assert not moved.applied and not left.applied

    services.payment_move(payment=moved, to_invoice=other, actor=Actor.member(owner.user))

    closed = PaymentIssue.objects.get(payment=moved)
    assert (closed.resolved_by, closed.resolution) == (
        owner.user,
        f"Moved to invoice {other.display_number}",
    )
    assert PaymentIssue.objects.get(payment=left).resolved_at is None
    for verb in ("payment.moved_out", "payment.moved_in"):
        (entry,) = timeline(verb)
        assert entry.data["applied"] == "no" and entry.customer == customer


def test_a_refund_of_a_payment_not_through_or_of_a_card_with_stripe_off_is_refused(
    invoice, connected, stripe_on, settings
):
    pending = start_checkout(invoice).payment
    with pytest.raises(ServiceError) as refused:
        services.refund_create(payment=pending, amount=Decimal("1.00"), actor=Actor.system())
    assert str(refused.value) == "Only a payment that went through can be refunded."
    card = paid_by_card(InvoiceFactory(customer=invoice.customer), connected, stripe_on)
    assert card.stripe_payment_intent_id
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(ServiceError) as refused:
        services.refund_create(payment=card, amount=Decimal("1.00"), actor=Actor.system())
    assert str(refused.value) == "This card payment can't be refunded from here; use Stripe."
    assert not Refund.objects.exists()


def test_a_refund_of_money_received_by_hand_is_stored_as_succeeded_at_once(invoice):
    paid = PaymentFactory(invoice=invoice, amount="100.00")
    before = dt.datetime.now(tz=dt.UTC)
    refund = services.refund_create(payment=paid, amount=Decimal("1.00"), actor=Actor.system())
    stored = Refund.objects.get(pk=refund.pk)
    assert stored.status == RefundStatus.SUCCEEDED
    assert stored.succeeded_at is not None
    assert before <= stored.succeeded_at <= dt.datetime.now(tz=dt.UTC)
    (entry,) = timeline("refund.created")
    assert (entry.data["amount"], entry.target_id) == ("$1.00", invoice.pk)


def test_a_confirmation_posted_again_returns_only_its_own_payments_refund(invoice):
    """The confirmation's id finds a refund on this payment only: another payment's refund under
    that id is never handed back as if it were this one's (the id stays unique)."""
    from django.db import IntegrityError

    first = PaymentFactory(invoice=invoice, amount="100.00")
    second = PaymentFactory(invoice=InvoiceFactory(customer=invoice.customer), amount="100.00")
    made = services.refund_create(
        payment=first, amount=Decimal("1.00"), actor=Actor.system(), public_id="confirm-1"
    )
    again = services.refund_create(
        payment=first, amount=Decimal("1.00"), actor=Actor.system(), public_id="confirm-1"
    )
    assert again.pk == made.pk and Refund.objects.count() == 1
    with pytest.raises(IntegrityError):
        services.refund_create(
            payment=second, amount=Decimal("1.00"), actor=Actor.system(), public_id="confirm-1"
        )
    assert not Refund.objects.filter(payment=second).exists()


def test_money_received_by_hand_is_refused_in_these_words_and_records_nothing(invoice):
    """``payment_record``'s refusals, word for word (the dashboard shows them as they are)."""
    from django.utils import timezone

    def record(**changes):
        given = {
            "actor": Actor.system(),
            "invoice": invoice,
            "amount": Decimal("10.00"),
            "method": PaymentMethod.CASH,
            "received_on": timezone.localdate(),
            **changes,
        }
        with pytest.raises(ServiceError) as refused:
            services.payment_record(**given)
        return str(refused.value)

    assert record(method="bitcoin") == "Choose how the money was received."
    assert record(amount=Decimal("0.004")) == "Enter an amount greater than zero."
    assert record(amount=Decimal("-5.00")) == "Enter an amount greater than zero."
    assert record(received_on=timezone.localdate() + dt.timedelta(days=2)) == (
        "The date received can't be in the future."
    )
    assert not Payment.objects.exists()


# --- billing-state: what its mutation run left alive ---------------------------------------------
# Survivors of ``scripts/mutation billing-state`` (``services.events``, ``stripe_state``,
# ``ledger``), each answered here by the behaviour it would break.


def test_the_sweep_hands_over_at_most_a_thousand_events_at_a_time(db, clock):
    StripeEvent.objects.bulk_create(
        StripeEvent(event_id=f"evt_backlog_{n}", type="checkout.session.completed")
        for n in range(1001)
    )
    StripeEvent.objects.update(received_at=T0 - dt.timedelta(hours=1))

    due = services.events_due()

    assert len(due) == 1000 and len(set(due)) == 1000
    assert set(due) < set(StripeEvent.objects.values_list("pk", flat=True))


def test_reconciliation_waits_out_a_slow_stripe_and_leaves_refunds_alone_unless_asked(
    invoice, connected, stripe_on, stripe_client, settings
):
    # Reconciliation is no customer's page: it waits for Stripe as long as the SDK does, and
    # reads the charge (its refunds) only when asked to.
    settings.STRIPE_PAGE_TIMEOUT_SECONDS = 1
    payment = paid_by_card(invoice, connected, stripe_on)
    stripe_refund(stripe_client, payment, 10000)  # $100.00 given back in Stripe's dashboard
    charges_read = len(stripe_on.requests_to("/v1/charges"))
    stripe_on.stall(f"/v1/checkout/sessions/{payment.stripe_session_id}", 2)

    session = services.payment_refresh(payment=payment)

    assert session["id"] == payment.stripe_session_id
    assert len(stripe_on.requests_to("/v1/charges")) == charges_read
    assert not Refund.objects.exists()
    assert Invoice.objects.get(pk=invoice.pk).balance == Decimal("0.00")
    stripe_on.unstall()
    services.payment_refresh(payment=payment, with_refunds=True)
    assert Refund.objects.get().amount == Decimal("100.00")
    assert Invoice.objects.get(pk=invoice.pk).balance == Decimal("100.00")


def test_refunding_a_flagged_payment_in_full_closes_only_its_own_open_issue(
    invoice, connected, stripe_on, owner
):
    from billing.models import PaymentIssue

    attempts = _paid_on_stripe(invoice, stripe_on, 3)
    _applied, settled, waiting = (Payment.objects.get(pk=a.pk) for a in attempts)
    kept = services.issue_resolve(
        issue=PaymentIssue.objects.get(payment=settled),
        actor=Actor.member(owner.user),
        resolution="Kept as a credit",
    )
    still_open = PaymentIssue.objects.get(payment=waiting)

    services.refund_create(payment=settled, amount=Decimal("1356.00"), actor=Actor.system())

    after = PaymentIssue.objects.get(pk=kept.pk)
    assert (after.resolution, after.resolved_at, after.resolved_by) == (
        "Kept as a credit",
        kept.resolved_at,
        owner.user,
    )
    assert PaymentIssue.objects.get(pk=still_open.pk).resolved_at is None

    services.refund_create(payment=waiting, amount=Decimal("1356.00"), actor=Actor.system())

    closed = PaymentIssue.objects.get(pk=still_open.pk)
    assert (closed.resolution, closed.resolved_by) == ("Refunded", None)
    assert closed.resolved_at is not None and closed.updated_at > still_open.updated_at
    assert Invoice.objects.get(pk=invoice.pk).balance == Decimal("0.00")


def test_money_in_another_currency_is_never_refunded_automatically_and_is_logged(
    invoice, connected, stripe_on, caplog, django_capture_on_commit_callbacks
):
    StripeAccount.objects.filter(pk=connected.pk).update(refund_duplicate_payments=True)
    payment = start_checkout(invoice).payment
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
    session = _session_now(payment)
    session["currency"] = "usd"

    logged = caplog.at_level(logging.WARNING, logger="billing.services.stripe_state")
    with logged, django_capture_on_commit_callbacks(execute=True):
        services.stripe_state_apply(payment_id=payment.pk, session=session)

    assert not Refund.objects.exists() and not stripe_on.requests_to("/v1/refunds")
    assert [
        r.getMessage() for r in caplog.records if r.name == "billing.services.stripe_state"
    ] == [f"payment {payment.public_id} flagged: currency"]
    assert Payment.objects.get(pk=payment.pk).applied is False


def test_a_payment_the_worker_applies_gets_its_receipt_after_commit_and_logs_its_event_row(
    invoice, connected, stripe_on, caplog, django_capture_on_commit_callbacks
):
    payment = start_checkout(invoice).payment
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
    pk = services.event_store(event=_stored("evt_worker", connected.account_id, {"id": "x"}))
    claim, _row = services.event_claim(event_pk=pk)

    logged = caplog.at_level(logging.INFO, logger="billing.services.stripe_state")
    with logged, django_capture_on_commit_callbacks() as after_commit:
        services.stripe_state_apply(
            payment_id=payment.pk, session=_session_now(payment), event=claim
        )
        # Inside the transaction only the money: the receipt is claimed by a task after commit.
        assert Payment.objects.get(pk=payment.pk).receipt_sent_at is None

    assert [
        r.getMessage() for r in caplog.records if r.name == "billing.services.stripe_state"
    ] == [f"stripe event row {pk} applied to payment {payment.public_id}"]
    for callback in after_commit:
        callback()
    assert Payment.objects.get(pk=payment.pk).receipt_sent_at is not None

    # Without an event (reconciliation, the return page) the receipt is claimed at once.
    other = start_checkout(InvoiceFactory(customer=invoice.customer)).payment
    stripe_on.complete_session(other.stripe_session_id, send_webhook=False)
    caplog.clear()
    logged = caplog.at_level(logging.INFO, logger="billing.services.stripe_state")
    with logged, django_capture_on_commit_callbacks():
        services.stripe_state_apply(payment_id=other.pk, session=_session_now(other))
        assert Payment.objects.get(pk=other.pk).receipt_sent_at is not None
    assert not [r for r in caplog.records if r.name == "billing.services.stripe_state"]


def test_a_payments_timeline_row_states_its_amount_in_one_format_whatever_the_language(
    invoice, owner
):
    from django.utils import translation

    with translation.override("fr-ca"):
        PaymentFactory(invoice=invoice, amount="1234.50", actor=Actor.member(owner.user))
    (entry,) = timeline("payment.recorded")
    assert entry.data["amount"] == "$1,234.50"


def test_a_deposit_refund_reaches_the_invoice_made_again_after_the_first_was_voided(
    signed_estimate,
):
    # $2,000.00 + 13 % = $2,260.00; the 25 % deposit: $565.00.
    paid = PaymentFactory(estimate=signed_estimate, amount="565.00")
    voided = services.estimate_convert(estimate=signed_estimate, actor=Actor.system())
    documents.invoice_void(invoice=voided, actor=Actor.system())
    again = services.estimate_convert(estimate=signed_estimate, actor=Actor.system())
    assert again.pk != voided.pk
    assert Invoice.objects.get(pk=again.pk).deposit_credit == Decimal("565.00")

    services.refund_create(payment=paid, amount=Decimal("100.00"), actor=Actor.system())

    again = Invoice.objects.get(pk=again.pk)
    assert (again.total, again.deposit_credit, again.balance) == (
        Decimal("2260.00"),
        Decimal("465.00"),
        Decimal("1795.00"),
    )
    assert Invoice.objects.get(pk=voided.pk).status == "void"


def test_a_card_deposit_paid_after_its_estimate_was_invoiced_is_flagged_not_credited(
    signed_estimate, connected, stripe_on
):
    from billing.models import PaymentIssue

    started = start_checkout(signed_estimate)
    invoice = services.estimate_convert(estimate=signed_estimate, actor=Actor.system())
    stripe_on.complete_session(started.payment.stripe_session_id, send_webhook=False)

    services.stripe_state_apply(
        payment_id=started.payment.pk, session=_session_now(started.payment)
    )

    payment = Payment.objects.get()
    # Linked to the invoice when it was made (its payment list shows it), but not credited.
    assert (payment.purpose, payment.estimate_id, payment.invoice_id, payment.applied) == (
        "deposit",
        signed_estimate.pk,
        invoice.pk,
        False,
    )
    assert payment.amount == Decimal("565.00")
    assert PaymentIssue.objects.get().kind == "closed"
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.deposit_credit, invoice.amount_paid, invoice.balance) == (
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("2260.00"),
    )


def test_the_sweep_puts_back_only_abandoned_claims_never_a_finished_event(db, clock, settings):
    settings.CELERY_TASK_TIME_LIMIT = 100  # a lease of 160 s
    long_ago = T0 - dt.timedelta(hours=2)
    finished = ("applied", "failed", "ignored", "rejected")
    for status in finished:
        _queued(
            f"evt_{status}_long_ago",
            status=status,
            received_at=long_ago,
            claimed_at=long_ago,
            processed_at=long_ago + dt.timedelta(seconds=1),
            requeued_at=long_ago,
        )

    assert services.events_due() == []

    rows = StripeEvent.objects.order_by("event_id").values_list("status", "requeued_at")
    assert sorted(rows) == [(status, long_ago) for status in sorted(finished)]


def test_a_debit_processing_under_an_intent_another_attempt_holds_does_not_take_it(
    invoice, connected, stripe_on
):
    holder, attempt = start_checkout(invoice).payment, start_checkout(invoice).payment
    stripe_on.complete_session(attempt.stripe_session_id, send_webhook=False, async_payment=True)
    session = _session_now(attempt)
    intent_id = session["payment_intent"]["id"]
    Payment.objects.filter(pk=holder.pk).update(stripe_payment_intent_id=intent_id)

    services.stripe_state_apply(payment_id=attempt.pk, session=session)

    after = Payment.objects.get(pk=attempt.pk)
    assert (after.status, after.stripe_payment_intent_id) == (PaymentStatus.PROCESSING, None)
    assert Payment.objects.get(pk=holder.pk).stripe_payment_intent_id == intent_id
    (entry,) = timeline("payment.processing")
    assert entry.data["payment"] == attempt.public_id and entry.actor_kind == "customer"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["invoice", "deposit"])
def test_a_payments_document_lock_leaves_its_company_row_free(kind, invoice, signed_estimate):
    """``lock_documents`` locks the document rows only (``of=("self",)``), not the company it
    reads beside them: the company's settings, or a payment on another of its documents, do not
    wait for a payment being applied."""
    import threading

    from django.db import DatabaseError, connections, transaction

    from billing.services.ledger import lock_documents
    from crewcommand.models import Company

    held, release = threading.Event(), threading.Event()

    def apply_a_payment() -> None:
        try:
            with transaction.atomic():
                lock_documents(
                    purpose=kind,
                    invoice_id=invoice.pk if kind == "invoice" else None,
                    estimate_id=signed_estimate.pk if kind == "deposit" else None,
                )
                held.set()
                release.wait(10)
        finally:
            connections.close_all()

    writer = threading.Thread(target=apply_a_payment)
    writer.start()
    try:
        assert held.wait(10)
        with transaction.atomic():
            try:
                Company.objects.select_for_update(nowait=True).get(pk=invoice.company_id)
            except DatabaseError:
                pytest.fail("the company's row is locked by a payment's document lock")
    finally:
        release.set()
        writer.join(10)


def test_a_card_payment_seen_processing_that_then_fails_tells_the_customer(
    invoice, connected, stripe_on, django_capture_on_commit_callbacks
):
    # A card needing the bank's confirmation (3-D Secure) is processing a while: if it then
    # fails, the customer had left Stripe's page believing it paid.
    payment = start_checkout(invoice).payment
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
    session = _session_now(payment)
    session["payment_status"] = "unpaid"
    session["payment_intent"]["status"] = "requires_action"
    services.stripe_state_apply(payment_id=payment.pk, session=session)
    processing = Payment.objects.get(pk=payment.pk)
    assert (processing.status, processing.method_type) == (PaymentStatus.PROCESSING, "card")
    session["payment_intent"]["status"] = "requires_payment_method"
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.stripe_state_apply(payment_id=payment.pk, session=session)

    failed = Payment.objects.get(pk=payment.pk)
    assert failed.status == PaymentStatus.FAILED and failed.failure_notified_at is not None
    to_customer = [m for m in mail.outbox if m.to == [invoice.customer.email]]
    assert len(to_customer) == 1 and "did not go through" in to_customer[0].subject
    assert Invoice.objects.get(pk=invoice.pk).balance == Decimal("1356.00")


@pytest.mark.postgres
@pytest.mark.parametrize("kind", ["invoice", "deposit"])
def test_a_payments_locked_document_comes_with_its_company_read_in_the_same_query(
    kind, invoice, signed_estimate, django_assert_num_queries
):
    """``lock_documents`` reads the company with the document it locks (receipts, the timeline
    and the issue checks all read it): no query more per payment applied."""
    from django.db import transaction

    from billing.services.ledger import lock_documents

    with transaction.atomic():
        locked = lock_documents(
            purpose=kind,
            invoice_id=invoice.pk if kind == "invoice" else None,
            estimate_id=signed_estimate.pk if kind == "deposit" else None,
        )
        document = locked.invoice if kind == "invoice" else locked.estimate
        assert document is not None
        with django_assert_num_queries(0):
            assert document.company.pk == invoice.company_id


def test_applying_a_paid_card_session_takes_a_fixed_number_of_queries(
    invoice, connected, stripe_on, django_assert_num_queries
):
    # The constant-queries rule: applying one attempt costs the same queries every time, so a
    # read more (the payment's row read again by ``lock_payment`` instead of the one
    # ``stripe_state_apply`` read) is caught here. A first payment on another invoice warms
    # the caches.
    (warm,) = _paid_on_stripe(InvoiceFactory(customer=invoice.customer), stripe_on, 1)
    assert Payment.objects.get(pk=warm.pk).applied
    payment = start_checkout(invoice).payment
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
    session = _session_now(payment)

    with django_assert_num_queries(60):
        services.stripe_state_apply(payment_id=payment.pk, session=session)

    assert Payment.objects.get(pk=payment.pk).applied
    assert Invoice.objects.get(pk=invoice.pk).balance == Decimal("0.00")


def test_stripes_answer_naming_one_of_our_refunds_settles_that_one_not_the_newest(
    invoice, connected, stripe_on, monkeypatch
):
    # Refunds read newest first (``Refund.Meta.ordering``): the one Stripe names is the older
    # of the two, so any refund of the payment other than the one named would be the wrong one.
    payment = paid_by_card(invoice, connected, stripe_on)
    real = stripe_client.refund_create
    _stripe_answers_refunds_with(monkeypatch, status="pending")
    waiting = services.refund_create(payment=payment, amount=Decimal("10.00"), actor=Actor.system())
    monkeypatch.setattr(stripe_client, "refund_create", real)
    settled = services.refund_create(payment=payment, amount=Decimal("20.00"), actor=Actor.system())
    assert list(Refund.objects.filter(payment=payment)) == [settled, waiting]
    assert Refund.objects.get(pk=waiting.pk).status == RefundStatus.PENDING
    before = Refund.objects.filter(pk=settled.pk).values().get()

    apply_charge(payment)  # Stripe now says both went through, each naming its refund

    after = Refund.objects.get(pk=waiting.pk)
    assert (after.status, after.stripe_refund_id) == (
        RefundStatus.SUCCEEDED,
        waiting.stripe_refund_id,
    )
    assert after.succeeded_at is not None
    assert Refund.objects.filter(pk=settled.pk).values().get() == before
    assert Payment.objects.get(pk=payment.pk).amount_refunded == Decimal("30.00")
    assert Invoice.objects.get(pk=invoice.pk).balance == Decimal("30.00")
    assert [e.data["amount"] for e in timeline("refund.created")] == ["$20.00", "$10.00"]


# --- billing-checkout: autopay.py (seventh session) ---
# Saved cards and autopay: a card saved by one customer leaves every other customer's card and
# autopay alone, autopay's timeline rows name the card, a stale removal does nothing twice, the
# invoices autopay takes (a replaced card's autopay counts for nothing, 500 a run), the refusals
# and the log lines word for word, and what Stripe's answer says (or leaves out) about a charge.


def _stripe_answers_off_session_charges_with(monkeypatch, **fields) -> None:
    _stripe_answers_with(monkeypatch, "off_session_charge", **fields)


def _charged_with_stripe_answering(
    customer, job, stripe_on, monkeypatch, *, declined=False, **fields
):
    """A saved card charged for a new invoice, Stripe's answer carrying ``fields``."""
    from billing.services import autopay

    card = card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    if declined:
        stripe_on.off_session_outcomes[card.stripe_payment_method_id] = "card_declined"
    _stripe_answers_off_session_charges_with(monkeypatch, **fields)
    invoice = InvoiceFactory(customer=customer, job=job)
    return autopay.saved_card_charge(invoice=invoice, actor=Actor.system(), triggered_by="a")


def _failed_card_attempt(invoice, card, amount, *, autopay=True) -> Payment:
    """A card attempt on ``invoice`` for ``amount`` that ended failed: an autopay charge (keyed
    as the service keys it) or, with ``autopay=False``, one made on the pay page."""
    from crewcommand.lib.money import to_cents

    key = f"cc-autopay-{invoice.public_id}-{to_cents(amount)}"
    keyed = {"saved_card": card, "autopay_key": key, "idempotency_key": key} if autopay else {}
    return Payment.objects.create(
        company=invoice.company,
        customer=invoice.customer,
        invoice=invoice,
        purpose=PaymentPurpose.INVOICE,
        method=PaymentMethod.CARD,
        status=PaymentStatus.FAILED,
        amount=amount,
        stripe_account_id=card.stripe_account_id,
        **keyed,
    )


def test_autopay_a_card_one_customer_saves_leaves_another_customers_card_and_autopay_alone(
    customer, job, connected, stripe_on
):
    from billing.models import SavedCard, StripeCustomer
    from tests.factories import CustomerFactory

    first = card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    SavedCard.objects.filter(pk=first.pk).update(autopay=True)
    neighbour = CustomerFactory(company=customer.company, name="Bob Gagnon")
    started = services.checkout_start(
        document=InvoiceFactory(customer=neighbour),
        amount=None,
        return_urls=return_urls,
        save_card=True,
    )
    stripe_on.complete_session(started.payment.stripe_session_id, send_webhook=False)
    services.payment_refresh(payment=Payment.objects.get(pk=started.payment.pk))
    theirs = SavedCard.objects.get(customer=neighbour)
    assert (theirs.customer_id, theirs.autopay) == (neighbour.pk, False)
    # Each on a Stripe Customer of their own, made for them.
    made = stripe_on.requests_to("/v1/customers", "POST")
    assert [r.form["email"] for r in made] == [customer.email, neighbour.email]
    assert (
        theirs.stripe_customer_id
        == StripeCustomer.objects.get(customer=neighbour).stripe_customer_id
    )
    assert theirs.stripe_customer_id != first.stripe_customer_id
    kept = SavedCard.objects.get(pk=first.pk)
    assert (kept.removed_at, kept.autopay) == (None, True)
    assert SavedCard.objects.filter(removed_at=None).count() == 2


def test_autopay_turned_on_and_off_names_the_card_on_the_timeline(
    customer, job, connected, stripe_on, owner
):
    from billing.services import autopay

    card = card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    autopay.autopay_set(card=card, enabled=True, actor=Actor.member(owner.user))
    autopay.autopay_set(card=card, enabled=False, actor=Actor.member(owner.user))
    for verb in ("autopay.on", "autopay.off"):
        (entry,) = timeline(verb)
        assert entry.data == {"card": "Visa ····4242"} and entry.target_id == customer.pk


def test_autopay_removing_a_card_says_so_word_for_word_and_a_stale_copy_removes_it_once(
    customer, job, connected, stripe_on, settings
):
    from billing.models import SavedCard
    from billing.services import autopay

    card = card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    settings.STRIPE_API_BASE = NOWHERE
    with pytest.raises(ServiceError) as refused:
        autopay.card_remove(card=card, actor=Actor.system())
    assert str(refused.value) == (
        "The card could not be removed right now. Please try again in a few minutes."
    )
    settings.STRIPE_API_BASE = stripe_on.url

    stale = SavedCard.objects.get(pk=card.pk)  # read before the removal, as a second tab would
    before = SavedCard.objects.get(pk=card.pk).updated_at
    removed = autopay.card_remove(card=card, actor=Actor.system())
    assert removed.removed_at is not None and removed.updated_at >= removed.removed_at > before
    # Stripe refuses to detach it again (gone already): ours is left as the first removal left it.
    again = autopay.card_remove(card=stale, actor=Actor.system())
    assert (again.removed_at, again.updated_at) == (removed.removed_at, removed.updated_at)
    assert len(timeline("card.removed")) == 1


def test_autopay_a_replaced_cards_autopay_does_not_charge_the_card_that_replaced_it(
    customer, job, connected, stripe_on, owner
):
    from billing.models import SavedCard
    from billing.services import autopay

    first = card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    SavedCard.objects.filter(pk=first.pk).update(autopay=True)
    second = card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    assert second.autopay and SavedCard.objects.get(pk=first.pk).autopay  # kept on the old row
    autopay.autopay_set(card=second, enabled=False, actor=Actor.member(owner.user))
    invoice = InvoiceFactory(customer=customer, job=job)
    assert autopay.autopay_due() == 0
    assert not Payment.objects.filter(invoice=invoice).exists()
    assert not stripe_on.requests_to("/v1/payment_intents", "POST")


def test_autopay_leaves_out_invoices_with_nothing_due_or_a_charge_that_ended(
    customer, job, connected, stripe_on
):
    """500 invoices with nothing due, and one whose charge for its balance failed, sit ahead of
    the invoice due today: a run of at most 500 still reaches it (they once filled the batch)."""
    from django.utils import timezone

    from billing.models import SavedCard
    from billing.services import autopay
    from documents.models import InvoiceStatus

    card = card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    SavedCard.objects.filter(pk=card.pk).update(autopay=True)
    today = timezone.localdate()
    Invoice.objects.bulk_create(
        Invoice(
            company=customer.company,
            customer=customer,
            number=10_000 + n,
            status=InvoiceStatus.SENT,
            province="ON",
            issue_date=today - dt.timedelta(days=30),
            due_date=today - dt.timedelta(days=2),
        )
        for n in range(500)
    )  # 500 sent $0.00 invoices, the oldest due
    declined = InvoiceFactory(customer=customer, job=job, due_date=today - dt.timedelta(days=1))
    _failed_card_attempt(declined, card, declined.balance)
    last = InvoiceFactory(customer=customer, job=job)  # due today, $1,356.00
    assert autopay.autopay_due(today=today) == 1
    assert Payment.objects.get(invoice=last).status == PaymentStatus.SUCCEEDED
    assert Payment.objects.filter(invoice=declined).count() == 1
    assert len(stripe_on.requests_to("/v1/payment_intents", "POST")) == 1


def test_autopay_takes_at_most_500_invoices_a_run_the_oldest_due_first(
    customer, job, connected, stripe_on
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from billing.services import autopay

    with CaptureQueriesContext(connection) as queries:
        assert autopay.autopay_due() == 0
    batch = [q["sql"] for q in queries.captured_queries if 'FROM "documents_invoice"' in q["sql"]]
    assert len(batch) == 1
    assert batch[0].endswith(
        'ORDER BY "documents_invoice"."due_date" ASC, "documents_invoice"."id" ASC LIMIT 500'
    )


def test_autopay_logs_each_invoice_it_skips_and_why(customer, job, connected, stripe_on, caplog):
    from billing.models import SavedCard
    from billing.services import autopay

    card = card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    SavedCard.objects.filter(pk=card.pk).update(autopay=True)
    invoice = InvoiceFactory(customer=customer, job=job)
    StripeAccount.objects.filter(pk=connected.pk).update(charges_enabled=False)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="billing.services.autopay"):
        assert autopay.autopay_due() == 0
    assert [r.getMessage() for r in caplog.records if r.name == "billing.services.autopay"] == [
        f"autopay skipped invoice {invoice.public_id}: "
        "Online payment is not available for this business."
    ]


def test_autopay_a_charge_stripe_cannot_be_reached_for_is_logged_and_left_for_the_next_run(
    customer, job, connected, stripe_on, settings, caplog
):
    from billing.services import autopay

    card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    invoice = InvoiceFactory(customer=customer, job=job)
    settings.STRIPE_API_BASE = NOWHERE
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="billing.services.autopay"):
        waiting = autopay.saved_card_charge(
            invoice=invoice, actor=Actor.system(), triggered_by="autopay"
        )
    assert waiting.status == PaymentStatus.CREATED
    assert [r.getMessage() for r in caplog.records if r.name == "billing.services.autopay"] == [
        f"saved card charge {waiting.public_id}: Stripe unreachable"
    ]


def test_autopay_each_refusal_to_charge_a_saved_card_is_worded_exactly(
    customer, job, connected, stripe_on
):
    from billing.models import SavedCard
    from billing.services import autopay

    def refusal(invoice) -> str:
        with pytest.raises(ServiceError) as refused:
            autopay.saved_card_charge(invoice=invoice, actor=Actor.system(), triggered_by="t")
        return str(refused.value)

    invoice = InvoiceFactory(customer=customer, job=job)
    assert refusal(invoice) == "This customer has no saved card."
    card = card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    StripeAccount.objects.filter(pk=connected.pk).update(charges_enabled=False)
    assert refusal(invoice) == "Online payment is not available for this business."
    StripeAccount.objects.filter(pk=connected.pk).update(charges_enabled=True)
    SavedCard.objects.filter(pk=card.pk).update(stripe_account_id="acct_elsewhere")
    assert refusal(invoice) == "The saved card belongs to another Stripe account."
    SavedCard.objects.filter(pk=card.pk).update(stripe_account_id=connected.account_id)
    attempt = start_checkout(invoice).payment
    Payment.objects.filter(pk=attempt.pk).update(status=PaymentStatus.PROCESSING)
    assert refusal(invoice) == "A payment on this invoice is still processing."
    Invoice.objects.filter(pk=invoice.pk).update(status="void")
    assert refusal(invoice) == "This invoice has nothing to charge."


def test_autopay_an_attempt_left_waiting_on_stripe_is_charged_even_beside_a_processing_debit(
    customer, job, connected, stripe_on, settings
):
    """The attempt row came first: the next run asks Stripe again with its key (Stripe may have
    charged already) instead of refusing because of a debit started since."""
    from billing.services import autopay

    card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    invoice = InvoiceFactory(customer=customer, job=job)
    debit = start_checkout(invoice).payment
    settings.STRIPE_API_BASE = NOWHERE
    waiting = autopay.saved_card_charge(invoice=invoice, actor=Actor.system(), triggered_by="a")
    assert waiting.status == PaymentStatus.CREATED
    Payment.objects.filter(pk=debit.pk).update(status=PaymentStatus.PROCESSING)
    settings.STRIPE_API_BASE = stripe_on.url
    done = autopay.saved_card_charge(invoice=invoice, actor=Actor.system(), triggered_by="b")
    assert (done.pk, done.status) == (waiting.pk, PaymentStatus.SUCCEEDED)
    assert len(timeline("payment.saved_card_charge")) == 1


def test_autopay_stripes_answer_without_the_amount_received_falls_back_to_the_amount(
    customer, job, connected, stripe_on, monkeypatch
):
    from billing.models import PaymentIssue
    from billing.services import autopay

    paid = _charged_with_stripe_answering(
        customer, job, stripe_on, monkeypatch, amount_received=None
    )
    assert (paid.status, paid.applied, paid.amount) == (
        PaymentStatus.SUCCEEDED,
        True,
        Decimal("1356.00"),
    )
    assert Invoice.objects.get(pk=paid.invoice_id).balance == 0

    # Neither amount said: nothing is known taken; the attempt is flagged, its amount kept.
    _stripe_answers_off_session_charges_with(monkeypatch, amount_received=None, amount=None)
    other = InvoiceFactory(customer=customer, job=job)
    flagged = autopay.saved_card_charge(invoice=other, actor=Actor.system(), triggered_by="a")
    assert (flagged.status, flagged.applied, flagged.amount) == (
        PaymentStatus.SUCCEEDED,
        False,
        Decimal("1356.00"),
    )
    assert PaymentIssue.objects.get(payment=flagged).details["cents"] == 0
    assert Invoice.objects.get(pk=other.pk).balance == Decimal("1356.00")


def test_autopay_a_decline_stripe_gives_no_reason_for_says_the_card_could_not_be_charged(
    customer, job, connected, stripe_on, monkeypatch
):

    failed = _charged_with_stripe_answering(
        customer, job, stripe_on, monkeypatch, declined=True, last_payment_error={"code": "x"}
    )
    assert failed.status == PaymentStatus.FAILED
    assert failed.failure_message == "The card could not be charged."
    (entry,) = timeline("payment.failed")
    assert entry.data["amount"] == "$1,356.00"


def test_autopay_a_card_stripe_gives_no_last_four_digits_for_is_kept_without_them(
    customer, job, connected, stripe_on
):
    from billing.services import autopay

    invoice = InvoiceFactory(customer=customer, job=job)
    payment, intent = _paid_saving_the_card(invoice, connected, stripe_on)
    intent["latest_charge"]["payment_method_details"]["card"]["last4"] = None
    saved = autopay.card_save_from(payment, intent)
    assert saved is not None and (saved.brand, saved.last4) == ("visa", "")
    (entry,) = timeline("card.saved")
    assert entry.data["card"] == "Visa ····"


def test_autopay_a_declined_charges_timeline_row_states_its_amount_in_one_format_in_french(
    customer, job, connected, stripe_on
):
    """Like every payment's row (``log_payment``): en-CA whatever language is active."""
    from django.utils import translation

    from billing.services import autopay

    card = card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    stripe_on.off_session_outcomes[card.stripe_payment_method_id] = "card_declined"
    invoice = InvoiceFactory(customer=customer, job=job)
    with translation.override("fr-ca"):
        autopay.saved_card_charge(invoice=invoice, actor=Actor.system(), triggered_by="a")
    (entry,) = timeline("payment.failed")
    assert entry.data["amount"] == "$1,356.00"


def test_autopay_charges_a_small_balance_and_leaves_out_only_its_own_ended_charges(
    customer, job, connected, stripe_on, caplog
):
    """What the run's query leaves out, one invoice each: a balance of $1.00 is charged; a
    failed card payment made on the pay page does not stop autopay; an autopay charge that
    failed for the balance as it stands (after a deposit's credit) is not tried again; a draft
    is not looked at."""
    from billing.models import SavedCard
    from billing.services import autopay
    from documents.models import InvoiceStatus

    card = card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    SavedCard.objects.filter(pk=card.pk).update(autopay=True)
    small = InvoiceFactory(customer=customer, job=job)
    Invoice.objects.filter(pk=small.pk).update(
        amount_paid=small.total - Decimal("1.00"), status=InvoiceStatus.PARTIALLY_PAID
    )
    tried_on_page = InvoiceFactory(customer=customer, job=job)
    _failed_card_attempt(tried_on_page, card, tried_on_page.balance, autopay=False)
    credited = InvoiceFactory(customer=customer, job=job)
    Invoice.objects.filter(pk=credited.pk).update(deposit_credit=Decimal("300.00"))
    credited.refresh_from_db()
    _failed_card_attempt(credited, card, credited.balance)
    InvoiceFactory(customer=customer, job=job, sent=False)  # a draft, due today
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="billing.services.autopay"):
        assert autopay.autopay_due() == 2
    assert not [r for r in caplog.records if r.name == "billing.services.autopay"]
    charged = Payment.objects.filter(autopay_key__isnull=False, status=PaymentStatus.SUCCEEDED)
    assert sorted((p.invoice_id, p.amount) for p in charged) == sorted(
        [(small.pk, Decimal("1.00")), (tried_on_page.pk, tried_on_page.balance)]
    )
    assert Payment.objects.filter(invoice=credited).count() == 1
    assert len(stripe_on.requests_to("/v1/payment_intents", "POST")) == 2


def test_autopay_a_long_decline_message_is_kept_to_300_characters(
    customer, job, connected, stripe_on, monkeypatch
):

    failed = _charged_with_stripe_answering(
        customer,
        job,
        stripe_on,
        monkeypatch,
        declined=True,
        last_payment_error={"message": "Declined. " + "x" * 400},
    )
    assert failed.status == PaymentStatus.FAILED
    assert failed.failure_message == ("Declined. " + "x" * 400)[:300]


def test_autopay_an_answer_without_a_currency_is_flagged_and_no_currency_made_up(
    customer, job, connected, stripe_on, monkeypatch
):

    paid = _charged_with_stripe_answering(customer, job, stripe_on, monkeypatch, currency=None)
    assert paid.status == PaymentStatus.SUCCEEDED
    assert paid.applied is False  # money in an unknown currency is flagged, not applied
    assert paid.currency == ""


def test_autopay_a_charge_that_failed_for_an_earlier_balance_does_not_stop_the_next(
    customer, job, connected, stripe_on
):
    """Only an attempt for the balance as it stands is never made again: after a payment by
    hand changes the balance, the run charges the new one."""
    from billing.models import SavedCard
    from billing.services import autopay

    card = card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    SavedCard.objects.filter(pk=card.pk).update(autopay=True)
    invoice = InvoiceFactory(customer=customer, job=job)
    earlier = invoice.balance + Decimal("100.00")
    _failed_card_attempt(invoice, card, earlier)
    assert autopay.autopay_due() == 1
    charged = Payment.objects.get(invoice=invoice, status=PaymentStatus.SUCCEEDED)
    assert charged.amount == invoice.balance
