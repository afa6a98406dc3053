"""Saved cards and autopay.

A customer saves a card only by ticking "Save this card for future invoices from <company>" on
the pay page: the Checkout Session is then made for their Stripe Customer on the company's
connected account with ``setup_future_usage=off_session``, and when Stripe confirms the payment
the card is kept (``SavedCard``) with the consent's text and time. The contractor can turn on
autopay for that customer; sent invoices are then charged off-session on their due date.

Off-session charges are never repeated for the same invoice and amount: the attempt row is
keyed ``cc-autopay-<invoice>-<cents>`` (unique), and that key is Stripe's idempotency key, so
ten concurrent runs write one row and Stripe makes one charge; a run after a worker was killed
mid-charge sends the same key and gets Stripe's first answer back.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import stripe_client
from billing.models import (
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    SavedCard,
    StripeAccount,
    StripeCustomer,
)
from billing.selectors import online_payment_ready
from billing.services.ledger import lock_documents, lock_payment, log_payment
from billing.services.metadata import META_COMPANY, META_INVOICE, META_PAYMENT
from billing.services.stripe_state import _apply_success, _record_method
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from crewcommand.lib.money import to_cents
from crewcommand.models import Customer
from documents.models import Invoice, InvoiceStatus

logger = logging.getLogger(__name__)

AUTOPAY_STATUSES = (InvoiceStatus.SENT, InvoiceStatus.VIEWED, InvoiceStatus.PARTIALLY_PAID)


def consent_text(company_name: str) -> str:
    return _("Save this card for future invoices from %(company)s") % {"company": company_name}


def stripe_customer_for(*, customer: Customer, account_id: str) -> str:
    """The customer's Stripe Customer on the connected account, made once (idempotent)."""
    row = StripeCustomer.objects.filter(customer=customer, stripe_account_id=account_id).first()
    if row is not None:
        return row.stripe_customer_id
    created = stripe_client.customer_create(
        account=account_id,
        email=customer.email,
        name=customer.name,
        metadata={"cc_customer": customer.public_id},
        idempotency_key=f"cc-customer-{customer.public_id}-{account_id}",
        interactive=True,  # made when the customer presses Pay (``save_card_params``)
    )
    row, _created = StripeCustomer.objects.get_or_create(
        customer=customer,
        stripe_account_id=account_id,
        defaults={"stripe_customer_id": created["id"]},
    )
    return row.stripe_customer_id


def save_card_params(payment: Payment) -> dict[str, Any]:
    """Checkout parameters for a payment whose customer asked to save their card: their Stripe
    Customer and ``setup_future_usage`` (a card only: bank debit is not offered then)."""
    cus = stripe_customer_for(customer=payment.customer, account_id=payment.stripe_account_id)
    return {"customer": cus, "setup_future_usage": "off_session"}


def card_save_from(payment: Payment, intent: dict[str, Any]) -> SavedCard | None:
    """Keep the card a payment saved (called under the document's lock when Stripe confirms
    it): only with the customer's consent on that payment, a card, and Stripe's word that it
    was set up for off-session use on that customer. Replaces the customer's earlier card."""
    if not payment.save_card or intent.get("setup_future_usage") != "off_session":
        return None
    customer_id, pm_id = intent.get("customer"), intent.get("payment_method")
    charge = intent.get("latest_charge")
    details = (charge.get("payment_method_details") or {}) if isinstance(charge, dict) else {}
    if not customer_id or not isinstance(pm_id, str) or details.get("type") != "card":
        return None
    if SavedCard.objects.filter(stripe_payment_method_id=pm_id).exists():
        return None  # kept before (or kept and removed since: never brought back)
    card = details.get("card") or {}
    now = timezone.now()
    earlier = SavedCard.objects.filter(customer_id=payment.customer_id, removed_at=None).first()
    autopay = bool(earlier and earlier.autopay)
    if earlier is not None:
        earlier.removed_at = now
        earlier.save(update_fields=["removed_at", "updated_at"])
    saved = SavedCard.objects.create(
        company=payment.company,
        customer=payment.customer,
        stripe_account_id=payment.stripe_account_id,
        stripe_customer_id=str(customer_id),
        stripe_payment_method_id=pm_id,
        brand=str(card.get("brand") or "")[:30],
        last4=str(card.get("last4") or "")[:4],
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
        consent_text=consent_text(payment.company.name)[:300],
        consent_at=payment.created_at,
        consent_payment=payment,
        autopay=autopay,
    )
    log_payment(payment, "card.saved", Actor.customer(payment.customer.name), card=saved.label)
    return saved


def saved_card_of(*, customer: Customer) -> SavedCard | None:
    return SavedCard.objects.filter(customer=customer, removed_at=None).first()


def autopay_set(*, card: SavedCard, enabled: bool, actor: Actor) -> SavedCard:
    with transaction.atomic():
        card = SavedCard.objects.select_for_update().get(pk=card.pk)
        if card.removed_at is not None:
            raise ServiceError(_("This card was removed."))
        if card.autopay != enabled:
            card.autopay = enabled
            card.autopay_changed_by = actor.user
            card.save(update_fields=["autopay", "autopay_changed_by", "updated_at"])
            from crewcommand.lib import activity

            activity.record_about(
                card.customer,
                "autopay.on" if enabled else "autopay.off",
                actor,
                company=card.company,
                data={"card": card.label},
            )
        return card


def card_remove(*, card: SavedCard, actor: Actor) -> SavedCard:
    """The customer (or the company) removes a saved card: detached at Stripe first, so it can
    never be charged again, then marked removed (autopay stops with it)."""
    if card.removed_at is not None:
        return card
    try:
        stripe_client.payment_method_detach(
            account=card.stripe_account_id, payment_method_id=card.stripe_payment_method_id
        )
    except stripe_client.StripeFailure as error:
        if not error.permanent:
            raise ServiceError(
                _("The card could not be removed right now. Please try again in a few minutes.")
            ) from error
        # Already detached or gone at Stripe: nothing can charge it; remove ours too.
    with transaction.atomic():
        updated = SavedCard.objects.filter(pk=card.pk, removed_at=None).update(
            removed_at=timezone.now(), autopay=False, updated_at=timezone.now()
        )
        if updated:
            from crewcommand.lib import activity

            activity.record_about(
                card.customer,
                "card.removed",
                actor,
                company=card.company,
                data={"card": card.label},
            )
    card.refresh_from_db()
    return card


# --- Off-session charges --------------------------------------------------------------------------


def autopay_due(*, today=None) -> int:
    """Charge every sent invoice due today or earlier whose customer has autopay on. Returns the
    number of charges attempted. Safe to run concurrently and repeatedly."""
    today = today or timezone.localdate()
    # An attempt for the balance as it stands that ended (failed, or anything but "created",
    # which Stripe never answered and the next run asks again) is never made again, so its
    # invoice is left out here: otherwise 500 such invoices, the oldest due, would fill every
    # run and the invoices due after them would never be charged. Nothing due is left out too.
    ended = Payment.objects.filter(
        invoice=OuterRef("pk"),
        autopay_key__isnull=False,
        amount=OuterRef("total") - OuterRef("deposit_credit") - OuterRef("amount_paid"),
    ).exclude(status=PaymentStatus.CREATED)
    invoices = (
        Invoice.objects.filter(
            status__in=AUTOPAY_STATUSES,
            due_date__lte=today,
            customer__saved_cards__autopay=True,
            customer__saved_cards__removed_at=None,
        )
        .alias(due=F("total") - F("deposit_credit") - F("amount_paid"))
        .filter(due__gt=0)
        .exclude(Exists(ended))
        .distinct()
        .order_by("due_date", "pk")[:500]
    )
    count = 0
    for invoice in invoices:
        try:
            saved_card_charge(invoice=invoice, actor=Actor.system(), triggered_by="autopay")
            count += 1
        except ServiceError as error:
            logger.info("autopay skipped invoice %s: %s", invoice.public_id, error)
    return count


def saved_card_charge(*, invoice: Invoice, actor: Actor, triggered_by: str) -> Payment:
    """Charge the invoice's balance to its customer's saved card, off-session, once per invoice
    and amount. Returns the attempt (succeeded, failed, or still created if Stripe could not be
    reached: the next run asks again with the same key)."""
    payment = _charge_row(invoice=invoice, actor=actor, triggered_by=triggered_by)
    if payment.status != PaymentStatus.CREATED:
        return payment  # charged (or refused) before: never again for this invoice and amount
    card = cast(SavedCard, payment.saved_card)
    metadata = {
        META_PAYMENT: payment.public_id,
        META_COMPANY: payment.company.public_id,
        META_INVOICE: invoice.public_id,
    }
    try:
        intent = stripe_client.off_session_charge(
            account=payment.stripe_account_id,
            params={
                "amount": to_cents(payment.amount),
                "currency": "cad",
                "customer": card.stripe_customer_id,
                "payment_method": card.stripe_payment_method_id,
                "off_session": True,
                "confirm": True,
                "metadata": metadata,
                "description": f"{payment.company.name}: "
                + _("Invoice %(number)s") % {"number": invoice.display_number},
                "expand": ["latest_charge"],
            },
            idempotency_key=cast(str, payment.autopay_key),
        )
    except stripe_client.StripeFailure as error:
        if not error.permanent:
            logger.warning("saved card charge %s: Stripe unreachable", payment.public_id)
            return payment
        intent = {
            "status": "requires_payment_method",
            "last_payment_error": {"message": str(error)},
        }
    return _charge_apply(payment_id=payment.pk, intent=intent)


def _charge_row(*, invoice: Invoice, actor: Actor, triggered_by: str) -> Payment:
    """The attempt row for this invoice's balance, made once under the invoice's lock."""
    with transaction.atomic():
        locked = lock_documents(
            purpose=PaymentPurpose.INVOICE, invoice_id=invoice.pk, estimate_id=None
        )
        invoice = cast(Invoice, locked.invoice)
        account = StripeAccount.objects.filter(company_id=invoice.company_id).first()
        card = saved_card_of(customer=invoice.customer)
        if card is None:
            raise ServiceError(_("This customer has no saved card."))
        if not online_payment_ready(account=account) or account is None:
            raise ServiceError(_("Online payment is not available for this business."))
        if account.account_id != card.stripe_account_id:
            raise ServiceError(_("The saved card belongs to another Stripe account."))
        if invoice.status not in AUTOPAY_STATUSES or invoice.balance <= 0:
            raise ServiceError(_("This invoice has nothing to charge."))
        key = f"cc-autopay-{invoice.public_id}-{to_cents(invoice.balance)}"
        existing = Payment.objects.filter(autopay_key=key).first()
        if existing is not None:
            return existing
        if Payment.objects.filter(invoice=invoice, status=PaymentStatus.PROCESSING).exists():
            raise ServiceError(_("A payment on this invoice is still processing."))
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    company=invoice.company,
                    customer=invoice.customer,
                    invoice=invoice,
                    purpose=PaymentPurpose.INVOICE,
                    method=PaymentMethod.CARD,
                    status=PaymentStatus.CREATED,
                    amount=invoice.balance,
                    stripe_account_id=card.stripe_account_id,
                    saved_card=card,
                    autopay_key=key,
                    idempotency_key=key,
                    triggered_by=triggered_by[:150],
                )
        except IntegrityError:
            return Payment.objects.get(autopay_key=key)
        log_payment(payment, "payment.saved_card_charge", actor, by=triggered_by, card=card.label)
    return Payment.objects.select_related("company", "saved_card").get(pk=payment.pk)


def _charge_apply(*, payment_id: int, intent: dict[str, Any]) -> Payment:
    with transaction.atomic():
        locked, payment = lock_payment(payment_id)
        if payment.status == PaymentStatus.CREATED:
            _record_method(payment, intent)
            if intent.get("status") == "succeeded":
                _apply_success(
                    payment,
                    locked,
                    cents=int(intent.get("amount_received") or intent.get("amount") or 0),
                    currency=str(intent.get("currency") or ""),
                    intent_id=intent.get("id"),
                )
            else:
                error = intent.get("last_payment_error") or {}
                if (
                    intent.get("id")
                    and not Payment.objects.filter(stripe_payment_intent_id=intent["id"]).exists()
                ):
                    payment.stripe_payment_intent_id = intent["id"]
                payment.status = PaymentStatus.FAILED
                payment.failure_message = str(
                    error.get("message") or _("The card could not be charged.")
                )[:300]
                payment.finished_at = timezone.now()
                payment.save()
                log_payment(payment, "payment.failed", Actor.system())
                from billing.tasks import send_payment_failed_notice

                send_payment_failed_notice.delay_on_commit(payment_id=payment.pk)
    return Payment.objects.get(pk=payment_id)
