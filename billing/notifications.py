"""Receipts: an email to the customer for each payment that went through, and a notice to the
company; and a refund notice to the customer for each refund that went through. Each goes into
the outbox (``crewcommand.messaging``) in the transaction that applied the money, claimed with a
conditional update on the payment (or refund) row first, so a payment gets exactly one of each
however many times it is applied, reconciled or retried."""

from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
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
from crewcommand.messaging.consent import record_purchase
from crewcommand.models import customer_language
from crewcommand.notifications import company_recipients, queue_email

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
    if payment.purpose == PaymentPurpose.INVOICE:
        # CASL: a purchase gives implied consent to commercial messages for two years.
        record_purchase(customer=payment.customer, at=payment.succeeded_at)
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
    """Queue one of a payment's emails (``field`` names its exactly-once claim) to each
    recipient, in the same transaction as the claim."""
    if not recipients:
        return
    with transaction.atomic():
        if not receipt_claim(payment_id=payment.pk, field=field):
            return
        for recipient in recipients:
            queue_email(
                company=payment.company,
                to=recipient,
                template=template,
                context=context,
                customer=payment.customer if field == "receipt_sent_at" else None,
                concerning=payment.document,
            )
    logger.info("%s queued payment=%s", template, payment.public_id)


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
    if not email:
        return
    with (
        translation.override(customer_language(refund.payment.customer, refund.payment.company)),
        transaction.atomic(),
    ):
        if not refund_notice_claim(refund_id=refund.pk):
            return
        queue_email(
            company=refund.payment.company,
            to=email,
            template="refund_notice",
            context=refund_context(refund),
            customer=refund.payment.customer,
            concerning=refund.payment.document,
        )
    logger.info("refund notice queued refund=%s", refund.public_id)


def deliver_payment_failed(*, payment_id: int) -> None:
    """A bank payment that was processing failed: tell the customer, with a fresh link to pay
    (a new portal link to the invoice; the token travels only in this email, sealed in the
    outbox), and the company, with a link to the invoice. Claimed once through
    ``Payment.failure_notified_at``, in the transaction that queues both messages."""
    from django.urls import reverse

    from crewcommand.lib.activity import Actor
    from portal import services as portal_services

    with transaction.atomic():
        claimed = Payment.objects.filter(
            pk=payment_id, status=PaymentStatus.FAILED, failure_notified_at=None
        ).update(failure_notified_at=timezone.now())
        if claimed != 1:
            return
        payment = Payment.objects.select_related(
            "company", "customer", "invoice", "estimate", "saved_card"
        ).get(pk=payment_id)
        document = payment.document

        def context() -> dict[str, str]:
            values = receipt_context(payment)
            values.update(
                {
                    "reason": payment.failure_message,
                    "balance": format_cad(document.balance) if payment.invoice_id else "",
                    "invoice_url": settings.SITE_URL + document.get_absolute_url(),
                    "saved_card": payment.saved_card.label if payment.saved_card_id else "",
                }
            )
            return values

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
            with translation.override(customer_language(payment.customer, payment.company)):
                queue_email(
                    company=payment.company,
                    to=payment.customer.email,
                    template="payment_failed",
                    context={**context(), "pay_url": settings.SITE_URL + pay_path},
                    customer=payment.customer,
                    concerning=document,
                )
        with translation.override(settings.LANGUAGE_CODE):
            for recipient in company_recipients(payment.company):
                queue_email(
                    company=payment.company,
                    to=recipient,
                    template="payment_failed_company",
                    context=context(),
                    concerning=document,
                )
    logger.info("payment failed notice queued payment=%s", payment.public_id)


RECEIPT_SWEEP_AFTER = timedelta(minutes=2)
RECEIPT_SWEEP_WITHIN = timedelta(days=3)


def receipts_missing() -> int:
    """Deliver the receipts (and company notices) of payments applied a while ago whose
    claims are still open: a webhook queues them after commit, and a task lost between the
    commit and the broker would otherwise never send them. Returns how many payments it
    looked at; ``deliver_receipt`` claims each message, so a receipt already sent is not
    sent again."""
    now = timezone.now()
    ids = list(
        Payment.objects.filter(
            status=PaymentStatus.SUCCEEDED,
            applied=True,
            succeeded_at__lt=now - RECEIPT_SWEEP_AFTER,
            succeeded_at__gte=now - RECEIPT_SWEEP_WITHIN,
        )
        .filter(
            Q(receipt_sent_at=None, customer__email__gt="")
            | Q(company_notified_at=None, created_by=None)
        )
        .values_list("pk", flat=True)[:500]
    )
    for payment_id in ids:
        deliver_receipt(payment_id=payment_id)
    return len(ids)


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
