"""Shared by the billing services: activity sentences, metadata keys, the lock order
(estimate → invoice → payment) and recomputing a document's money from the rows."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, cast

from django.db.models import Q, Sum
from django.utils.translation import gettext_lazy

from billing.models import (
    ZERO,
    Payment,
    PaymentPurpose,
    Refund,
    RefundKind,
    RefundStatus,
)
from billing.selectors import (
    applied_net,
)
from crewcommand.lib import activity
from crewcommand.lib.activity import Actor
from crewcommand.lib.money import format_cad
from documents.models import Estimate, Invoice, InvoiceStatus

logger = logging.getLogger(__name__)


activity.SENTENCES.update(
    {
        "payment.received": gettext_lazy("%(actor)s paid %(amount)s by card on %(number)s"),
        "payment.processing": gettext_lazy(
            "%(actor)s started a %(amount)s bank payment on %(number)s"
        ),
        "payment.failed": gettext_lazy("A %(amount)s payment on %(number)s failed"),
        "payment.recorded": gettext_lazy(
            "%(actor)s recorded a %(amount)s %(method)s payment on %(number)s"
        ),
        "payment.flagged": gettext_lazy(
            "A %(amount)s card payment on %(number)s needs attention: %(problem)s"
        ),
        "refund.created": gettext_lazy("%(actor)s refunded %(amount)s on %(number)s"),
        "refund.failed": gettext_lazy("A %(amount)s refund on %(number)s failed"),
        "deposit.credited": gettext_lazy(
            "%(actor)s credited the %(amount)s deposit to invoice %(number)s"
        ),
        "stripe.connected": gettext_lazy("%(actor)s connected Stripe account %(account)s"),
        "stripe.disconnected": gettext_lazy("%(actor)s disconnected Stripe"),
        "stripe.options_updated": gettext_lazy("%(actor)s changed online payment options"),
        "payment_issue.resolved": gettext_lazy(
            "%(actor)s resolved a payment issue on %(number)s: %(resolution)s"
        ),
    }
)

META_PAYMENT = "cc_payment"

META_COMPANY = "cc_company"

META_INVOICE = "cc_invoice"

META_ESTIMATE = "cc_estimate"

META_REFUND = "cc_refund"


@dataclass
class Locked:
    """The rows of one payment's document, locked in order."""

    estimate: Estimate | None
    invoice: Invoice | None

    @property
    def document(self) -> Invoice | Estimate:
        return cast("Invoice | Estimate", self.invoice if self.estimate is None else self.estimate)


def _lock_documents(*, purpose: str, invoice_id: int | None, estimate_id: int | None) -> Locked:
    if purpose == PaymentPurpose.DEPOSIT:
        estimate = (
            Estimate.objects.select_for_update(of=("self",))
            .select_related("company")
            .get(pk=cast(int, estimate_id))
        )
        invoice = (
            Invoice.objects.select_for_update()
            .filter(estimate=estimate)
            .exclude(status=InvoiceStatus.VOID)
            .order_by("pk")
            .first()
        )
        return Locked(estimate=estimate, invoice=invoice)
    invoice = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("company")
        .get(pk=cast(int, invoice_id))
    )
    return Locked(estimate=None, invoice=invoice)


def _lock_payment(payment_id: int) -> tuple[Locked, Payment]:
    """Lock a payment's document(s), then read the payment. The document's lock is the
    payment's lock: every change to a payment's or a refund's state or amounts takes it first,
    so the row read after it is the latest committed one and no second lock is needed."""
    ref = Payment.objects.values("purpose", "invoice_id", "estimate_id").get(pk=payment_id)
    locked = _lock_documents(
        purpose=ref["purpose"], invoice_id=ref["invoice_id"], estimate_id=ref["estimate_id"]
    )
    payment = Payment.objects.select_related("customer", "company").get(pk=payment_id)
    return locked, payment


def _invoice_status(invoice: Invoice) -> str:
    """Status from money: paid when nothing is left, partly paid when something was paid, and
    back to where it was (viewed, sent, draft) when refunds take everything back."""
    if invoice.status == InvoiceStatus.VOID:
        return InvoiceStatus.VOID
    if invoice.status == InvoiceStatus.DRAFT and invoice.amount_paid <= 0:
        return InvoiceStatus.DRAFT
    if (
        invoice.total > 0
        and invoice.balance <= 0
        and (invoice.amount_paid > 0 or invoice.deposit_credit > 0)
    ):
        return InvoiceStatus.PAID
    if invoice.amount_paid > 0:
        return InvoiceStatus.PARTIALLY_PAID
    if invoice.viewed_at:
        return InvoiceStatus.VIEWED
    return InvoiceStatus.SENT if invoice.sent_at else InvoiceStatus.DRAFT


def _recompute_invoice(invoice: Invoice) -> None:
    """Set amount_paid, deposit_credit and status from the rows. Call with the invoice locked."""
    invoice.amount_paid = applied_net(
        Payment.objects.filter(invoice=invoice, purpose=PaymentPurpose.INVOICE)
    )
    if invoice.estimate_id:
        deposit = applied_net(
            Payment.objects.filter(estimate_id=invoice.estimate_id, purpose=PaymentPurpose.DEPOSIT)
        )
        invoice.deposit_credit = min(deposit, invoice.total)
    invoice.status = _invoice_status(invoice)
    invoice.save(update_fields=["amount_paid", "deposit_credit", "status", "updated_at"])


def _recompute_payment_refunds(payment: Payment) -> None:
    totals = payment.refunds.filter(status=RefundStatus.SUCCEEDED).aggregate(
        all=Sum("amount"), goodwill=Sum("amount", filter=Q(kind=RefundKind.GOODWILL))
    )
    payment.amount_refunded = totals["all"] or ZERO
    payment.amount_refunded_goodwill = totals["goodwill"] or ZERO
    payment.save(update_fields=["amount_refunded", "amount_refunded_goodwill", "updated_at"])


def _recompute(locked: Locked) -> None:
    if locked.invoice is not None:
        _recompute_invoice(locked.invoice)


def _log(payment: Payment, verb: str, actor: Actor, **data: Any) -> None:
    document = payment.document
    activity.record(
        company=payment.company,
        verb=verb,
        actor=actor,
        target=document,
        customer=payment.customer,
        data={
            "number": document.display_number,
            "amount": format_cad(payment.amount),
            "payment": payment.public_id,
            **data,
        },
    )


def _customer_actor(payment: Payment) -> Actor:
    return Actor.customer(payment.customer.name)


def _after_success(payment: Payment) -> None:
    from billing.tasks import send_payment_receipt

    send_payment_receipt.delay_on_commit(payment_id=payment.pk)


def _after_refund(refund: Refund) -> None:
    """A refund went through: the customer's notice goes out after commit (claimed once)."""
    from billing.tasks import send_refund_notice

    if refund.status == RefundStatus.SUCCEEDED:
        send_refund_notice.delay_on_commit(refund_id=refund.pk)
