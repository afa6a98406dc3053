"""Receipts: an email to the customer for each payment that went through, and a notice to the
company; and a refund notice to the customer for each refund that went through. Sent from a
Celery task after commit; each is claimed with a conditional update first, so a payment (or a
refund) gets exactly one of each however many times the task runs."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from billing.models import (
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    Refund,
    RefundKind,
    RefundStatus,
)
from crewcommand.lib.canada import display_phone
from crewcommand.lib.money import format_cad
from crewcommand.models import customer_language
from crewcommand.notifications import company_recipients, deliver_email

logger = logging.getLogger(__name__)


def receipt_context(payment: Payment) -> dict[str, str]:
    document = payment.document
    company = payment.company
    when = timezone.localtime(
        payment.succeeded_at or timezone.now(), timezone=ZoneInfo(company.timezone)
    )
    if payment.purpose == PaymentPurpose.INVOICE:
        what = _("Invoice %(number)s") % {"number": document.display_number}
        remaining = document.balance
    else:
        what = _("Deposit for estimate %(number)s") % {"number": document.display_number}
        remaining = None
    return {
        "company": company.name,
        "company_email": company.email,
        "company_phone": display_phone(company.phone),
        "accent": company.brand_color,
        "customer": payment.customer.name,
        "amount": format_cad(payment.amount),
        "method": payment.method_label,
        "date": date_format(when, "DATETIME_FORMAT"),
        "document": what,
        "reference": payment.reference,
        "receipt_number": payment.public_id.upper(),
        "remaining": format_cad(remaining) if remaining is not None else "",
        "paid_in_full": "yes" if remaining is not None and remaining <= 0 else "",
        "customer_emailed": "yes" if payment.customer.email else "",
        "tip": format_cad(payment.tip_amount) if payment.tip_amount else "",
        "charged": format_cad(payment.amount + payment.tip_amount),
    }


def deliver_receipt(*, payment_id: int) -> None:
    payment = Payment.objects.select_related("company", "customer", "invoice", "estimate").get(
        pk=payment_id
    )
    if payment.customer.email:
        # The customer's receipt is in the customer's language; the company's notice English.
        with translation.override(customer_language(payment.customer, payment.company)):
            _send_once(
                payment,
                field="receipt_sent_at",
                recipients=[payment.customer.email],
                template="receipt",
                context=receipt_context(payment),
                from_name=payment.company.name,
            )
    # A payment someone at the company recorded by hand (cash, a cheque) is their own entry:
    # the company hears only of money that came in without them (card payments).
    if not payment.created_by_id:
        # The company's notice is English (the dashboard's language), whatever page led here.
        with translation.override(settings.LANGUAGE_CODE):
            _send_once(
                payment,
                field="company_notified_at",
                recipients=company_recipients(payment.company),
                template="receipt_company",
                context=receipt_context(payment),
            )


def _send_once(
    payment: Payment,
    *,
    field: str,
    recipients: list[str],
    template: str,
    context: dict[str, str],
    from_name: str = "",
) -> None:
    """Send one of a payment's emails (``field`` names its exactly-once claim) to each
    recipient; a failure gives the claim back so the task's retry sends again."""
    if not recipients or not receipt_claim(payment_id=payment.pk, field=field):
        return
    try:
        for recipient in recipients:
            deliver_email(
                to=recipient,
                from_name=from_name,
                template=template,
                context=context,
                company=payment.company,
            )
    except Exception:
        receipt_unclaim(payment_id=payment.pk, field=field)
        raise
    logger.info("%s sent payment=%s", template, payment.public_id)


def refund_context(refund: Refund) -> dict[str, str]:
    payment = refund.payment
    context = receipt_context(payment)
    document = payment.document
    when = timezone.localtime(
        refund.succeeded_at or timezone.now(), timezone=ZoneInfo(payment.company.timezone)
    )
    balance = document.balance if payment.purpose == PaymentPurpose.INVOICE else None
    context.update(
        {
            "refund_amount": format_cad(refund.amount),
            "refund_date": date_format(when, "DATETIME_FORMAT"),
            "refund_number": refund.public_id.upper(),
            "to_card": "yes" if payment.method == PaymentMethod.CARD else "",
            "goodwill": "yes" if refund.kind == RefundKind.GOODWILL else "",
            "duplicate": "yes" if refund.automatic or not payment.applied else "",
            "balance": format_cad(balance) if balance else "",
        }
    )
    return context


def deliver_refund_notice(*, refund_id: int) -> None:
    refund = Refund.objects.select_related(
        "payment__company", "payment__customer", "payment__invoice", "payment__estimate"
    ).get(pk=refund_id)
    email = refund.payment.customer.email
    if not email or not refund_notice_claim(refund_id=refund.pk):
        return
    try:
        with translation.override(
            customer_language(refund.payment.customer, refund.payment.company)
        ):
            deliver_email(
                to=email,
                from_name=refund.payment.company.name,
                template="refund_notice",
                context=refund_context(refund),
                company=refund.payment.company,
            )
    except Exception:
        refund_notice_unclaim(refund_id=refund.pk)
        raise
    logger.info("refund notice sent refund=%s", refund.public_id)


def deliver_payment_failed(*, payment_id: int) -> None:
    """A bank payment that was processing failed: tell the customer, with a fresh link to pay
    (a new portal link to the invoice; the token travels only in this email), and the company,
    with a link to the invoice. Claimed once through ``Payment.failure_notified_at``."""
    from django.conf import settings
    from django.urls import reverse

    from crewcommand.lib.activity import Actor
    from portal import services as portal_services

    claimed = Payment.objects.filter(
        pk=payment_id, status=PaymentStatus.FAILED, failure_notified_at=None
    ).update(failure_notified_at=timezone.now())
    if claimed != 1:
        return
    payment = Payment.objects.select_related(
        "company", "customer", "invoice", "estimate", "saved_card"
    ).get(pk=payment_id)
    document = payment.document
    context = receipt_context(payment)
    context.update(
        {
            "reason": payment.failure_message,
            "balance": format_cad(document.balance) if payment.invoice_id else "",
            "invoice_url": settings.SITE_URL + document.get_absolute_url(),
            "saved_card": payment.saved_card.label if payment.saved_card_id else "",
        }
    )
    try:
        if payment.customer.email:
            issued = portal_services.link_create(
                customer=payment.customer,
                actor=Actor.system(),
                document=document,
                sent_to=payment.customer.email,
            )
            pay_path = reverse(
                "billing_portal:pay_invoice"
                if payment.purpose == PaymentPurpose.INVOICE
                else "billing_portal:pay_deposit",
                args=[issued.token, document.public_id],
            )
            deliver_email(
                to=payment.customer.email,
                from_name=payment.company.name,
                template="payment_failed",
                context={**context, "pay_url": settings.SITE_URL + pay_path},
                company=payment.company,
            )
        for recipient in company_recipients(payment.company):
            deliver_email(
                to=recipient,
                template="payment_failed_company",
                context=context,
                company=payment.company,
            )
    except Exception:
        Payment.objects.filter(pk=payment_id).update(failure_notified_at=None)
        raise
    logger.info("payment failed notice sent payment=%s", payment.public_id)


# --- Exactly once: each message is claimed with a conditional update before it is sent ---------


def receipt_claim(*, payment_id: int, field: str) -> bool:
    """Claim the right to send one receipt (``receipt_sent_at``) or one company notice
    (``company_notified_at``): exactly one caller gets True per payment."""
    if field not in ("receipt_sent_at", "company_notified_at"):
        raise ValueError(field)
    claimed = Payment.objects.filter(
        pk=payment_id, status=PaymentStatus.SUCCEEDED, applied=True, **{field: None}
    ).update(**{field: timezone.now()})
    return claimed == 1


def receipt_unclaim(*, payment_id: int, field: str) -> None:
    """Sending failed: give the claim back so a retry can send."""
    if field not in ("receipt_sent_at", "company_notified_at"):
        raise ValueError(field)
    Payment.objects.filter(pk=payment_id).update(**{field: None})


def refund_notice_claim(*, refund_id: int) -> bool:
    """Claim the right to email one refund's notice: exactly one caller gets True."""
    claimed = Refund.objects.filter(
        pk=refund_id, status=RefundStatus.SUCCEEDED, notice_sent_at=None
    ).update(notice_sent_at=timezone.now())
    return claimed == 1


def refund_notice_unclaim(*, refund_id: int) -> None:
    """Sending failed: give the claim back so a retry can send."""
    Refund.objects.filter(pk=refund_id).update(notice_sent_at=None)
