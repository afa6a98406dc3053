"""Two writers at once on PostgreSQL: real threads, each with its own connection, held together
inside the critical section (``tests.billing.races``). Each test names the row lock it proves:
delete that ``select_for_update`` and the test fails (``met`` turns True and the data shows it).

The locks of billing (``billing.services``): the estimate (deposits), the invoice (invoice
payments, and the invoice made from an estimate, for deposits), the company's Stripe row, and a
payment issue being resolved. Payments and refunds have no lock of their own: their document's
lock covers them."""

from __future__ import annotations

import functools
from decimal import Decimal

import pytest
from django.core import mail

from billing import services, stripe_client
from billing.models import (
    IssueKind,
    Payment,
    PaymentIssue,
    PaymentMethod,
    PaymentStatus,
    RefundKind,
    StripeAccount,
    StripeEvent,
)
from billing.selectors import deposit_paid
from billing.services import connect, ledger, manual, stripe_state
from crewcommand.lib.activity import Actor
from crewcommand.models import Activity
from documents import services as documents
from documents.models import InvoiceStatus
from tests.billing.conftest import start_checkout
from tests.billing.races import Rendezvous, race, refused
from tests.factories import InvoiceFactory, PaymentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def meeting() -> Rendezvous:
    return Rendezvous()


def _receipts(invoice) -> list:
    return [m for m in mail.outbox if m.to == [invoice.customer.email] and "Receipt" in m.subject]


# --- The invoice lock --------------------------------------------------------------------------


def test_two_card_payments_for_one_invoice_applied_at_once_apply_one_and_flag_the_other(
    invoice, connected, hooks, meeting, monkeypatch
):
    """Two tabs, two sessions, both paid: their webhooks arrive together. The second must see
    the first's money, so it is flagged as an overpayment instead of applied."""
    first, second = start_checkout(invoice), start_checkout(invoice)
    events = [
        hooks.build_event(
            "checkout.session.completed",
            hooks.complete_session(started.payment.stripe_session_id, send_webhook=False),
        )
        for started in (first, second)
    ]
    meeting.hold(monkeypatch, stripe_state, "_problem")

    answers = race(meeting, *[functools.partial(hooks.send_event, e) for e in events])

    assert [a.status for a in answers] == [200, 200]
    payments = Payment.objects.filter(invoice=invoice, status=PaymentStatus.SUCCEEDED)
    assert sorted(p.applied for p in payments) == [False, True]
    invoice.refresh_from_db()
    assert invoice.amount_paid == invoice.total == Decimal("1356.00")
    assert invoice.status == InvoiceStatus.PAID
    issue = PaymentIssue.objects.get()
    assert issue.kind == IssueKind.OVERPAID and not issue.payment.applied
    assert len(_receipts(invoice)) == 1
    assert meeting.excluded and not meeting.met


def test_completed_and_intent_succeeded_at_once_record_one_payment_one_activity_one_receipt(
    invoice, connected, hooks, meeting, monkeypatch
):
    """Stripe sends both events for one payment at the same moment: different event ids, so
    only the lock serialises them."""
    started = start_checkout(invoice)
    session = hooks.complete_session(started.payment.stripe_session_id, send_webhook=False)
    events = [
        hooks.build_event("checkout.session.completed", session),
        hooks.build_event("payment_intent.succeeded", hooks.get(session["payment_intent"])),
    ]
    meeting.hold(monkeypatch, stripe_state, "_problem")

    answers = race(meeting, *[functools.partial(hooks.send_event, e) for e in events])

    assert [a.status for a in answers] == [200, 200]
    assert StripeEvent.objects.count() == 2
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.applied
    assert Activity.objects.filter(verb="payment.received").count() == 1
    assert len(_receipts(invoice)) == 1
    invoice.refresh_from_db()
    assert invoice.amount_paid == invoice.total and invoice.status == InvoiceStatus.PAID
    assert meeting.excluded and not meeting.met


# --- The receipt claim -------------------------------------------------------------------------


def test_the_receipt_task_run_twice_at_once_sends_one_receipt(customer, monkeypatch):
    """A task delivered twice (a retry, a worker lost after sending): both claim the receipt
    at the same instant; the claim is one conditional UPDATE, so one wins."""
    from billing import notifications, tasks

    invoices = [InvoiceFactory(customer=customer) for _ in range(3)]
    payments = [PaymentFactory(invoice=invoice, amount="100.00") for invoice in invoices]
    # As if each receipt had not gone out yet: the task is about to run, twice.
    Payment.objects.update(receipt_sent_at=None, company_notified_at=None)
    mail.outbox.clear()
    for payment in payments:
        round_ = Rendezvous()
        with monkeypatch.context() as patch:
            round_.hold(
                patch,
                notifications,
                "receipt_claim",
                when=lambda **kw: kw["field"] == "receipt_sent_at",
            )
            send = functools.partial(tasks.send_payment_receipt, payment_id=payment.pk)
            race(round_, send, send)
        assert round_.met  # both were at the claim together
    for payment in payments:
        number = payment.public_id.upper()
        assert len([m for m in _receipts(payment.invoice) if number in m.body]) == 1
    assert Payment.objects.filter(receipt_sent_at=None).count() == 0


# --- The estimate lock, and the invoice made from it -------------------------------------------


def test_two_deposit_payments_recorded_at_once_record_one_and_refuse_the_other(
    signed_estimate, meeting, monkeypatch
):
    """The owner and the office both record the customer's e-Transfer for the deposit."""
    meeting.hold(monkeypatch, manual, "_check_manual_fits")
    pay = refused(
        lambda: PaymentFactory(
            estimate=signed_estimate, amount="565.00", method=PaymentMethod.ETRANSFER
        )
    )

    results = race(meeting, pay, pay)

    assert sorted(type(r).__name__ for r in results) == ["Payment", "ServiceError"]
    assert Payment.objects.count() == 1
    assert deposit_paid(estimate_id=signed_estimate.pk) == Decimal("565.00")
    assert meeting.excluded and not meeting.met


def test_a_deposit_refund_and_an_invoice_payment_at_once_keep_both_on_the_invoice(
    signed_estimate, meeting, monkeypatch
):
    """After conversion the deposit's credit lives on the invoice: a deposit refund (locking
    the estimate) and a payment on the invoice both rewrite the invoice's money, so the
    deposit path must lock the invoice too, or one of them is written from stale rows."""
    deposit = PaymentFactory(estimate=signed_estimate, amount="565.00")
    invoice = services.estimate_convert(estimate=signed_estimate, actor=Actor.system())
    documents.invoice_send(invoice=invoice, actor=Actor.system())
    invoice.refresh_from_db()
    assert invoice.balance == Decimal("1695.00")  # 2260.00 - 565.00
    seen: set = set()
    meeting.hold(monkeypatch, ledger, "applied_net", when=lambda *a, **k: _first_in_thread(seen))

    race(
        meeting,
        lambda: services.refund_create(
            payment=deposit, amount=Decimal("65.00"), actor=Actor.system(), kind=RefundKind.REVERSAL
        ),
        lambda: PaymentFactory(invoice=invoice, amount="1695.00"),
    )

    invoice.refresh_from_db()
    assert invoice.deposit_credit == Decimal("500.00")
    assert invoice.amount_paid == Decimal("1695.00")
    assert invoice.balance == Decimal("65.00")
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID
    assert meeting.excluded and not meeting.met


def _first_in_thread(seen: set) -> bool:
    import threading

    me = threading.get_ident()
    if me in seen:
        return False
    seen.add(me)
    return True


# --- The company's Stripe row ------------------------------------------------------------------


def test_connecting_stripe_while_options_are_saved_keeps_both(
    company, owner, stripe_on, meeting, monkeypatch
):
    StripeAccount.objects.create(company=company)
    account_id = stripe_on.add_account()["id"]
    actor = Actor.member(owner.user)
    meeting.hold(monkeypatch, connect, "_account_row", after=True)

    race(
        meeting,
        lambda: services.stripe_account_link(company=company, account_id=account_id, actor=actor),
        lambda: services.stripe_options_update(
            company=company, actor=actor, fields={"allow_partial_payments": True}
        ),
    )

    account = StripeAccount.objects.get(company=company)
    assert account.account_id == account_id and account.charges_enabled
    assert account.allow_partial_payments
    assert meeting.excluded and not meeting.met


# --- A payment issue ---------------------------------------------------------------------------


def test_two_people_resolving_one_issue_at_once_resolve_it_once(
    invoice, connected, stripe_on, owner, office, meeting, monkeypatch
):
    first, second = start_checkout(invoice), start_checkout(invoice)
    for started in (first, second):
        stripe_on.complete_session(started.payment.stripe_session_id, send_webhook=False)
        services.stripe_state_apply(
            payment_id=started.payment.pk,
            session=stripe_client.checkout_session_retrieve(
                account=connected.account_id, session_id=started.payment.stripe_session_id
            ),
        )
    issue = PaymentIssue.objects.get()
    meeting.hold(monkeypatch, PaymentIssue, "save")

    race(
        meeting,
        lambda: services.issue_resolve(
            issue=issue, actor=Actor.member(owner.user), resolution="Refunded by cheque"
        ),
        lambda: services.issue_resolve(
            issue=issue, actor=Actor.member(office.user), resolution="Kept as a credit"
        ),
    )

    [logged] = Activity.objects.filter(verb="payment_issue.resolved")
    issue.refresh_from_db()
    assert issue.resolved_at is not None
    assert logged.data["resolution"] == issue.resolution
    assert meeting.excluded and not meeting.met
