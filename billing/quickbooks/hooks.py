"""Where the rest of billing tells QuickBooks something changed (one call per event)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from crewcommand.lib.money import format_cad

if TYPE_CHECKING:
    from billing.models import Payment


def payment_applied(payment: Payment) -> None:
    """Money was applied to an invoice: push the payment after commit (when connected)."""
    if payment.invoice_id is None:
        return
    from billing.quickbooks import sync

    number = payment.invoice.display_number if payment.invoice else ""
    sync.enqueue(
        company_id=payment.company_id,
        kind="payment",
        local_id=payment.pk,
        label=_("Payment %(amount)s on %(number)s")
        % {"amount": format_cad(payment.amount), "number": number},
    )
