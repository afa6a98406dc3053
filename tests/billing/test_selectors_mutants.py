"""Payment reads (``billing.selectors``) as the pages, messages and payments use them: written
for the mutants the page tests left alive (``scripts/mutation selectors``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing import services
from billing.models import (
    ZERO,
    IssueKind,
    Payment,
    PaymentIssue,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    Refund,
    RefundKind,
)
from billing.selectors import (
    JobMoney,
    Payable,
    PaymentFilters,
    RefundEffect,
    applied_net,
    customer_payment_state,
    deposit_payable,
    document_payments,
    estimate_deposit_payments,
    invoice_payable,
    invoice_payments,
    issue_get,
    issue_list,
    job_money,
    link_invoiced_state,
    link_payments_state,
    online_payment_ready,
    open_issue_count,
    payment_get,
    payment_link,
    payment_list,
    payment_refunds,
    payment_totals,
    portal_slot_state,
    refund_effect,
    stripe_account_for,
    tips_report,
    unconfirmed_payment,
)
from crewcommand.lib.activity import Actor
from crewcommand.models import Company
from documents import services as documents
from documents.models import Invoice
from portal.models import PortalLink
from portal.services import link_create
from tests.billing.conftest import deposit as asks_deposit
from tests.billing.conftest import roof, start_checkout
from tests.factories import CustomerFactory, InvoiceFactory, SignedEstimateFactory

pytestmark = pytest.mark.django_db


def test_the_payment_link_in_a_message_opens_the_pay_page_of_its_document(
    settings, customer, invoice, signed_estimate, connected
):
    """``{payment_link}`` in an SMS or email: the site's address, then the pay page of the
    invoice, of the estimate's deposit, or of the link's own document."""
    settings.SITE_URL = "https://crew.example"
    token = link_create(customer=customer, actor=Actor.system()).token
    site = "https://crew.example"
    assert payment_link(token=token, document=invoice) == site + reverse(
        "billing_portal:pay_invoice", args=[token, invoice.public_id]
    )
    assert payment_link(token=token, document=signed_estimate) == site + reverse(
        "billing_portal:pay_deposit", args=[token, signed_estimate.public_id]
    )
    assert payment_link(token=token) == site + reverse("billing_portal:pay", args=[token])
    # And each opens the page it names for the customer.
    client = Client()
    for document in (invoice, signed_estimate):
        path = payment_link(token=token, document=document).removeprefix(settings.SITE_URL)
        assert client.get(path).status_code == 200, path


def _record(amount, *, invoice=None, estimate=None):
    return services.payment_record(
        actor=Actor.system(),
        invoice=invoice,
        estimate=estimate,
        amount=Decimal(amount),
        method=PaymentMethod.CASH,
        received_on=timezone.localdate(),
    )


def _payable(due, *, online=True, closed="", allow_partial=True, minimum="100.00"):
    return Payable(
        purpose=PaymentPurpose.INVOICE,
        document=None,
        label="",
        asked=Decimal(due),
        paid=ZERO,
        due=Decimal(due),
        allow_partial=allow_partial,
        minimum=Decimal(minimum),
        online=online,
        closed=closed,
    )


def test_the_pay_button_takes_what_stripe_can_charge_in_one_payment():
    """One card payment is between Stripe's minimum and maximum, both included; more than the
    maximum is paid in parts where the company takes partial payments."""
    for due in ("0.50", "100.00", "999999.99"):
        payable = _payable(due)
        assert payable.can_pay_online and not payable.over_card_limit, due
        assert payable.card_maximum == Decimal(due) and not payable.can_pay_in_parts_only, due
    assert not _payable("0.49").can_pay_online
    over = _payable("1000000.00")
    assert over.over_card_limit and not over.can_pay_online
    assert over.card_maximum == Decimal("999999.99") and over.can_pay_in_parts_only
    assert not _payable("1000000.00", allow_partial=False).can_pay_in_parts_only
    assert not _payable("1000000.00", online=False).can_pay_in_parts_only
    assert not _payable("1000000.00", closed="Paid").can_pay_in_parts_only
    assert not _payable("100.00", online=False).can_pay_online
    assert not _payable("100.00", closed="Paid").can_pay_online
    # A part must be more than the company's minimum: at the minimum, pay it all.
    assert _payable("100.01").partial_allowed and not _payable("100.00").partial_allowed
    assert not _payable("500.00", allow_partial=False).partial_allowed


def test_what_an_invoice_asks_for_as_it_is_paid(invoice, connected, settings):
    connected.allow_partial_payments = True
    connected.minimum_partial_amount = Decimal("50.00")
    connected.save()
    payable = invoice_payable(invoice=invoice)
    assert payable == Payable(
        purpose=PaymentPurpose.INVOICE,
        document=invoice,
        label=f"Invoice {invoice.display_number}",
        asked=Decimal("1356.00"),
        paid=ZERO,
        due=Decimal("1356.00"),
        allow_partial=True,
        minimum=Decimal("50.00"),
        online=True,
        closed="",
        unconfirmed=None,
    )
    _record("1300.00", invoice=invoice)
    invoice.refresh_from_db()
    payable = invoice_payable(invoice=invoice, account=connected)
    assert (payable.asked, payable.paid, payable.due) == (
        Decimal("1356.00"),
        Decimal("1300.00"),
        Decimal("56.00"),
    )
    _record("56.00", invoice=invoice)
    invoice.refresh_from_db()
    paid = invoice_payable(invoice=invoice)
    assert paid.closed == "This invoice is paid in full." and paid.due == ZERO
    # Without an account: no partial payments, Stripe's minimum, no card payment.
    settings.STRIPE_SECRET_KEY = ""
    connected.delete()
    invoice.company.refresh_from_db()
    bare = invoice_payable(invoice=Invoice.objects.get(pk=invoice.pk))
    assert (bare.allow_partial, bare.minimum, bare.online) == (False, Decimal("0.50"), False)


def test_a_draft_or_void_invoice_cannot_be_paid(customer, connected):
    draft = InvoiceFactory(customer=customer, sent=False)
    assert invoice_payable(invoice=draft).closed == "This invoice has not been sent yet."
    void = InvoiceFactory(customer=customer)
    documents.invoice_void(invoice=void, actor=Actor.system())
    void.refresh_from_db()
    assert invoice_payable(invoice=void).closed == "This invoice was cancelled."


def test_a_card_payment_that_may_have_gone_through_gates_the_pay_button(
    invoice, signed_estimate, connected, settings
):
    """Back from Stripe's success page, or a bank payment still processing: paying again needs
    the customer's confirmation. The newest such attempt of this document is the one shown."""
    first = start_checkout(invoice).payment
    second = start_checkout(invoice).payment
    assert invoice_payable(invoice=invoice).unconfirmed is None  # not back from Stripe yet
    Payment.objects.filter(pk=first.pk).update(returned_at=timezone.now())
    assert invoice_payable(invoice=invoice).unconfirmed == first
    Payment.objects.filter(pk=second.pk).update(status=PaymentStatus.PROCESSING)
    assert invoice_payable(invoice=invoice).unconfirmed == second
    Payment.objects.filter(pk=second.pk).update(status=PaymentStatus.FAILED)
    assert invoice_payable(invoice=invoice).unconfirmed == first
    # Another document's attempt is not this one's; the deposit's is the estimate's.
    deposit = start_checkout(signed_estimate).payment
    assert deposit_payable(estimate=signed_estimate).unconfirmed is None
    Payment.objects.filter(pk=deposit.pk).update(returned_at=timezone.now())
    assert deposit_payable(estimate=signed_estimate).unconfirmed == deposit
    assert invoice_payable(invoice=invoice).unconfirmed == first
    # Without card payments there is no Pay button to gate.
    settings.STRIPE_SECRET_KEY = ""
    assert invoice_payable(invoice=invoice).unconfirmed is None


def test_what_a_deposit_asks_for_from_signing_to_the_invoice(customer, connected):
    estimate = SignedEstimateFactory(
        customer=customer, lines=roof("2000.00"), revision=asks_deposit("25")
    )
    asked = Decimal("565.00")  # 25 % of $2,260.00 with Ontario's HST
    payable = deposit_payable(estimate=estimate)
    assert payable == Payable(
        purpose=PaymentPurpose.DEPOSIT,
        document=estimate,
        label=f"Deposit for estimate {estimate.display_number}",
        asked=asked,
        paid=ZERO,
        due=asked,
        allow_partial=False,
        minimum=asked,
        online=True,
        closed="",
        unconfirmed=None,
    )
    _record("65.00", estimate=estimate)
    payable = deposit_payable(estimate=estimate, account=connected)
    assert (payable.paid, payable.due, payable.minimum, payable.closed) == (
        Decimal("65.00"),
        Decimal("500.00"),
        Decimal("500.00"),
        "",
    )
    _record("500.00", estimate=estimate)
    paid = deposit_payable(estimate=estimate)
    assert (paid.due, paid.closed) == (ZERO, "The deposit is paid.")
    invoice = services.estimate_convert(estimate=estimate, actor=Actor.system())
    documents.invoice_send(invoice=invoice, actor=Actor.system())
    invoiced = deposit_payable(estimate=estimate)
    assert invoiced.closed == "This estimate has been invoiced; pay the invoice instead."
    assert invoiced.due == ZERO


def test_an_unsigned_estimate_or_one_without_a_deposit_asks_for_nothing(customer, connected):
    none = SignedEstimateFactory(customer=customer, lines=roof(), revision=asks_deposit("0"))
    payable = deposit_payable(estimate=none)
    assert (payable.asked, payable.due, payable.closed) == (
        ZERO,
        ZERO,
        "This estimate asks for no deposit.",
    )
    actor = Actor.system()
    unsigned = documents.estimate_create(company=customer.company, customer=customer, actor=actor)
    payable = deposit_payable(estimate=unsigned)
    assert payable.asked == ZERO
    assert payable.closed == "The deposit can be paid once the estimate is signed."


def test_a_void_invoice_made_from_the_estimate_leaves_the_deposit_payable(customer, connected):
    estimate = SignedEstimateFactory(customer=customer, lines=roof(), revision=asks_deposit())
    invoice = services.estimate_convert(estimate=estimate, actor=Actor.system())
    documents.invoice_void(invoice=invoice, actor=Actor.system())
    payable = deposit_payable(estimate=estimate)
    assert payable.closed == "" and payable.due == Decimal("565.00")


def test_the_refund_confirmation_says_what_the_balance_becomes(invoice):
    payment = _record("356.00", invoice=invoice)
    invoice.refresh_from_db()
    payment = Payment.objects.select_related("invoice").get(pk=payment.pk)
    reversal = refund_effect(payment=payment, amount=Decimal("100.00"), kind=RefundKind.REVERSAL)
    assert reversal == RefundEffect(
        invoice, "balance", Decimal("1000.00"), Decimal("1100.00"), True
    )
    assert reversal.changes
    goodwill = refund_effect(payment=payment, amount=Decimal("100.00"), kind=RefundKind.GOODWILL)
    assert (goodwill.before, goodwill.after, goodwill.changes) == (
        Decimal("1000.00"),
        Decimal("1000.00"),
        False,
    )


def test_refunding_a_deposit_moves_the_deposit_or_the_invoice_it_was_credited_on(customer):
    estimate = SignedEstimateFactory(
        customer=customer, lines=roof(), revision=asks_deposit()
    )  # asks $565.00
    deposit = _record("565.00", estimate=estimate)
    deposit = Payment.objects.select_related("invoice", "estimate").get(pk=deposit.pk)
    before_invoice = refund_effect(
        payment=deposit, amount=Decimal("100.00"), kind=RefundKind.REVERSAL
    )
    assert before_invoice == RefundEffect(
        estimate, "deposit_paid", Decimal("565.00"), Decimal("465.00"), True
    )
    goodwill = refund_effect(payment=deposit, amount=Decimal("100.00"), kind=RefundKind.GOODWILL)
    assert (goodwill.before, goodwill.after) == (Decimal("565.00"), Decimal("565.00"))

    invoice = services.estimate_convert(estimate=estimate, actor=Actor.system())
    documents.invoice_send(invoice=invoice, actor=Actor.system())
    deposit = Payment.objects.select_related("invoice", "estimate").get(pk=deposit.pk)
    on_invoice = refund_effect(payment=deposit, amount=Decimal("100.00"), kind=RefundKind.REVERSAL)
    # $2,260.00 less the $565.00 credit is due; $100.00 less credit makes it $1,795.00.
    assert (on_invoice.measure, on_invoice.before, on_invoice.after) == (
        "balance",
        Decimal("1695.00"),
        Decimal("1795.00"),
    )
    assert on_invoice.document == invoice


def test_a_jobs_payment_state_counts_its_sent_invoices_and_their_deposits(customer, job):
    def money():
        return job_money(job=job)

    assert money() == JobMoney(invoiced=ZERO, paid=ZERO, state="none")
    InvoiceFactory(customer=customer, job=job, sent=False)  # a draft is not a bill yet
    void = InvoiceFactory(
        customer=customer, job=job, lines=({"description": "Old", "unit_price": "500.00"},)
    )
    documents.invoice_void(invoice=void, actor=Actor.system())
    InvoiceFactory(customer=customer)  # no job's bill
    assert money().state == "none"

    invoice = InvoiceFactory(customer=customer, job=job)  # $1,356.00
    assert money() == JobMoney(invoiced=Decimal("1356.00"), paid=ZERO, state="unpaid")
    assert money().outstanding == Decimal("1356.00")
    _record("356.00", invoice=invoice)
    assert money() == JobMoney(
        invoiced=Decimal("1356.00"), paid=Decimal("356.00"), state="partially_paid"
    )
    assert money().outstanding == Decimal("1000.00")
    _record("1000.00", invoice=invoice)
    assert money().state == "paid" and money().outstanding == ZERO

    # A deposit credited on an invoice counts as paid on it.
    estimate = SignedEstimateFactory(
        customer=customer, job=job, lines=roof(), revision=asks_deposit()
    )
    _record("565.00", estimate=estimate)
    credited = services.estimate_convert(estimate=estimate, actor=Actor.system())
    # Converted but not sent yet: a draft, whose deposit credit is not money on a bill.
    assert money() == JobMoney(invoiced=Decimal("1356.00"), paid=Decimal("1356.00"), state="paid")
    documents.invoice_send(invoice=credited, actor=Actor.system())
    assert money() == JobMoney(
        invoiced=Decimal("3616.00"), paid=Decimal("1921.00"), state="partially_paid"
    )


def test_refunding_a_payment_on_a_void_invoice_changes_no_balance(invoice):
    """An invoice refunded in full and then voided owes nothing: a further refund on its
    payment (a goodwill gesture) moves no balance, and the page says so."""
    payment = _record("100.00", invoice=invoice)
    services.refund_create(payment=payment, amount=Decimal("100.00"), actor=Actor.system())
    documents.invoice_void(invoice=Invoice.objects.get(pk=invoice.pk), actor=Actor.system())
    payment = Payment.objects.select_related("invoice").get(pk=payment.pk)
    effect = refund_effect(payment=payment, amount=Decimal("50.00"), kind=RefundKind.REVERSAL)
    assert effect == RefundEffect(payment.invoice, "balance", ZERO, ZERO, True)
    assert not effect.changes


def test_refunding_a_payment_on_an_invoice_with_a_deposit_credit_keeps_the_credit(customer):
    estimate = SignedEstimateFactory(
        customer=customer, lines=roof(), revision=asks_deposit()
    )  # asks $565.00
    _record("565.00", estimate=estimate)
    invoice = services.estimate_convert(estimate=estimate, actor=Actor.system())
    documents.invoice_send(invoice=invoice, actor=Actor.system())
    payment = _record("695.00", invoice=Invoice.objects.get(pk=invoice.pk))
    payment = Payment.objects.select_related("invoice").get(pk=payment.pk)
    effect = refund_effect(payment=payment, amount=Decimal("100.00"), kind=RefundKind.REVERSAL)
    # $2,260.00 - $565.00 credit - $695.00 paid = $1,000.00; $100.00 back on the balance.
    assert (effect.before, effect.after) == (Decimal("1000.00"), Decimal("1100.00"))


def test_a_page_that_loaded_the_stripe_account_does_not_load_it_again(
    signed_estimate, invoice, connected
):
    """The portal's pages pass the account they already have: no second query for it."""
    for payable in (
        lambda: deposit_payable(estimate=signed_estimate, account=connected),
        lambda: invoice_payable(invoice=invoice, account=connected),
    ):
        with CaptureQueriesContext(connection) as queries:
            payable()
        assert not [q for q in queries if "stripeaccount" in q["sql"]]


def test_a_deposit_of_a_dollar_or_a_dollar_left_can_still_be_paid(customer, connected):
    small = SignedEstimateFactory(
        customer=customer, lines=roof(), revision=asks_deposit(fixed="1.00")
    )
    payable = deposit_payable(estimate=small)
    assert (payable.asked, payable.due, payable.closed) == (Decimal("1.00"), Decimal("1.00"), "")
    estimate = SignedEstimateFactory(
        customer=customer, lines=roof(), revision=asks_deposit()
    )  # asks $565.00
    _record("564.00", estimate=estimate)
    payable = deposit_payable(estimate=estimate)
    assert (payable.due, payable.closed) == (Decimal("1.00"), "")


def test_a_deposit_with_nothing_to_pay_by_card_shows_no_unconfirmed_attempt(
    signed_estimate, connected, settings
):
    attempt = start_checkout(signed_estimate).payment
    Payment.objects.filter(pk=attempt.pk).update(returned_at=timezone.now())
    assert deposit_payable(estimate=signed_estimate).unconfirmed == attempt
    _record("565.00", estimate=signed_estimate)  # paid by hand meanwhile
    paid = deposit_payable(estimate=signed_estimate)
    assert paid.closed == "The deposit is paid." and paid.unconfirmed is None
    settings.STRIPE_SECRET_KEY = ""
    assert deposit_payable(estimate=signed_estimate).unconfirmed is None


# --- Lists and their totals, as one company's user beside another company's rows ---------------


def _at(day: int, hour: int = 12) -> dt.datetime:
    """A moment of March 2026 in the company's time zone (Toronto)."""
    return timezone.make_aware(dt.datetime(2026, 3, day, hour))


def _row(
    invoice, amount, *, status=PaymentStatus.SUCCEEDED, method=PaymentMethod.CASH, when, **fields
) -> Payment:
    """A payment row as the services leave it (the reads below only read rows), created at
    ``when``."""
    payment = Payment.objects.create(
        company=invoice.company,
        customer=invoice.customer,
        invoice=invoice,
        purpose=PaymentPurpose.INVOICE,
        method=method,
        status=status,
        amount=Decimal(amount),
        applied=status == PaymentStatus.SUCCEEDED,
        **fields,
    )
    Payment.objects.filter(pk=payment.pk).update(created_at=when)
    payment.refresh_from_db()
    return payment


@pytest.fixture
def rival_invoice(outsider):
    """Another company's sent invoice."""
    return InvoiceFactory(customer=CustomerFactory(company=outsider.company))


def test_the_ledger_lists_only_the_companys_payments_for_each_filter(invoice, rival_invoice):
    card = PaymentMethod.CARD
    cash = _row(invoice, "100.00", when=_at(10))
    cash_same_moment = _row(invoice, "110.00", when=_at(10))
    cheque = _row(
        invoice, "200.00", method=PaymentMethod.CHEQUE, when=_at(12), amount_refunded="50.00"
    )
    processing = _row(invoice, "300.00", status=PaymentStatus.PROCESSING, method=card, when=_at(14))
    failed = _row(invoice, "400.00", status=PaymentStatus.FAILED, method=card, when=_at(14, 13))
    started = _row(invoice, "500.00", status=PaymentStatus.CREATED, method=card, when=_at(15))
    # The other company's rows, on the same days, of every kind.
    for day, status, method in (
        (10, PaymentStatus.SUCCEEDED, PaymentMethod.CASH),
        (12, PaymentStatus.SUCCEEDED, PaymentMethod.CHEQUE),
        (14, PaymentStatus.PROCESSING, card),
        (14, PaymentStatus.FAILED, card),
    ):
        _row(
            rival_invoice,
            "777.00",
            status=status,
            method=method,
            when=_at(day),
            amount_refunded="7.00" if method == PaymentMethod.CHEQUE else "0.00",
        )

    def listed(**filters):
        return list(payment_list(company=invoice.company, filters=PaymentFilters(**filters)))

    # The ledger: money received or on its way, newest first (the later row first at a tie).
    ledger = [processing, cheque, cash_same_moment, cash]
    assert listed() == ledger
    assert listed(status="nonsense", method="nonsense") == ledger
    assert listed(status=PaymentStatus.FAILED) == [failed]
    assert listed(status=PaymentStatus.CREATED) == [started]
    assert listed(status=PaymentStatus.SUCCEEDED) == [cheque, cash_same_moment, cash]
    assert listed(status="refunded") == [cheque]
    assert listed(method=PaymentMethod.CHEQUE) == [cheque]
    assert listed(method=card) == [processing]
    # Days are the company's days, both ends included.
    assert listed(start=dt.date(2026, 3, 12)) == [processing, cheque]
    assert listed(end=dt.date(2026, 3, 12)) == [cheque, cash_same_moment, cash]
    assert listed(start=dt.date(2026, 3, 12), end=dt.date(2026, 3, 12)) == [cheque]
    assert listed(start=dt.date(2026, 3, 11), end=dt.date(2026, 3, 13)) == [cheque]


def test_a_refunded_attempt_that_failed_is_not_in_the_refunded_ledger(invoice):
    """Only money that came in can have gone back: "refunded" lists succeeded payments."""
    refunded = _row(invoice, "200.00", when=_at(12), amount_refunded="20.00")
    _row(
        invoice,
        "300.00",
        status=PaymentStatus.FAILED,
        method=PaymentMethod.CARD,
        when=_at(13),
        amount_refunded="30.00",
    )
    _row(invoice, "400.00", when=_at(14))  # nothing refunded
    filters = PaymentFilters(status="refunded")
    assert list(payment_list(company=invoice.company, filters=filters)) == [refunded]


def test_the_ledgers_totals_count_only_money_that_came_in(invoice, rival_invoice):
    _row(invoice, "100.00", when=_at(10))
    _row(invoice, "200.00", method=PaymentMethod.CHEQUE, when=_at(12), amount_refunded="50.00")
    _row(
        invoice, "300.00", status=PaymentStatus.PROCESSING, method=PaymentMethod.CARD, when=_at(14)
    )
    # A failed attempt Stripe reversed: listed on request, but no money in or out.
    _row(
        invoice,
        "400.00",
        status=PaymentStatus.FAILED,
        method=PaymentMethod.CARD,
        when=_at(14),
        amount_refunded="40.00",
    )
    _row(rival_invoice, "9000.00", when=_at(12), amount_refunded="900.00")

    def totals(**filters):
        payments = payment_list(company=invoice.company, filters=PaymentFilters(**filters))
        return payment_totals(payments=payments)

    assert totals() == {
        "collected": Decimal("300.00"),
        "refunded": Decimal("50.00"),
        "net": Decimal("250.00"),
        "count": 3,
    }
    assert totals(status=PaymentStatus.FAILED) == {
        "collected": ZERO,
        "refunded": ZERO,
        "net": ZERO,
        "count": 1,
    }
    assert totals(method=PaymentMethod.CHEQUE)["net"] == Decimal("150.00")


def test_the_payments_page_shows_the_companys_totals_only(
    invoice, rival_invoice, owner_client, outsider_client
):
    _row(invoice, "123.45", when=_at(10))
    _row(rival_invoice, "67.89", when=_at(10))
    _row(rival_invoice, "10.00", when=_at(11))
    mine = owner_client.get(reverse("billing_dashboard:payment_list")).content.decode()
    theirs = outsider_client.get(reverse("billing_dashboard:payment_list")).content.decode()
    assert "$123.45" in mine and "$67.89" not in mine and "$77.89" not in mine
    assert "$77.89" in theirs and "$123.45" not in theirs and "$201.34" not in theirs


def test_the_tips_report_lists_the_companys_tips_that_went_through(invoice, rival_invoice):
    def tipped(tip, *, day, status=PaymentStatus.SUCCEEDED, payment_invoice=invoice):
        payment = _row(
            payment_invoice,
            "100.00",
            status=status,
            method=PaymentMethod.CARD,
            when=_at(day),
            tip_amount=Decimal(tip),
        )
        Payment.objects.filter(pk=payment.pk).update(succeeded_at=_at(day, 20))
        return payment

    first = tipped("5.00", day=10)
    second = tipped("7.25", day=12)
    second_same_moment = tipped("1.00", day=12)
    tipped("9.00", day=12, status=PaymentStatus.FAILED)
    tipped("0.00", day=12)
    tipped("11.00", day=12, payment_invoice=rival_invoice)

    def report(**dates):
        payments, total = tips_report(company=invoice.company, **dates)
        return list(payments), total

    assert report() == ([second_same_moment, second, first], Decimal("13.25"))
    # Days (the day the tip went through, 8 p.m. in Toronto: the next day in UTC), both ends.
    assert report(start=dt.date(2026, 3, 12)) == ([second_same_moment, second], Decimal("8.25"))
    assert report(end=dt.date(2026, 3, 10)) == ([first], Decimal("5.00"))
    assert report(start=dt.date(2026, 3, 11), end=dt.date(2026, 3, 11)) == ([], ZERO)
    assert report(start=dt.date(2026, 3, 10), end=dt.date(2026, 3, 10)) == (
        [first],
        Decimal("5.00"),
    )


def test_a_payment_or_issue_of_another_company_is_not_found(invoice, rival_invoice):
    from django.http import Http404

    mine = _row(invoice, "100.00", when=_at(10))
    theirs = _row(rival_invoice, "100.00", when=_at(10))
    my_issue = PaymentIssue.objects.create(
        company=invoice.company, payment=mine, kind=IssueKind.OVERPAID
    )
    their_issue = PaymentIssue.objects.create(
        company=rival_invoice.company, payment=theirs, kind=IssueKind.OVERPAID
    )
    assert payment_get(company=invoice.company, public_id=mine.public_id) == mine
    assert issue_get(company=invoice.company, public_id=my_issue.public_id) == my_issue
    with pytest.raises(Http404):
        payment_get(company=invoice.company, public_id=theirs.public_id)
    with pytest.raises(Http404):
        issue_get(company=invoice.company, public_id=their_issue.public_id)


def test_the_issue_list_shows_the_companys_open_issues_newest_first(invoice, rival_invoice):
    payments = [_row(invoice, "100.00", when=_at(10)) for _ in range(3)]

    def issue(payment, kind, *, day, resolved=False):
        row = PaymentIssue.objects.create(company=payment.company, payment=payment, kind=kind)
        PaymentIssue.objects.filter(pk=row.pk).update(
            created_at=_at(day), resolved_at=_at(day + 1) if resolved else None
        )
        return row

    old = issue(payments[0], IssueKind.OVERPAID, day=10)
    tie = issue(payments[1], IssueKind.OVERPAID, day=10)
    resolved = issue(payments[2], IssueKind.OVERPAID, day=12, resolved=True)
    new = issue(payments[2], IssueKind.AMOUNT_MISMATCH, day=14)
    theirs = _row(rival_invoice, "100.00", when=_at(10))
    issue(theirs, IssueKind.OVERPAID, day=14)
    issue(theirs, IssueKind.AMOUNT_MISMATCH, day=14, resolved=True)

    company = invoice.company
    assert list(issue_list(company=company)) == [new, tie, old]
    assert list(issue_list(company=company, open_only=True)) == [new, tie, old]
    assert list(issue_list(company=company, open_only=False)) == [new, resolved, tie, old]
    assert open_issue_count(company=company) == 3
    assert open_issue_count(company=rival_invoice.company) == 1


def test_a_payments_refunds_are_listed_newest_first(invoice):
    payment = _record("300.00", invoice=invoice)
    refunds = [
        services.refund_create(payment=payment, amount=Decimal("10.00"), actor=Actor.system())
        for _ in range(3)
    ]
    Refund.objects.filter(pk__in=[r.pk for r in refunds[:2]]).update(created_at=_at(10))
    Refund.objects.filter(pk=refunds[2].pk).update(created_at=_at(9))
    assert list(payment_refunds(payment=payment)) == [refunds[1], refunds[0], refunds[2]]


# --- A document's payments ----------------------------------------------------------------------


def _deposit_row(estimate, amount, *, status=PaymentStatus.SUCCEEDED, when, **fields) -> Payment:
    payment = Payment.objects.create(
        company=estimate.company,
        customer=estimate.customer,
        estimate=estimate,
        purpose=PaymentPurpose.DEPOSIT,
        method=PaymentMethod.CARD,
        status=status,
        amount=Decimal(amount),
        applied=status == PaymentStatus.SUCCEEDED,
        **fields,
    )
    Payment.objects.filter(pk=payment.pk).update(created_at=when, succeeded_at=when)
    payment.refresh_from_db()
    return payment


@pytest.fixture
def invoiced_estimate(customer):
    """A signed estimate asking $565.00, converted to a sent $2,260.00 invoice."""
    estimate = SignedEstimateFactory(customer=customer, lines=roof(), revision=asks_deposit())
    invoice = services.estimate_convert(estimate=estimate, actor=Actor.system())
    documents.invoice_send(invoice=invoice, actor=Actor.system())
    return estimate, Invoice.objects.get(pk=invoice.pk)


def test_an_invoices_payments_panel_lists_its_payments_and_its_deposit(customer, invoiced_estimate):
    estimate, invoice = invoiced_estimate
    deposit = _deposit_row(estimate, "565.00", when=_at(5))
    failed_deposit = _deposit_row(estimate, "565.00", status=PaymentStatus.FAILED, when=_at(4))
    _deposit_row(estimate, "565.00", status=PaymentStatus.CREATED, when=_at(6))
    _deposit_row(estimate, "565.00", status=PaymentStatus.CANCELLED, when=_at(6))
    paid = _row(invoice, "100.00", when=_at(10))
    paid_same_moment = _row(invoice, "200.00", when=_at(10))
    processing = _row(
        invoice, "300.00", status=PaymentStatus.PROCESSING, method=PaymentMethod.CARD, when=_at(11)
    )
    _row(invoice, "50.00", status=PaymentStatus.CREATED, method=PaymentMethod.CARD, when=_at(12))
    _row(invoice, "60.00", status=PaymentStatus.CANCELLED, method=PaymentMethod.CARD, when=_at(12))
    # Another estimate's deposit and another invoice's payment of the same customer.
    other_estimate = SignedEstimateFactory(customer=customer, lines=roof(), revision=asks_deposit())
    other_deposit = _deposit_row(other_estimate, "565.00", when=_at(7))
    _row(InvoiceFactory(customer=customer), "70.00", when=_at(8))

    expected = [processing, paid_same_moment, paid, deposit, failed_deposit]
    assert invoice_payments(invoice=invoice) == expected
    assert estimate_deposit_payments(estimate=estimate) == [deposit, failed_deposit]
    assert estimate_deposit_payments(estimate=other_estimate) == [other_deposit]
    # An invoice made from no estimate lists its own payments only.
    plain = InvoiceFactory(customer=customer)
    own = _row(plain, "80.00", when=_at(9))
    assert invoice_payments(invoice=plain) == [own]


def test_the_customers_receipts_are_the_money_that_counted_oldest_first(
    customer, invoiced_estimate
):
    estimate, invoice = invoiced_estimate
    deposit = _deposit_row(estimate, "565.00", when=_at(5))
    _deposit_row(estimate, "565.00", status=PaymentStatus.FAILED, when=_at(4))
    second = _row(invoice, "200.00", when=_at(10))
    first = _row(invoice, "100.00", when=_at(10))
    for payment, moment in ((second, _at(10)), (first, _at(9))):
        Payment.objects.filter(pk=payment.pk).update(succeeded_at=moment)
    tie = _row(invoice, "10.00", when=_at(10))
    Payment.objects.filter(pk=tie.pk).update(succeeded_at=_at(10))
    # Money that did not count toward the invoice (an overpayment held for review), and
    # attempts that took none.
    unapplied = _row(invoice, "30.00", when=_at(11))
    Payment.objects.filter(pk=unapplied.pk).update(applied=False, succeeded_at=_at(11))
    _row(invoice, "40.00", status=PaymentStatus.PROCESSING, method=PaymentMethod.CARD, when=_at(11))
    other_estimate = SignedEstimateFactory(customer=customer, lines=roof(), revision=asks_deposit())
    other_deposit = _deposit_row(other_estimate, "565.00", when=_at(3))
    _row(InvoiceFactory(customer=customer), "70.00", when=_at(8))

    assert document_payments(document=invoice) == [deposit, first, second, tie]
    assert document_payments(document=estimate) == [deposit]
    assert document_payments(document=other_estimate) == [other_deposit]
    plain = InvoiceFactory(customer=customer)
    own = _row(plain, "80.00", when=_at(9))
    Payment.objects.filter(pk=own.pk).update(succeeded_at=_at(9))
    assert document_payments(document=plain) == [own]


def test_what_the_return_page_says_about_each_card_attempt():
    def state(status, session_status=None, *, applied=False):
        payment = Payment(status=status, applied=applied)
        if session_status is None:
            return customer_payment_state(payment=payment)
        return customer_payment_state(payment=payment, session_status=session_status)

    succeeded = PaymentStatus.SUCCEEDED
    assert state(succeeded, "open", applied=True) == "paid"
    assert state(succeeded, "expired", applied=True) == "paid"
    assert state(succeeded, applied=False) == "received"
    assert state(PaymentStatus.PROCESSING, "expired") == "processing"
    assert state(PaymentStatus.PROCESSING, "open") == "processing"
    assert state(PaymentStatus.FAILED, "open") == "failed"
    assert state(PaymentStatus.FAILED, "expired") == "failed"
    assert state(PaymentStatus.CANCELLED, "open") == "expired"
    assert state(PaymentStatus.CANCELLED) == "expired"
    assert state(PaymentStatus.CREATED, "expired") == "expired"
    assert state(PaymentStatus.CREATED, "open") == "unpaid"
    assert state(PaymentStatus.CREATED, "complete") == "confirming"
    assert state(PaymentStatus.CREATED, "") == "confirming"
    assert state(PaymentStatus.CREATED) == "confirming"


# --- The portal's cached pages: what billing's slots put in a page's key -----------------------


def _link_states(link) -> tuple:
    row = (
        PortalLink.objects.filter(pk=link.pk)
        .annotate(payments=link_payments_state(), invoiced=link_invoiced_state())
        .get()
    )
    return row.payments, row.invoiced


def test_a_links_payment_state_holds_every_field_of_its_documents_payments(
    customer, invoiced_estimate
):
    estimate, invoice = invoiced_estimate
    actor = Actor.system()
    invoice_link = link_create(customer=customer, actor=actor, document=invoice).link
    estimate_link = link_create(customer=customer, actor=actor, document=estimate).link
    home_link = link_create(customer=customer, actor=actor).link
    # Only an estimate's link asks whether it was invoiced.
    assert _link_states(invoice_link) == (None, False)
    assert _link_states(estimate_link) == (None, True)
    assert _link_states(home_link) == (None, False)

    deposit = _deposit_row(estimate, "565.00", when=_at(5))
    paid = _row(invoice, "100.00", when=_at(10), note="first")
    # Another document's payment of the same customer is no part of either.
    _row(InvoiceFactory(customer=customer), "70.00", when=_at(8))

    fields = Payment._meta.concrete_fields
    state, _ = _link_states(invoice_link)
    rows = state.split(";")
    assert len(rows) == 2  # the deposit, and the invoice's payment
    for row, payment in zip(rows, (deposit, paid), strict=True):
        values = row.split("|")
        assert len(values) == len(fields)
        by_name = dict(zip((f.attname for f in fields), values, strict=True))
        assert by_name["id"] == str(payment.pk)
        assert by_name["public_id"] == payment.public_id
        assert by_name["amount"] == str(payment.amount)
        assert by_name["status"] == "succeeded"
        assert by_name["returned_at"] == "~"  # NULL
    assert by_name["estimate_id"] == "~" and by_name["note"] == "first"
    estimate_state, _ = _link_states(estimate_link)
    assert estimate_state == rows[0]  # the deposit alone
    assert _link_states(home_link) == (None, False)

    # In id order, whatever the order the rows are stored in (an UPDATE moves a row).
    Payment.objects.filter(pk=deposit.pk).update(note="moved")
    state, _ = _link_states(invoice_link)
    assert [r.split("|")[0] for r in state.split(";")] == [str(deposit.pk), str(paid.pk)]
    # Any change to any of those rows changes the state.
    before = state
    Payment.objects.filter(pk=paid.pk).update(returned_at=_at(11))
    after, _ = _link_states(invoice_link)
    assert after != before and after.split(";")[0] == before.split(";")[0]


def test_a_links_invoiced_state_says_whether_its_estimate_has_a_live_invoice(customer, connected):
    estimate = SignedEstimateFactory(customer=customer, lines=roof(), revision=asks_deposit())
    link = link_create(customer=customer, actor=Actor.system(), document=estimate).link
    assert _link_states(link) == (None, False)
    invoice = services.estimate_convert(estimate=estimate, actor=Actor.system())
    assert _link_states(link) == (None, True)  # a draft counts: the deposit goes on it
    documents.invoice_void(invoice=invoice, actor=Actor.system())
    assert _link_states(link) == (None, False)
    # Another estimate's invoice is not this one's.
    other = SignedEstimateFactory(customer=customer, lines=roof(), revision=asks_deposit())
    services.estimate_convert(estimate=other, actor=Actor.system())
    assert _link_states(link) == (None, False)


def test_the_sql_constants_of_the_state_query_refuse_quotes_and_percent_signs():
    from billing.selectors import _Text

    for text in ("it's", "5%", "'", "%"):
        with pytest.raises(ValueError, match=f"^{text}$"):  # names the text refused
            _Text(text)
    assert _Text("|").value == "|"


def test_the_slots_key_holds_the_stripe_row_the_platform_key_and_the_links_state(
    customer, invoice, connected, settings
):
    from crewcommand.lib.pagecache import row_state

    link = link_create(customer=customer, actor=Actor.system(), document=invoice).link
    link = PortalLink.objects.select_related("company").get(pk=link.pk)
    assert portal_slot_state(link) == (True, row_state(connected), None, None)
    link.billing_payments, link.billing_invoiced = "state", False
    assert portal_slot_state(link) == (True, row_state(connected), "state", False)
    settings.STRIPE_SECRET_KEY = ""
    connected.delete()
    link = PortalLink.objects.select_related("company").get(pk=link.pk)
    assert portal_slot_state(link) == (False, (None,), None, None)


def test_the_stripe_account_loaded_with_the_company_costs_no_query(company, connected, outsider):
    loaded = Company.objects.select_related("stripe_account").get(pk=company.pk)
    with CaptureQueriesContext(connection) as queries:
        assert stripe_account_for(company=loaded) == connected
    assert len(queries) == 0
    bare = Company.objects.select_related("stripe_account").get(pk=outsider.company.pk)
    with CaptureQueriesContext(connection) as queries:
        assert stripe_account_for(company=bare) is None
    assert len(queries) == 0
    with CaptureQueriesContext(connection) as queries:
        assert stripe_account_for(company=Company.objects.get(pk=company.pk)) == connected
        assert stripe_account_for(company=Company.objects.get(pk=outsider.company.pk)) is None
    assert len([q for q in queries if "stripeaccount" in q["sql"]]) == 2


def test_card_payments_need_the_platform_key_and_a_ready_account(connected, settings):
    assert online_payment_ready(account=connected) is True
    assert online_payment_ready(account=None) is False
    connected.charges_enabled = False
    assert online_payment_ready(account=connected) is False
    connected.charges_enabled = True
    connected.account_id = ""
    assert online_payment_ready(account=connected) is False
    connected.account_id = "acct_1"
    settings.STRIPE_SECRET_KEY = ""
    assert online_payment_ready(account=connected) is False


# --- What an invoice asks for: more cases ---------------------------------------------------------


def test_an_invoice_with_a_deposit_credit_asks_for_the_rest(customer, connected):
    estimate = SignedEstimateFactory(customer=customer, lines=roof(), revision=asks_deposit())
    _record("565.00", estimate=estimate)
    invoice = services.estimate_convert(estimate=estimate, actor=Actor.system())  # $2,260.00
    documents.invoice_send(invoice=invoice, actor=Actor.system())
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert invoice.deposit_credit == Decimal("565.00")
    payable = invoice_payable(invoice=invoice)
    assert (payable.asked, payable.paid, payable.due) == (
        Decimal("1695.00"),
        ZERO,
        Decimal("1695.00"),
    )
    _record("1000.00", invoice=invoice)
    payable = invoice_payable(invoice=Invoice.objects.get(pk=invoice.pk))
    assert (payable.asked, payable.paid, payable.due) == (
        Decimal("1695.00"),
        Decimal("1000.00"),
        Decimal("695.00"),
    )


def test_an_invoice_with_cents_left_to_pay_is_still_open(invoice, connected):
    _record("1355.25", invoice=invoice)
    payable = invoice_payable(invoice=Invoice.objects.get(pk=invoice.pk))
    assert (payable.due, payable.closed) == (Decimal("0.75"), "")
    assert payable.can_pay_online  # above Stripe's $0.50


def test_the_companys_payment_options_reach_the_invoices_pay_card(invoice, connected, settings):
    payable = invoice_payable(invoice=invoice)
    # A connected account with its defaults: whole payments, no bank debit, no tips.
    assert (payable.allow_partial, payable.bank_debit, payable.tips) == (False, False, False)
    assert payable.minimum == connected.minimum_partial_amount
    connected.accept_bank_debit = True
    connected.save()
    payable = invoice_payable(invoice=invoice)
    assert (payable.bank_debit, payable.tips) == (True, False)
    connected.accept_bank_debit = False
    connected.tips_enabled = True
    connected.save()
    payable = invoice_payable(invoice=invoice)
    assert (payable.bank_debit, payable.tips) == (False, True)
    # Without the platform's key, neither: there is no card payment to add them to.
    connected.accept_bank_debit = True
    connected.save()
    settings.STRIPE_SECRET_KEY = ""
    payable = invoice_payable(invoice=invoice)
    assert (payable.online, payable.bank_debit, payable.tips) == (False, False, False)


def test_an_invoice_asks_for_a_code_above_the_companys_threshold(invoice, connected):
    company = invoice.company
    company.step_up_required = True
    company.step_up_above = Decimal("2000.00")
    company.save()
    assert invoice_payable(invoice=Invoice.objects.get(pk=invoice.pk)).step_up is False
    company.step_up_above = Decimal("1355.99")  # the invoice's $1,356.00 is above
    company.save()
    assert invoice_payable(invoice=Invoice.objects.get(pk=invoice.pk)).step_up is True
    _record("356.00", invoice=invoice)  # $1,000.00 left: below
    assert invoice_payable(invoice=Invoice.objects.get(pk=invoice.pk)).step_up is False


def test_a_paid_invoice_shows_no_unconfirmed_attempt(invoice, connected):
    attempt = start_checkout(invoice).payment
    Payment.objects.filter(pk=attempt.pk).update(returned_at=timezone.now())
    assert invoice_payable(invoice=invoice).unconfirmed == attempt
    _record("1356.00", invoice=invoice)  # paid by hand meanwhile
    paid = invoice_payable(invoice=Invoice.objects.get(pk=invoice.pk))
    assert paid.closed == "This invoice is paid in full." and paid.unconfirmed is None


def test_only_a_card_attempt_of_this_document_and_purpose_waits_for_confirmation(
    invoiced_estimate, connected
):
    """The invoice's attempts are its own; a deposit attempt on its estimate, or an attempt
    the customer never came back from, is not one."""
    estimate, invoice = invoiced_estimate
    deposit = _deposit_row(estimate, "565.00", status=PaymentStatus.CREATED, when=_at(5))
    Payment.objects.filter(pk=deposit.pk).update(returned_at=_at(5))
    assert unconfirmed_payment(document=invoice) is None
    assert unconfirmed_payment(document=estimate) == deposit
    # A succeeded or failed attempt the customer came back from is settled either way.
    for status in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELLED):
        settled = _row(invoice, "10.00", status=status, method=PaymentMethod.CARD, when=_at(6))
        Payment.objects.filter(pk=settled.pk).update(returned_at=_at(6))
    assert unconfirmed_payment(document=invoice) is None
    older = _row(
        invoice, "20.00", status=PaymentStatus.PROCESSING, method=PaymentMethod.CARD, when=_at(7)
    )
    newer = _row(
        invoice, "30.00", status=PaymentStatus.PROCESSING, method=PaymentMethod.CARD, when=_at(8)
    )
    tie = _row(
        invoice,
        "40.00",
        status=PaymentStatus.CREATED,
        method=PaymentMethod.CARD,
        when=_at(8),
        returned_at=_at(8),
    )
    assert unconfirmed_payment(document=invoice) == tie
    Payment.objects.filter(pk=tie.pk).delete()
    assert unconfirmed_payment(document=invoice) == newer
    Payment.objects.filter(pk=newer.pk).update(status=PaymentStatus.SUCCEEDED, applied=True)
    assert unconfirmed_payment(document=invoice) == older


# --- The lists' queries: as many for three rows as for one ---------------------------------------


def test_the_payment_tips_and_issue_lists_cost_the_same_queries_for_more_rows(
    company, owner_client, connected
):
    """Each row shows its customer, its document, its refunds and issues: read with the list,
    not once per row."""
    pages = [
        reverse("billing_dashboard:payment_list"),
        reverse("billing_dashboard:tips"),
        reverse("billing_dashboard:issue_list"),
    ]

    def add_rows():
        invoice = InvoiceFactory(customer=CustomerFactory(company=company))
        payment = _row(
            invoice,
            "100.00",
            method=PaymentMethod.CARD,
            when=_at(10),
            tip_amount=Decimal("5.00"),
            amount_refunded="10.00",
        )
        # Not applied (held for review): the ledger says why (its issues) and what is left
        # to refund (its refunds).
        Payment.objects.filter(pk=payment.pk).update(succeeded_at=_at(10), applied=False)
        Refund.objects.create(company=company, payment=payment, amount=Decimal("10.00"))
        PaymentIssue.objects.create(company=company, payment=payment, kind=IssueKind.OVERPAID)
        estimate = SignedEstimateFactory(
            customer=invoice.customer, lines=roof(), revision=asks_deposit()
        )
        deposit = _deposit_row(estimate, "50.00", when=_at(11))
        PaymentIssue.objects.create(company=company, payment=deposit, kind=IssueKind.OVERPAID)

    _same_queries_for_one_row_and_three(owner_client, pages, add_rows)
    ledger = owner_client.get(pages[0]).content.decode()
    assert ledger.count("duplicate, to refund") == 3


def test_the_tips_report_is_in_the_order_the_tips_went_through(invoice):
    """Newest first by when the money went through, not by when the attempt was started."""
    rows = []
    for started, went_through in ((10, 14), (11, 12), (12, 13)):
        payment = _row(
            invoice,
            "100.00",
            method=PaymentMethod.CARD,
            when=_at(started),
            tip_amount=Decimal("1.00"),
        )
        Payment.objects.filter(pk=payment.pk).update(succeeded_at=_at(went_through))
        rows.append(payment)
    payments, total = tips_report(company=invoice.company)
    assert list(payments) == [rows[0], rows[2], rows[1]] and total == Decimal("3.00")


def test_the_payment_panels_and_refund_list_cost_the_same_queries_for_more_rows(
    customer, owner_client, connected
):
    """The invoice's and the estimate's payment panels show each payment's refund button
    (``refundable``: its refunds) and its open issues; the payment page lists its refunds."""
    estimate = SignedEstimateFactory(customer=customer, lines=roof(), revision=asks_deposit())
    invoice = InvoiceFactory(customer=customer)

    def held(payment):
        """Money held for review: not applied, an issue, a refund under way."""
        Payment.objects.filter(pk=payment.pk).update(applied=False)
        Refund.objects.create(company=payment.company, payment=payment, amount=Decimal("1.00"))
        PaymentIssue.objects.create(
            company=payment.company, payment=payment, kind=IssueKind.AMOUNT_MISMATCH
        )

    def add_rows():
        held(_row(invoice, "100.00", method=PaymentMethod.CARD, when=_at(10)))
        held(_deposit_row(estimate, "50.00", when=_at(10)))

    pages = [
        reverse("billing_dashboard:invoice_payments", args=[invoice.public_id]),
        reverse("billing_dashboard:estimate_payments", args=[estimate.public_id]),
    ]
    _same_queries_for_one_row_and_three(owner_client, pages, add_rows)
    body = owner_client.get(pages[1]).content.decode()
    assert body.count("Not applied") == 3

    payment = Payment.objects.filter(invoice=invoice).first()
    detail = reverse("billing_dashboard:payment_detail", args=[payment.public_id])
    one = _queries(owner_client, detail)
    for _ in range(2):
        Refund.objects.create(company=payment.company, payment=payment, amount=Decimal("1.00"))
    assert _queries(owner_client, detail) == one


def test_a_deposits_payments_at_the_same_moment_are_newest_first(customer):
    estimate = SignedEstimateFactory(customer=customer, lines=roof(), revision=asks_deposit())
    first = _deposit_row(estimate, "100.00", when=_at(10))
    second = _deposit_row(estimate, "200.00", when=_at(10))
    earlier = _deposit_row(estimate, "50.00", when=_at(9))
    assert estimate_deposit_payments(estimate=estimate) == [second, first, earlier]


def test_the_issue_list_is_in_the_order_the_issues_were_raised(invoice):
    """Newest first by when each issue was raised, whatever order the rows were written in."""
    payments = [_row(invoice, "100.00", when=_at(10)) for _ in range(3)]
    issues = []
    for payment, day in zip(payments, (14, 10, 12), strict=True):
        issue = PaymentIssue.objects.create(
            company=payment.company, payment=payment, kind=IssueKind.OVERPAID
        )
        PaymentIssue.objects.filter(pk=issue.pk).update(created_at=_at(day))
        issues.append(issue)
    assert list(issue_list(company=invoice.company)) == [issues[0], issues[2], issues[1]]


def test_the_ledger_is_in_date_order_and_shows_a_refund_of_one_cent(invoice):
    """Newest first by when each payment was made, whatever order the rows were written in; a
    payment with one cent refunded is a refunded payment."""
    later = _row(invoice, "100.00", when=_at(14), amount_refunded="0.01")
    earlier = _row(invoice, "200.00", when=_at(10), amount_refunded="1.00")
    middle = _row(invoice, "300.00", when=_at(12))
    listed = payment_list(company=invoice.company, filters=PaymentFilters())
    assert list(listed) == [later, middle, earlier]
    refunded = payment_list(company=invoice.company, filters=PaymentFilters(status="refunded"))
    assert list(refunded) == [later, earlier]


def test_another_invoices_attempt_does_not_hold_this_invoices_pay_button(
    invoice, rival_invoice, connected
):
    """A card attempt the customer came back from on another invoice (of this customer, or of
    another company) is that invoice's business: this one still has its Pay button."""
    for other in (InvoiceFactory(customer=invoice.customer), rival_invoice):
        _row(
            other,
            "100.00",
            status=PaymentStatus.CREATED,
            method=PaymentMethod.CARD,
            when=_at(10),
            returned_at=_at(10),
        )
        _row(
            other, "50.00", status=PaymentStatus.PROCESSING, method=PaymentMethod.CARD, when=_at(11)
        )
    assert unconfirmed_payment(document=invoice) is None
    payable = invoice_payable(invoice=invoice)
    assert payable.unconfirmed is None and payable.can_pay_online


def test_a_deposit_attempt_holds_only_its_own_estimates_deposit(customer, connected):
    """A deposit attempt the customer came back from is its estimate's: not another estimate's,
    and not the invoice's once the estimate is invoiced (the deposit payments are then linked
    to the invoice). Of two, the one started last is shown."""
    estimate = SignedEstimateFactory(customer=customer, lines=roof(), revision=asks_deposit())
    other = SignedEstimateFactory(customer=customer, lines=roof(), revision=asks_deposit())
    started_last = _deposit_row(estimate, "565.00", status=PaymentStatus.CREATED, when=_at(12))
    started_first = _deposit_row(estimate, "565.00", status=PaymentStatus.CREATED, when=_at(10))
    Payment.objects.filter(pk__in=[started_last.pk, started_first.pk]).update(returned_at=_at(12))
    assert unconfirmed_payment(document=other) is None
    assert unconfirmed_payment(document=estimate) == started_last
    invoice = services.estimate_convert(estimate=estimate, actor=Actor.system())
    documents.invoice_send(invoice=invoice, actor=Actor.system())
    assert Payment.objects.get(pk=started_last.pk).invoice_id == invoice.pk
    assert unconfirmed_payment(document=Invoice.objects.get(pk=invoice.pk)) is None


def _queries(client, url) -> int:
    """The queries of a page's second load (the first warms what is compiled once)."""
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def _same_queries_for_one_row_and_three(client, pages, add_rows) -> None:
    """Each page costs as many queries with three rows (``add_rows`` three times) as with one."""
    add_rows()
    one = {url: _queries(client, url) for url in pages}
    add_rows()
    add_rows()
    assert {url: _queries(client, url) for url in pages} == one


def test_the_payment_page_reads_its_payment_with_everything_it_shows_in_three_queries(
    invoiced_estimate, owner
):
    """The payment page, the refund form and the move form show the payment's customer, its
    invoice and estimate (a deposit credited on an invoice has both), who recorded it, its
    issues and its refunds: one query for the row and its relations, one each for the issues
    and the refunds, and none after."""
    estimate, invoice = invoiced_estimate
    deposit = _deposit_row(estimate, "565.00", when=_at(5), invoice=invoice, created_by=owner.user)
    issue = PaymentIssue.objects.create(
        company=deposit.company, payment=deposit, kind=IssueKind.OVERPAID
    )
    refund = Refund.objects.create(company=deposit.company, payment=deposit, amount=Decimal("5.00"))
    company = deposit.company
    with CaptureQueriesContext(connection) as queries:
        payment = payment_get(company=company, public_id=deposit.public_id)
    assert len(queries) == 3
    with CaptureQueriesContext(connection) as after:
        shown = (
            payment.customer.name,
            payment.invoice.display_number,
            payment.estimate.display_number,
            payment.created_by.first_name,
            list(payment.issues.all()),
            list(payment.refunds.all()),
        )
    assert len(after) == 0
    assert shown == (
        invoice.customer.name,
        invoice.display_number,
        estimate.display_number,
        "Olivia",
        [issue],
        [refund],
    )


def test_receipts_that_went_through_at_the_same_moment_are_in_the_order_they_were_made(invoice):
    """The customer's receipts, oldest first: bank payments that went through in the same
    instant come in the order they were made (by id), whatever order they went through in."""
    made = [
        _row(
            invoice,
            amount,
            status=PaymentStatus.PROCESSING,
            method=PaymentMethod.CARD,
            when=_at(10),
        )
        for amount in ("100.00", "200.00", "300.00")
    ]
    for payment in reversed(made):
        Payment.objects.filter(pk=payment.pk).update(
            status=PaymentStatus.SUCCEEDED, applied=True, succeeded_at=_at(10)
        )
    assert document_payments(document=invoice) == made


def test_a_deposit_paid_counts_only_the_deposits_of_its_own_estimate(customer, connected):
    """Two signed estimates of one customer, each asking $565.00 (25 % of $2,260.00): what
    one's deposit has received is not the other's, so each still asks for its own rest."""
    estimate = SignedEstimateFactory(customer=customer, lines=roof(), revision=asks_deposit())
    other = SignedEstimateFactory(customer=customer, lines=roof(), revision=asks_deposit())
    _record("65.00", estimate=estimate)
    _record("100.00", estimate=other)
    mine, theirs = deposit_payable(estimate=estimate), deposit_payable(estimate=other)
    assert (mine.paid, mine.due) == (Decimal("65.00"), Decimal("500.00"))
    assert (theirs.paid, theirs.due) == (Decimal("100.00"), Decimal("465.00"))


def test_money_received_but_not_applied_is_not_in_what_a_document_has_received(invoice):
    """A payment that succeeded but was not applied (money flagged for the contractor: another
    currency, more than was due) is kept apart: what the invoice has received is the $100.00
    applied, not $150.00."""
    _record("100.00", invoice=invoice)
    flagged = _record("50.00", invoice=invoice)
    Payment.objects.filter(pk=flagged.pk).update(applied=False)
    assert applied_net(Payment.objects.filter(invoice=invoice)) == Decimal("100.00")
