"""Moving a payment that landed on the wrong invoice (or a flagged duplicate) to another open
invoice of the same customer: a ledger transfer, with activity on both invoices."""

from __future__ import annotations

from typing import cast

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import (
    Payment,
    PaymentIssue,
    PaymentPurpose,
    PaymentStatus,
    PaymentTransfer,
    Refund,
)
from billing.services.ledger import recompute_invoice
from crewcommand.errors import ServiceError
from crewcommand.lib import activity
from crewcommand.lib.activity import Actor
from crewcommand.lib.money import format_cad
from documents.models import Invoice, InvoiceStatus


def move_targets(*, payment: Payment) -> list[Invoice]:
    """The customer's other open invoices a payment could move to (sent, not paid, not void)."""
    if payment.purpose != PaymentPurpose.INVOICE:
        return []
    return list(
        Invoice.objects.filter(company_id=payment.company_id, customer_id=payment.customer_id)
        .exclude(pk=cast(int, payment.invoice_id))
        .exclude(status__in=[InvoiceStatus.VOID, InvoiceStatus.DRAFT, InvoiceStatus.PAID])
        .order_by("-created_at", "-id")
    )


def payment_move(
    *, payment: Payment, to_invoice: Invoice, actor: Actor, reason: str = ""
) -> PaymentTransfer:
    """Move a payment that went through to ``to_invoice`` (same company and customer, open,
    with a balance at least the payment's amount). Both invoices are locked (in id order, so
    two moves never deadlock); both are recomputed from the rows; a payment that was not
    applied (a duplicate, a payment on a voided invoice) is applied on the new invoice and its
    issues resolved. Raises ServiceError with a message for the person moving it."""
    with transaction.atomic():
        current = Payment.objects.values("invoice_id", "purpose").get(pk=payment.pk)
        if current["purpose"] != PaymentPurpose.INVOICE or current["invoice_id"] is None:
            raise ServiceError(_("Only an invoice payment can be moved to another invoice."))
        ids = sorted({current["invoice_id"], to_invoice.pk})
        locked = {
            invoice.pk: invoice
            for invoice in Invoice.objects.select_for_update(of=("self",))
            .select_related("company")
            .filter(pk__in=ids)
            .order_by("pk")
        }
        payment = Payment.objects.select_related("company", "customer").get(pk=payment.pk)
        source, target = locked[cast(int, payment.invoice_id)], locked.get(to_invoice.pk)
        if target is None or target.company_id != payment.company_id:
            raise ServiceError(_("Choose one of this customer's open invoices."))
        if target.pk == source.pk:
            raise ServiceError(_("The payment is already on that invoice."))
        if target.customer_id != payment.customer_id:
            raise ServiceError(
                _("A payment can only move to another invoice of the same customer.")
            )
        if payment.status != PaymentStatus.SUCCEEDED:
            raise ServiceError(_("Only a payment that went through can be moved."))
        if Refund.objects.filter(payment=payment).exists():
            raise ServiceError(
                _("A payment with refunds can't be moved. Refund or record it anew.")
            )
        if target.status in (InvoiceStatus.VOID, InvoiceStatus.DRAFT):
            raise ServiceError(_("That invoice is not open: it is a draft or void."))
        if payment.amount > target.balance:
            raise ServiceError(
                _("That invoice has only %(balance)s due, less than the %(amount)s payment.")
                % {"balance": format_cad(target.balance), "amount": format_cad(payment.amount)}
            )
        transfer = PaymentTransfer.objects.create(
            company=payment.company,
            payment=payment,
            from_invoice=source,
            to_invoice=target,
            amount=payment.amount,
            reason=reason.strip()[:200],
            created_by=actor.user,
        )
        was_applied = payment.applied
        payment.invoice = target
        payment.applied = True
        payment.save(update_fields=["invoice", "applied", "updated_at"])
        recompute_invoice(source)
        recompute_invoice(target)
        now = timezone.now()
        PaymentIssue.objects.filter(payment=payment, resolved_at=None).update(
            resolved_at=now,
            resolved_by=actor.user,
            resolution=(_("Moved to invoice %(number)s") % {"number": target.display_number})[:200],
            updated_at=now,
        )
        data = {
            "amount": format_cad(payment.amount),
            "payment": payment.public_id,
            "from": source.display_number,
            "to": target.display_number,
            "applied": "yes" if was_applied else "no",
        }
        for document, verb in ((source, "payment.moved_out"), (target, "payment.moved_in")):
            activity.record_about(
                document, verb, actor, company=payment.company, customer=payment.customer, data=data
            )
        return transfer
