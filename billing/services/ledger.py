"""The ledger's rules, shared by every billing service that moves money: the lock order
(estimate → invoice → payment), a document's money recomputed from the payment and refund rows,
and what each change leaves behind (a timeline row; a receipt or refund notice after commit)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import (
    Payment,
    PaymentIssue,
    PaymentPurpose,
    Refund,
    RefundKind,
    RefundStatus,
)
from billing.quickbooks import hooks as quickbooks_hooks
from billing.selectors import (
    applied_net,
)
from crewcommand.lib import activity
from crewcommand.lib.activity import Actor
from crewcommand.lib.money import ZERO, format_cad
from documents.models import Estimate, Invoice, InvoiceStatus
from documents.tasks import warm_pdf

logger = logging.getLogger(__name__)


@dataclass
class Locked:
    """The rows of one payment's document, locked in order."""

    estimate: Estimate | None
    invoice: Invoice | None

    @property
    def document(self) -> Invoice | Estimate:
        return cast("Invoice | Estimate", self.invoice if self.estimate is None else self.estimate)


def lock_documents(*, purpose: str, invoice_id: int | None, estimate_id: int | None) -> Locked:
    """Lock a payment's document rows in the lock order: for a deposit its estimate, then the
    invoice made from it (the first one not void, if any); otherwise its invoice."""
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


def lock_payment(
    payment_id: int, *, ref: Mapping[str, Any] | None = None
) -> tuple[Locked, Payment]:
    """Lock a payment's document(s), then read the payment. The document's lock is the
    payment's lock: every change to a payment's or a refund's state or amounts takes it first,
    so the row read after it is the latest committed one and no second lock is needed."""
    row: Mapping[str, Any] = (
        ref
        if ref is not None
        else Payment.objects.values("purpose", "invoice_id", "estimate_id").get(pk=payment_id)
    )
    locked = lock_documents(
        purpose=row["purpose"], invoice_id=row["invoice_id"], estimate_id=row["estimate_id"]
    )
    payment = Payment.objects.select_related("customer", "company").get(pk=payment_id)
    # The locked rows are the payment's own documents: reuse them (no second read).
    if locked.invoice is not None and payment.invoice_id == locked.invoice.pk:
        payment.invoice = locked.invoice
    if locked.estimate is not None and payment.estimate_id == locked.estimate.pk:
        payment.estimate = locked.estimate
    return locked, payment


def recompute_invoice(invoice: Invoice | None) -> None:
    """Set amount_paid, deposit_credit and status from the rows. Call with the invoice locked
    (``Locked.invoice``; None, a deposit's estimate not invoiced yet, has nothing to set)."""
    if invoice is None:
        return
    invoice.amount_paid = applied_net(
        Payment.objects.filter(invoice=invoice, purpose=PaymentPurpose.INVOICE)
    )
    if invoice.estimate_id:
        deposit = applied_net(
            Payment.objects.filter(estimate_id=invoice.estimate_id, purpose=PaymentPurpose.DEPOSIT)
        )
        invoice.deposit_credit = min(deposit, invoice.total)
    invoice.status = invoice.status_from_money()
    # When it was paid in full (links to it expire some days later, portal.models); a refund
    # that reopens it clears the date, and the next full payment sets it again.
    if invoice.status != InvoiceStatus.PAID:
        invoice.paid_at = None
    elif invoice.paid_at is None:
        invoice.paid_at = timezone.now()
    invoice.save(update_fields=["amount_paid", "deposit_credit", "status", "paid_at", "updated_at"])
    if invoice.sent_at is not None:
        # Its PDF (balance, PAID stamp) changed: render and store it after commit, so the
        # customer's download reads a file instead of waiting for WeasyPrint.
        warm_pdf.delay_on_commit(kind="invoice", pk=invoice.pk)


def recompute_refunds(payment: Payment, locked: Locked) -> None:
    """A refund changed: the payment's refunded amounts from its succeeded refunds, then its
    document's money; a flagged payment refunded in full has its issues resolved. Call with the
    payment's documents locked (``lock_payment``)."""
    totals = payment.refunds.filter(status=RefundStatus.SUCCEEDED).aggregate(
        all=Sum("amount"), goodwill=Sum("amount", filter=Q(kind=RefundKind.GOODWILL))
    )
    # A refund in Stripe's dashboard can reach into a tip (charged beside ``amount``): what
    # counts against the document stops at the payment's own amount.
    payment.amount_refunded = min(totals["all"] or ZERO, payment.amount)
    payment.amount_refunded_goodwill = min(totals["goodwill"] or ZERO, payment.amount_refunded)
    payment.save(update_fields=["amount_refunded", "amount_refunded_goodwill", "updated_at"])
    recompute_invoice(locked.invoice)
    if payment.applied or payment.amount_refunded < payment.amount:
        return
    PaymentIssue.objects.filter(payment=payment, resolved_at=None).update(
        resolved_at=timezone.now(), resolution=_("Refunded"), updated_at=timezone.now()
    )


def log_payment(payment: Payment, verb: str, actor: Actor, **data: Any) -> None:
    """The timeline row of a change to a payment: on its document, naming the amount and the
    payment (``data`` adds to them or overrides them, as a refund's own amount does)."""
    activity.record_about(
        payment.document,
        verb,
        actor,
        company=payment.company,
        customer=payment.customer,
        data={"amount": format_cad(payment.amount, "en-CA"), "payment": payment.public_id, **data},
    )


def enqueue_receipt(payment: Payment, *, after_commit: bool = False) -> None:
    """Money was applied: the customer's receipt (and the company's notice) go into the outbox
    in this transaction, each claimed once on the payment row.

    ``after_commit`` (a Stripe webhook): they are written by a task queued after commit
    instead, off the request path (consent, two rendered emails, the outbox rows: about half
    of a webhook's queries). Still exactly once (the claims on the payment row); a task lost
    between commit and the broker is picked up by ``billing.tasks.send_missing_receipts``."""
    from billing import notifications

    if after_commit:
        from billing.tasks import send_payment_receipt

        send_payment_receipt.delay_on_commit(payment_id=payment.pk)
    else:
        notifications.deliver_receipt(payment_id=payment.pk)
    # QuickBooks (when connected): the payment is pushed after commit.
    quickbooks_hooks.payment_applied(payment)


def enqueue_refund_notice(refund: Refund) -> None:
    """A refund went through: the customer's notice goes out after commit (claimed once)."""
    from billing import notifications

    # The notice states the balance after the refund, which the callers recompute after this
    # call in the same transaction: so it is claimed and queued right after commit (in its own
    # transaction), not here.
    if refund.status == RefundStatus.SUCCEEDED:
        refund_id = refund.pk
        transaction.on_commit(lambda: notifications.deliver_refund_notice(refund_id=refund_id))
        # QuickBooks (when connected): a refund receipt, pushed after commit.
        quickbooks_hooks.refund_succeeded(refund)
