"""Starting a card payment: the attempt row first, then its Checkout Session at Stripe."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext as _

from billing import stripe_client
from billing.models import (
    STRIPE_MAXIMUM_CAD,
    STRIPE_MAXIMUM_CENTS,
    STRIPE_MINIMUM_CAD,
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    StripeAccount,
)
from billing.selectors import (
    Payable,
    deposit_payable,
    invoice_payable,
    stripe_account_for,
)
from billing.services.autopay import save_card_params
from billing.services.ledger import Locked, lock_documents, lock_payment
from billing.services.metadata import META_COMPANY, META_ESTIMATE, META_INVOICE, META_PAYMENT
from billing.services.stripe_state import payment_refresh
from crewcommand.errors import ServiceError
from crewcommand.lib.money import ZERO, format_cad, quantize_money, to_cents
from documents.models import Estimate, Invoice
from portal import stepup
from portal.models import CodeChallenge

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckoutStart:
    payment: Payment
    url: str


def _payable_locked(locked: Locked, account: StripeAccount | None) -> Payable:
    if locked.estimate is not None:
        return deposit_payable(estimate=locked.estimate, account=account)
    return invoice_payable(invoice=cast(Invoice, locked.invoice), account=account)


def processing_message(payment: Payment) -> str:
    return _(
        "Bank payment processing, usually 3 to 5 business days: %(amount)s started on %(date)s. "
        "You can pay again only if it fails."
    ) % {
        "amount": format_cad(payment.amount),
        "date": date_format(timezone.localtime(payment.created_at), "M j"),
    }


def unconfirmed_message(payment: Payment) -> str:
    started = timezone.localtime(payment.created_at)
    return _(
        "A payment of %(amount)s started on %(date)s at %(time)s is still being confirmed. "
        "Pay again anyway?"
    ) % {
        "amount": format_cad(payment.amount),
        "date": date_format(started, _("M j")),
        "time": time_format(started, "TIME_FORMAT"),
    }


def _charge_amount(payable: Payable, amount: Decimal | None, *, pay_again: bool = False) -> Decimal:
    """The amount to charge: the whole amount due, or a partial amount where allowed."""
    if payable.closed:
        raise ServiceError(payable.closed)
    if payable.held:
        raise ServiceError(processing_message(cast(Payment, payable.unconfirmed)))
    if payable.unconfirmed is not None and not pay_again:
        raise ServiceError(unconfirmed_message(payable.unconfirmed))
    if not payable.online:
        raise ServiceError(_("Online payment is not available for this business."))
    if payable.due < STRIPE_MINIMUM_CAD:
        raise ServiceError(_("The amount due is too small to pay by card."))
    if amount is None or amount == payable.due:
        if payable.over_card_limit:
            raise ServiceError(card_limit_message(payable))
        return payable.due
    amount = quantize_money(amount)
    if not payable.partial_allowed:
        raise ServiceError(
            _("Please pay the full amount of %(due)s.") % {"due": format_cad(payable.due)}
        )
    if amount > payable.due:
        raise ServiceError(
            _("That is more than the %(due)s due. Enter %(due)s or less.")
            % {"due": format_cad(payable.due)}
        )
    if amount > STRIPE_MAXIMUM_CAD:
        raise ServiceError(card_limit_message(payable))
    if amount < payable.minimum:
        raise ServiceError(
            _("The smallest partial payment is %(min)s.") % {"min": format_cad(payable.minimum)}
        )
    return amount


def card_limit_message(payable: Payable) -> str:
    """Why Stripe can't take this amount in one card payment, and what to do instead."""
    limit = format_cad(STRIPE_MAXIMUM_CAD)
    if payable.partial_allowed:
        return _(
            "A single card payment can be at most %(limit)s. Pay in parts of up to %(limit)s, "
            "or use one of the other ways to pay."
        ) % {"limit": limit}
    return _(
        "A single card payment can be at most %(limit)s, so this amount can't be paid by card. "
        "Please use one of the other ways to pay."
    ) % {"limit": limit}


def _metadata(payment: Payment, document: Invoice | Estimate) -> dict[str, str]:
    key = META_INVOICE if payment.purpose == PaymentPurpose.INVOICE else META_ESTIMATE
    return {
        META_PAYMENT: payment.public_id,
        META_COMPANY: payment.company.public_id,
        key: document.public_id,
    }


def checkout_start(
    *,
    document: Invoice | Estimate,
    amount: Decimal | None,
    return_urls: Callable[[Payment], tuple[str, str]],
    customer_email: str | None = None,
    pay_again: bool = False,
    tip: Decimal | None = None,
    save_card: bool = False,
    challenge: CodeChallenge | None = None,
) -> CheckoutStart:
    """Start a card payment: write the attempt (created), then create its Checkout Session on
    the company's connected account for exactly the amount written.

    ``document`` is an invoice (pays its balance) or an accepted estimate (pays its deposit);
    ``amount`` None means everything due. ``return_urls(payment)`` gives (success, cancel).
    The customer's email on file is prefilled unless ``customer_email`` says otherwise.
    While an earlier card payment on the document is unconfirmed (the customer came back from
    Stripe, or a bank payment is processing) a new one is refused unless ``pay_again``: the
    customer saw that payment and chose to pay again.
    ``tip``: a voluntary tip on an invoice where the company takes them, charged as its own
    line and kept apart from the invoice (``Payment.tip_amount``).
    ``challenge``: the one-time code the customer entered (``portal.stepup``), needed when
    the company asks for one for this invoice's amount; spent with the attempt it allowed.
    Raises ServiceError with a message for the customer when nothing can be charged."""
    _recheck_open_attempts(document, pay_again=pay_again)
    payment = _attempt_create(
        document=document,
        amount=amount,
        pay_again=pay_again,
        tip=tip,
        save_card=save_card,
        challenge=challenge,
    )
    success_url, cancel_url = return_urls(payment)
    cents = to_cents(payment.amount)
    tip_cents = to_cents(payment.tip_amount)
    if (
        cents + tip_cents > STRIPE_MAXIMUM_CENTS
    ):  # _charge_amount refuses it first; never ask Stripe
        _attempt_fail(payment_id=payment.pk, message="amount above Stripe's maximum")
        raise ServiceError(_("This amount is too large for one card payment."))
    metadata = _metadata(payment, document)
    label = f"{payment.company.name}: {_document_label(payment)}"[:250]
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "cad",
                    "unit_amount": cents,
                    "product_data": {"name": label},
                },
                "quantity": 1,
            }
        ],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": payment.public_id,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata, "description": label},
        "expires_at": int(cast(dt.datetime, payment.stripe_expires_at).timestamp()),
        "submit_type": "pay",
        "locale": "auto",
    }
    if tip_cents:
        params["line_items"].append(
            {
                "price_data": {
                    "currency": "cad",
                    "unit_amount": tip_cents,
                    "product_data": {
                        "name": (_("Tip for %(company)s") % {"company": payment.company.name})[:250]
                    },
                },
                "quantity": 1,
            }
        )
    email = payment.customer.email if customer_email is None else customer_email
    if payment.save_card:
        # The customer consented to keep the card: pay as their Stripe Customer and set the
        # card up for off-session use (Stripe takes customer or customer_email, not both).
        try:
            saving = save_card_params(payment)
        except stripe_client.StripeFailure as error:
            _attempt_fail(payment_id=payment.pk, message=str(error)[:300])
            raise ServiceError(
                _("Online payment is not available right now. Please try again in a few minutes.")
            ) from error
        params["customer"] = saving["customer"]
        params["payment_intent_data"]["setup_future_usage"] = saving["setup_future_usage"]
    else:
        params.update(bank_debit_params(payment))
        if email:
            params["customer_email"] = email
    try:
        session = stripe_client.checkout_session_create(
            account=payment.stripe_account_id,
            params=params,
            idempotency_key=payment.idempotency_key,
            interactive=True,  # the customer pressed Pay: a hanging Stripe must not hang it
        )
    except stripe_client.StripeFailure as error:
        _attempt_fail(payment_id=payment.pk, message=str(error)[:300])
        raise ServiceError(
            _("Online payment is not available right now. Please try again in a few minutes.")
        ) from error
    Payment.objects.filter(pk=payment.pk, stripe_session_id=None).update(
        stripe_session_id=session["id"], updated_at=timezone.now()
    )
    payment.stripe_session_id = session["id"]
    return CheckoutStart(payment=payment, url=session["url"])


def bank_debit_params(payment: Payment) -> dict[str, Any]:
    """Checkout parameters that offer Canadian pre-authorized debit (``acss_debit``) beside the
    card, for CAD invoice payments of a company that accepts it; {} otherwise.

    Stripe collects the PAD mandate on its page. An invoice paid once is a one-off debit:
    ``payment_schedule`` "sporadic" (no interval); ``transaction_type`` is the company's
    (personal for homeowners, business for commercial customers). Cards, Apple Pay and Google
    Pay stay available through the ``card`` type."""
    account = StripeAccount.objects.filter(company_id=payment.company_id).first()
    if (
        account is None
        or not account.accept_bank_debit
        or payment.purpose != PaymentPurpose.INVOICE
        or payment.currency != "cad"
    ):
        return {}
    return {
        "payment_method_types": ["card", "acss_debit"],
        "payment_method_options": {
            "acss_debit": {
                "mandate_options": {
                    "payment_schedule": "sporadic",
                    "transaction_type": account.bank_debit_transaction_type,
                },
                "verification_method": "automatic",
            }
        },
    }


RECHECK_LIMIT = 3


def _recheck_open_attempts(document: Invoice | Estimate, *, pay_again: bool = False) -> None:
    """Before charging again, ask Stripe about the document's recent attempts still open here.
    A customer who paid, lost the tab before Stripe sent them back, and whose webhook was lost,
    must not be charged twice: what Stripe confirms is applied (the webhook's path), so the
    balance, or the unconfirmed-payment check, sees it. When Stripe does not answer about such
    an attempt, no new one starts (unless the customer chose to pay again): it may have taken
    the money, and a new checkout would need Stripe anyway. Found by bench/load.py's Stripe
    outage, where a flapping Stripe let a second checkout through and charged twice."""
    if isinstance(document, Invoice):
        belongs = {"invoice_id": document.pk, "purpose": PaymentPurpose.INVOICE}
    else:
        belongs = {"estimate_id": document.pk, "purpose": PaymentPurpose.DEPOSIT}
    since = timezone.now() - dt.timedelta(minutes=_settings_int("BILLING_CHECKOUT_EXPIRY_MINUTES"))
    attempts = (
        Payment.objects.filter(
            **belongs,
            method=PaymentMethod.CARD,
            status=PaymentStatus.CREATED,
            stripe_session_id__isnull=False,
            created_at__gte=since,
        )
        .select_related("company")
        .order_by("-created_at")[:RECHECK_LIMIT]
    )
    for attempt in attempts:
        try:
            payment_refresh(payment=attempt, interactive=True)
        except stripe_client.StripeFailure as error:
            logger.warning(
                "recheck of payment %s failed: %s", attempt.public_id, error.code or "transient"
            )
            if not error.permanent:
                # Stripe is down or hanging: asking about the next attempt would only make the
                # customer wait another timeout. Reconciliation asks again later.
                if pay_again:
                    break
                raise ServiceError(
                    _(
                        "We couldn't check your earlier payment attempt with our payment "
                        "processor. Please try again in a few minutes."
                    )
                ) from error


def _document_label(payment: Payment) -> str:
    document = payment.document
    if payment.purpose == PaymentPurpose.DEPOSIT:
        return _("Deposit for estimate %(number)s") % {"number": document.display_number}
    return _("Invoice %(number)s") % {"number": document.display_number}


def _attempt_create(
    *,
    document: Invoice | Estimate,
    amount: Decimal | None,
    pay_again: bool,
    tip: Decimal | None = None,
    save_card: bool = False,
    challenge: CodeChallenge | None = None,
) -> Payment:
    with transaction.atomic():
        is_deposit = isinstance(document, Estimate)
        locked = lock_documents(
            purpose=PaymentPurpose.DEPOSIT if is_deposit else PaymentPurpose.INVOICE,
            invoice_id=None if is_deposit else document.pk,
            estimate_id=document.pk if is_deposit else None,
        )
        account = stripe_account_for(company=document.company)
        charge = _charge_amount(_payable_locked(locked, account), amount, pay_again=pay_again)
        tip_amount = _tip_amount(tip, charge=charge, account=account, is_deposit=is_deposit)
        doc = locked.document
        payment = Payment(
            company=doc.company,
            customer_id=doc.customer_id,
            invoice=None if is_deposit else locked.invoice,
            estimate=locked.estimate if is_deposit else None,
            purpose=PaymentPurpose.DEPOSIT if is_deposit else PaymentPurpose.INVOICE,
            method=PaymentMethod.CARD,
            status=PaymentStatus.CREATED,
            amount=charge,
            tip_amount=tip_amount,
            save_card=save_card and not is_deposit,
            stripe_account_id=cast(str, cast(StripeAccount, account).account_id),
            stripe_expires_at=checkout_expires_at(timezone.now()),
        )
        # The amount is part of the key: a replay with another amount must not reuse a session.
        if not is_deposit and stepup.needed(doc.company, charge):
            if challenge is None or challenge.purpose != "pay":
                raise stepup.CodeRefused(_("Enter the code we sent you first."))
            payment.step_up_verified_at = stepup.code_spend(challenge=challenge)
            payment.step_up_channel = challenge.channel
        payment.idempotency_key = f"cc-checkout-{payment.public_id}-{to_cents(charge)}"
        if tip_amount:
            payment.idempotency_key += f"-tip{to_cents(tip_amount)}"
        payment.save()
        return payment


def _tip_amount(
    tip: Decimal | None, *, charge: Decimal, account: StripeAccount | None, is_deposit: bool
) -> Decimal:
    """The tip to charge beside ``charge``: none unless the company takes tips (invoices only);
    never negative, at most the amount paid, and the whole charge within Stripe's maximum."""
    if not tip:
        return ZERO
    tip = quantize_money(tip)
    if tip < 0:
        raise ServiceError(_("A tip can't be negative."))
    if is_deposit or account is None or not account.tips_enabled:
        raise ServiceError(_("This business doesn't take tips online."))
    if tip > charge:
        raise ServiceError(_("A tip can be at most %(max)s here.") % {"max": format_cad(charge)})
    if charge + tip > STRIPE_MAXIMUM_CAD:
        raise ServiceError(_("This amount is too large for one card payment."))
    return tip


# Stripe takes ``expires_at`` from 30 minutes to 24 hours after it creates the session, measured
# when the request arrives. The setting is validated to that range at startup; the margin keeps
# a value at either end inside it despite the time the request takes.
CHECKOUT_EXPIRY_MIN = dt.timedelta(minutes=30)
CHECKOUT_EXPIRY_MAX = dt.timedelta(hours=24)
CHECKOUT_EXPIRY_MARGIN = dt.timedelta(minutes=2)


def checkout_expires_at(now: dt.datetime) -> dt.datetime:
    """When a Checkout Session created ``now`` expires: ``BILLING_CHECKOUT_EXPIRY_MINUTES`` later,
    kept a margin inside Stripe's 30 minutes to 24 hours, whole seconds (Stripe's unit)."""
    wanted = dt.timedelta(minutes=_settings_int("BILLING_CHECKOUT_EXPIRY_MINUTES"))
    low = CHECKOUT_EXPIRY_MIN + CHECKOUT_EXPIRY_MARGIN
    high = CHECKOUT_EXPIRY_MAX - CHECKOUT_EXPIRY_MARGIN
    return (now + min(max(wanted, low), high)).replace(microsecond=0)


def _settings_int(name: str) -> int:
    from django.conf import settings

    return int(getattr(settings, name))


def _attempt_fail(*, payment_id: int, message: str) -> None:
    with transaction.atomic():
        _locked, payment = lock_payment(payment_id)
        if payment.status != PaymentStatus.CREATED:
            return
        payment.status = PaymentStatus.FAILED
        payment.failure_message = message
        payment.finished_at = timezone.now()
        payment.save(update_fields=["status", "failure_message", "finished_at", "updated_at"])


def attempt_abandon(*, payment: Payment) -> Payment:
    """An attempt that never got a Checkout Session (Stripe failed or the process died before
    saving it) is cancelled: the customer never had a page to pay on."""
    with transaction.atomic():
        _locked, payment = lock_payment(payment.pk)
        if payment.status == PaymentStatus.CREATED and payment.stripe_session_id is None:
            payment.status = PaymentStatus.CANCELLED
            payment.finished_at = timezone.now()
            payment.save(update_fields=["status", "finished_at", "updated_at"])
        return payment
