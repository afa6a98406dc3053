"""Payment reads (``billing.selectors``) as the pages, messages and payments use them: written
for the mutants the page tests left alive (``scripts/mutation selectors``)."""

from __future__ import annotations

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
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    RefundKind,
)
from billing.selectors import (
    JobMoney,
    Payable,
    RefundEffect,
    deposit_payable,
    invoice_payable,
    job_money,
    payment_link,
    refund_effect,
)
from crewcommand.lib.activity import Actor
from documents import services as documents
from documents.models import Invoice
from portal.services import link_create
from tests.billing.conftest import deposit as asks_deposit
from tests.billing.conftest import roof, start_checkout
from tests.factories import InvoiceFactory, SignedEstimateFactory

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
