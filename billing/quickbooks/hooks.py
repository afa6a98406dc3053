"""Where the rest of billing tells QuickBooks something changed (one call per event)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from crewcommand.lib.money import format_cad

if TYPE_CHECKING:
    from billing.models import Payment, Refund


def _label(payment: Payment) -> str:
    if payment.invoice_id is None and payment.estimate is not None:
        return _("Deposit %(amount)s on %(number)s") % {
            "amount": format_cad(payment.amount),
            "number": payment.estimate.display_number,
        }
    number = payment.invoice.display_number if payment.invoice else ""
    return _("Payment %(amount)s on %(number)s") % {
        "amount": format_cad(payment.amount),
        "number": number,
    }


def payment_applied(payment: Payment) -> None:
    """Money was applied to an invoice, or paid as an estimate's deposit: push the payment
    after commit (when connected). A deposit goes as an unapplied payment (a credit) and is
    applied to the invoice once that invoice is in QuickBooks."""
    if payment.invoice_id is None and payment.estimate_id is None:
        return
    from billing.quickbooks import sync

    sync.enqueue(
        company_id=payment.company_id, kind="payment", local_id=payment.pk, label=_label(payment)
    )


def refund_succeeded(refund: Refund) -> None:
    """Money went back to the customer: push it as a refund receipt after commit."""
    from billing.quickbooks import sync

    sync.enqueue(
        company_id=refund.company_id,
        kind="refund",
        local_id=refund.pk,
        label=_("Refund %(amount)s") % {"amount": format_cad(refund.amount)},
    )
