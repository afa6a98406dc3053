"""Money received by hand, the deposit credit on an invoice, and resolving flagged payments."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import cast
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import (
    MANUAL_METHODS,
    Payment,
    PaymentIssue,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
)
from billing.selectors import (
    applied_net,
    deposit_payable,
)
from billing.services.ledger import (
    Locked,
    enqueue_receipt,
    lock_documents,
    log_payment,
    recompute_invoice,
)
from crewcommand.errors import ServiceError
from crewcommand.lib import activity
from crewcommand.lib.activity import Actor
from crewcommand.lib.money import ZERO, format_cad, quantize_money
from documents import services as documents_services
from documents.models import Estimate, Invoice, InvoiceStatus

logger = logging.getLogger(__name__)


def payment_record(
    *,
    actor: Actor,
    amount: Decimal,
    method: str,
    received_on: dt.date,
    invoice: Invoice | None = None,
    estimate: Estimate | None = None,
    reference: str = "",
    note: str = "",
) -> Payment:
    """Record money the contractor received (cash, cheque, e-Transfer, other) against an
    invoice, or against an accepted estimate's deposit. Refuses an overpayment."""
    with transaction.atomic():
        if method not in MANUAL_METHODS:
            raise ServiceError(_("Choose how the money was received."))
        if (invoice is None) == (estimate is None):
            raise ServiceError(_("Choose an invoice or an estimate."))
        amount = quantize_money(amount)
        if amount <= 0:
            raise ServiceError(_("Enter an amount greater than zero."))
        if received_on > timezone.localdate() + dt.timedelta(days=1):
            raise ServiceError(_("The date received can't be in the future."))
        is_deposit = estimate is not None
        locked = lock_documents(
            purpose=PaymentPurpose.DEPOSIT if is_deposit else PaymentPurpose.INVOICE,
            invoice_id=None if is_deposit else cast(Invoice, invoice).pk,
            estimate_id=cast(Estimate, estimate).pk if is_deposit else None,
        )
        _check_manual_fits(locked, amount)
        doc = locked.document
        now = timezone.now()
        payment = Payment.objects.create(
            company=doc.company,
            customer_id=doc.customer_id,
            invoice=None if is_deposit else locked.invoice,
            estimate=locked.estimate if is_deposit else None,
            purpose=PaymentPurpose.DEPOSIT if is_deposit else PaymentPurpose.INVOICE,
            method=method,
            status=PaymentStatus.SUCCEEDED,
            applied=True,
            amount=amount,
            received_on=received_on,
            reference=reference.strip()[:100],
            note=note.strip()[:500],
            created_by=actor.user,
            succeeded_at=now,
            finished_at=now,
        )
        recompute_invoice(locked.invoice)
        log_payment(payment, "payment.recorded", actor, method=str(PaymentMethod(method).label))
        enqueue_receipt(payment)
        return payment


def _check_manual_fits(locked: Locked, amount: Decimal) -> None:
    if locked.estimate is not None:
        payable = deposit_payable(estimate=locked.estimate)
        if payable.closed and payable.due <= 0:
            raise ServiceError(payable.closed)
        due, what = payable.due, _("deposit due")
    else:
        invoice = cast(Invoice, locked.invoice)
        if invoice.status == InvoiceStatus.VOID:
            raise ServiceError(_("This invoice is void; it can't take payments."))
        due, what = invoice.balance, _("balance")
    if amount > due:
        raise ServiceError(
            _(
                "That is more than the %(what)s of %(due)s. Record %(due)s or less; "
                "give any extra back to the customer."
            )
            % {"what": what, "due": format_cad(due)}
        )


def estimate_convert(*, estimate: Estimate, actor: Actor) -> Invoice:
    """Make the invoice from an accepted estimate (``documents.services.estimate_convert``) and
    credit the deposit paid on the estimate to it, in one transaction. Idempotent like the
    conversion: converting again returns the invoice already made, credited when it was made."""
    with transaction.atomic():
        return documents_services.estimate_convert(
            estimate=estimate, actor=actor, on_created=_credit_deposit
        )


def _credit_deposit(invoice: Invoice, estimate: Estimate) -> None:
    deposit_credit_apply(invoice=invoice, estimate=estimate)


def deposit_credit_apply(*, invoice: Invoice, estimate: Estimate) -> Decimal:
    """Credit the estimate's paid deposit (succeeded deposit payments net of refunds) to the
    invoice made from it, in the caller's transaction. ``estimate_convert`` calls it once the
    new invoice's totals are set. Idempotent: the credit is recomputed, not added.

    The deposit payments are linked to the invoice so its payment list shows them; open
    checkout attempts for the deposit will be flagged if they are paid later."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("deposit_credit_apply must run inside the conversion's transaction")
    if invoice.estimate_id != estimate.pk or invoice.company_id != estimate.company_id:
        raise ServiceError(_("This invoice was not made from that estimate."))
    # The deposit's own locks, in their order (estimate → invoice): whoever calls this, no
    # deposit payment or refund can change the credit underneath it.
    locked = lock_documents(
        purpose=PaymentPurpose.DEPOSIT, invoice_id=None, estimate_id=estimate.pk
    ).invoice
    if locked is None or locked.pk != invoice.pk:
        raise ServiceError(_("This invoice was not made from that estimate."))
    Payment.objects.filter(estimate=estimate, purpose=PaymentPurpose.DEPOSIT).update(
        invoice=invoice, updated_at=timezone.now()
    )
    credited_before = locked.deposit_credit
    _set_deposit_tax_point(locked, estimate)
    recompute_invoice(locked)
    for name in (
        "amount_paid",
        "deposit_credit",
        "status",
        "updated_at",
        "prepaid_amount",
        "prepaid_on",
        "subtotal",
        "tax_total",
        "total",
    ):
        setattr(invoice, name, getattr(locked, name))
    if locked.deposit_credit > 0 and locked.deposit_credit != credited_before:
        activity.record_about(
            locked,
            "deposit.credited",
            Actor.system(),
            data={"amount": format_cad(locked.deposit_credit)},
        )
    return locked.deposit_credit


def _set_deposit_tax_point(invoice: Invoice, estimate: Estimate) -> None:
    """Record the deposit's tax point on the invoice, then store its totals again: a deposit
    paid before the invoice's date keeps its share of each tax at the rate in force the day it
    was paid (``documents.tax.compute_totals``; the README's "Money" section). The day is the
    company's local day of the last deposit payment that went through (for money received by
    hand, the day it was received)."""
    deposits = Payment.objects.filter(
        estimate=estimate, purpose=PaymentPurpose.DEPOSIT, status=PaymentStatus.SUCCEEDED
    )
    amount = applied_net(deposits)
    last = deposits.filter(applied=True).order_by("-succeeded_at", "-created_at").first()
    paid_on = None
    if amount > 0 and last is not None and last.received_on is not None:
        paid_on = last.received_on  # money received by hand: the day the contractor entered
    elif amount > 0 and last is not None:
        moment = last.succeeded_at or last.created_at
        paid_on = timezone.localtime(moment, ZoneInfo(invoice.company.timezone)).date()
    if paid_on is None or paid_on >= invoice.issue_date:
        amount, paid_on = ZERO, None
    invoice.prepaid_amount, invoice.prepaid_on = amount, paid_on
    invoice.save(update_fields=["prepaid_amount", "prepaid_on", "updated_at"])
    documents_services.totals_refresh(owner=invoice, check_limit=False)


def issue_resolve(*, issue: PaymentIssue, actor: Actor, resolution: str) -> PaymentIssue:
    with transaction.atomic():
        issue = PaymentIssue.objects.select_for_update().select_related("payment").get(pk=issue.pk)
        if issue.resolved_at is not None:
            return issue
        issue.resolved_at = timezone.now()
        issue.resolved_by = actor.user
        issue.resolution = resolution.strip()[:200] or _("Marked as resolved")
        issue.save(update_fields=["resolved_at", "resolved_by", "resolution", "updated_at"])
        payment = Payment.objects.select_related("company", "customer", "invoice", "estimate").get(
            pk=issue.payment_id
        )
        log_payment(payment, "payment_issue.resolved", actor, resolution=issue.resolution)
        return issue
