"""Template tags for billing's templates on pages billing does not own (the ones it puts in the
portal's slots, ``portal.slots``; the composition layer's job list):
``{% invoice_payable invoice as payable %}``, ``{% deposit_payable estimate as payable %}``,
``{% document_payments document as payments %}``, ``{% payment_state_badge state %}``."""

from __future__ import annotations

from django import template

from billing import selectors

register = template.Library()


@register.simple_tag
def invoice_payable(invoice) -> selectors.Payable:
    """Read once per invoice object: the portal's invoice page asks in two slots (the summary
    at the top, the Pay card), and both must show the same thing for one query's price."""
    payable = getattr(invoice, "_billing_payable", None)
    if payable is None:
        payable = selectors.invoice_payable(invoice=invoice)
        invoice._billing_payable = payable
    return payable


@register.simple_tag
def deposit_payable(estimate) -> selectors.Payable:
    return selectors.deposit_payable(estimate=estimate)


@register.simple_tag
def document_payments(document) -> list:
    return selectors.document_payments(document=document)


@register.inclusion_tag("components/badge.html")
def payment_state_badge(state: str) -> dict:
    """A job's payment state (billing.selectors.job_payment_status) as the usual badge."""
    css = {"unpaid": "sent"}.get(state, state)
    return {"status": css, "label": selectors.PAYMENT_STATE_LABELS.get(state, "")}
