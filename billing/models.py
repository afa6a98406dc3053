"""Payments: one row per attempt (a state machine), refunds as their own rows, the Stripe
connection of each company, every Stripe event by its id, and the mismatches a person must see.

Amounts are ``Decimal`` CAD. An invoice's ``amount_paid`` and ``deposit_credit`` are sums of
these rows, recomputed by ``billing.services`` under the document's row lock.
"""

from __future__ import annotations

from decimal import Decimal
from typing import cast

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from crewcommand.lib.fields import money_field
from crewcommand.lib.money import ZERO
from crewcommand.models import Company, Customer, TenantModel
from documents.models import Estimate, Invoice

STRIPE_MINIMUM_CAD = Decimal("0.50")
# Stripe's largest single charge is 8 digits in the smallest unit: 99,999,999 cents.
# https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts
STRIPE_MAXIMUM_CENTS = 99_999_999
STRIPE_MAXIMUM_CAD = Decimal("999999.99")
# Tip presets offered on the pay page, in percent of the amount paid.
TIP_PRESETS = (10, 15, 20)


# The payment options a company sets on its Stripe account row (the settings form edits these,
# and only these; billing.services.stripe_options_update saves them).
PAYMENT_OPTION_FIELDS = (
    "allow_partial_payments",
    "minimum_partial_amount",
    "refund_duplicate_payments",
    "accept_bank_debit",
    "bank_debit_transaction_type",
    "tips_enabled",
)


class StripeAccount(models.Model):
    """A company's Stripe Connect account and its payment options. The row may exist before an
    account is connected (``account_id`` null) so the options can be set at any time."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="stripe_account")
    account_id = models.CharField(
        _("Stripe account ID"), max_length=64, unique=True, null=True, blank=True
    )
    charges_enabled = models.BooleanField(default=False)
    details_submitted = models.BooleanField(default=False)
    connected_at = models.DateTimeField(null=True, blank=True)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    allow_partial_payments = models.BooleanField(
        _("let customers pay part of an invoice online"), default=False
    )
    minimum_partial_amount = money_field(
        _("smallest partial payment"),
        default=Decimal("50.00"),
        validators=[MinValueValidator(STRIPE_MINIMUM_CAD)],
    )
    refund_duplicate_payments = models.BooleanField(
        _("refund duplicate card payments automatically"), default=False
    )
    accept_bank_debit = models.BooleanField(
        _("let customers pay CAD invoices by pre-authorized debit (bank account)"),
        default=False,
    )
    bank_debit_transaction_type = models.CharField(
        _("pre-authorized debits are"),
        max_length=10,
        choices=[("personal", _("personal (homeowners)")), ("business", _("business"))],
        default="personal",
    )
    tips_enabled = models.BooleanField(
        _("let customers add an optional tip when they pay online"), default=False
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("Stripe account")

    def __str__(self) -> str:
        return self.account_id or f"(not connected) {self.company_id}"

    @property
    def is_ready(self) -> bool:
        return bool(self.account_id and self.charges_enabled)


class PaymentPurpose(models.TextChoices):
    INVOICE = "invoice", _("Invoice payment")
    DEPOSIT = "deposit", _("Deposit")


class PaymentMethod(models.TextChoices):
    CARD = "card", _("Card (Stripe)")
    CASH = "cash", _("Cash")
    CHEQUE = "cheque", _("Cheque")
    ETRANSFER = "etransfer", _("Interac e-Transfer")
    OTHER = "other", _("Other")


MANUAL_METHODS = (
    PaymentMethod.CASH,
    PaymentMethod.CHEQUE,
    PaymentMethod.ETRANSFER,
    PaymentMethod.OTHER,
)


class PaymentStatus(models.TextChoices):
    CREATED = "created", _("Started")
    PROCESSING = "processing", _("Processing")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_PAYMENT_STATUSES = (PaymentStatus.CREATED, PaymentStatus.PROCESSING)


class Payment(TenantModel):
    """One attempt to pay an invoice or an estimate's deposit.

    created → processing → succeeded | failed | cancelled. Succeeded is final; a failed or
    cancelled attempt can still become succeeded when Stripe reports the money arrived.
    ``applied`` says whether the money counts toward the document: a payment that would
    overpay, or that does not match what was asked, is recorded but not applied, and flagged.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="payments")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="payments")
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    estimate = models.ForeignKey(
        Estimate, on_delete=models.PROTECT, null=True, blank=True, related_name="deposit_payments"
    )
    purpose = models.CharField(max_length=10, choices=PaymentPurpose.choices)
    method = models.CharField(_("method"), max_length=10, choices=PaymentMethod.choices)
    status = models.CharField(
        max_length=12, choices=PaymentStatus.choices, default=PaymentStatus.CREATED
    )
    amount = money_field(_("amount"))
    # A voluntary tip paid with it (its own Stripe line): never part of the document's total,
    # taxes or balance, and not in ``amount``. Stripe charged ``amount + tip_amount``.
    tip_amount = money_field(_("tip"), default=ZERO)
    currency = models.CharField(max_length=3, default="cad")
    applied = models.BooleanField(default=False)
    # Every succeeded refund on this payment, and of that the part given as goodwill (see
    # RefundKind): goodwill money went back but still counts toward the document.
    amount_refunded = money_field(default=ZERO)
    amount_refunded_goodwill = money_field(default=ZERO)
    received_on = models.DateField(_("date received"), null=True, blank=True)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    stripe_account_id = models.CharField(max_length=64, blank=True)
    stripe_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    stripe_payment_intent_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    stripe_expires_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=100, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The customer came back through Stripe's success redirect (which Stripe sends only after
    # the session completed) before the payment was confirmed: money may have been taken, so the
    # portal asks before charging again and reconciliation looks at it within a minute.
    returned_at = models.DateTimeField(null=True, blank=True)
    receipt_sent_at = models.DateTimeField(null=True, blank=True)
    company_notified_at = models.DateTimeField(null=True, blank=True)
    # What Stripe charged: "card", "acss_debit" (pre-authorized debit), with the wallet
    # ("apple_pay", "google_pay", "link") a card came through, and its last four digits.
    method_type = models.CharField(max_length=30, blank=True)
    wallet = models.CharField(max_length=30, blank=True)
    method_last4 = models.CharField(max_length=4, blank=True)
    # Claimed once when a bank payment that was processing failed: both sides are told.
    failure_notified_at = models.DateTimeField(null=True, blank=True)
    # The customer ticked "save this card for future invoices" on the pay page.
    save_card = models.BooleanField(default=False)
    # Step-up (portal.stepup): the one-time code entered before paying, and how it was sent.
    step_up_channel = models.CharField(_("code verified by"), max_length=10, blank=True)
    step_up_verified_at = models.DateTimeField(_("code verified"), null=True, blank=True)
    # A charge on a saved card (no Checkout): the card, and for autopay the one key per
    # invoice and amount (unique: ten concurrent runs make one row, one charge).
    saved_card = models.ForeignKey(
        "SavedCard", on_delete=models.SET_NULL, null=True, blank=True, related_name="charges"
    )
    autopay_key = models.CharField(max_length=100, unique=True, null=True, blank=True)
    # Who made a saved-card charge happen: "autopay" (the due-date run) or a member's name.
    triggered_by = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = _("payment")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=Q(tip_amount__gte=0), name="payment_tip_not_negative"),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0, amount_refunded__lte=F("amount")),
                name="payment_refunds_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(
                    amount_refunded_goodwill__gte=0,
                    amount_refunded_goodwill__lte=F("amount_refunded"),
                ),
                name="payment_goodwill_within_refunds",
            ),
            models.CheckConstraint(
                condition=Q(purpose="invoice", invoice__isnull=False)
                | Q(purpose="deposit", estimate__isnull=False),
                name="payment_has_its_document",
            ),
            models.CheckConstraint(
                condition=Q(applied=False) | Q(status="succeeded"),
                name="only_succeeded_payments_apply",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "status", "-created_at"]),
            models.Index(fields=["status", "method", "created_at"], name="payment_open_idx"),
            models.Index(
                fields=["returned_at"],
                condition=Q(status="created", returned_at__isnull=False),
                name="payment_returned_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.amount} ({self.status})"

    @property
    def document(self) -> Invoice | Estimate:
        # Never None: the payment_has_its_document constraint.
        document = self.invoice if self.purpose == PaymentPurpose.INVOICE else self.estimate
        return cast("Invoice | Estimate", document)

    @property
    def refundable(self) -> Decimal:
        """What may still be refunded: pending refunds are already spoken for. Uses the
        prefetched ``refunds`` when the caller loaded them."""
        pending = sum(
            (r.amount for r in self.refunds.all() if r.status == RefundStatus.PENDING), ZERO
        )
        return max(ZERO, self.amount - self.amount_refunded - pending)

    @property
    def is_bank_debit(self) -> bool:
        return self.method_type == "acss_debit"

    @property
    def method_label(self) -> str:
        """How it was paid, for receipts and lists: "Visa ····4242 (Apple Pay)",
        "Pre-authorized debit ····6789", or the method's label."""
        if self.method_type == "acss_debit":
            label = str(_("Pre-authorized debit"))
        elif self.method_type == "card":
            label = str(_("Card"))
        else:
            return str(PaymentMethod(self.method).label)
        if self.method_last4:
            label = f"{label} ····{self.method_last4}"
        wallets = {"apple_pay": "Apple Pay", "google_pay": "Google Pay", "link": "Link"}
        if self.wallet:
            label = f"{label} ({wallets.get(self.wallet, self.wallet)})"
        return label

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_PAYMENT_STATUSES

    @property
    def display_status(self) -> str:
        """For badges: a fully refunded payment reads "refunded"."""
        if self.status == PaymentStatus.SUCCEEDED and self.amount_refunded:
            return "refunded" if self.amount_refunded >= self.amount else "partially_refunded"
        return self.status

    @property
    def display_status_label(self) -> str:
        labels = {
            "refunded": _("Refunded"),
            "partially_refunded": _("Partly refunded"),
        }
        if self.display_status in labels:
            return str(labels[self.display_status])
        return str(PaymentStatus(self.status).label)

    @property
    def not_applied(self) -> bool:
        """Money that went through but does not count toward the document (a duplicate, a
        mismatch): lists and the payment page badge it "Not applied"."""
        return self.status == PaymentStatus.SUCCEEDED and not self.applied

    @property
    def not_applied_reason(self) -> str:
        """A few words on why (from its issue; lists prefetch ``issues``), "" when applied."""
        if not self.not_applied:
            return ""
        kinds = {issue.kind for issue in self.issues.all()}
        if IssueKind.OVERPAID in kinds:
            if self.refundable > 0:
                return str(_("duplicate, to refund"))
            return str(_("duplicate, refunded"))
        reasons = {
            IssueKind.AMOUNT_MISMATCH: _("amount differs from what was asked"),
            IssueKind.CURRENCY_MISMATCH: _("paid in another currency"),
            IssueKind.DOCUMENT_VOID: _("invoice was voided"),
            IssueKind.DOCUMENT_CLOSED: _("estimate already invoiced"),
        }
        for kind, reason in reasons.items():
            if kind in kinds:
                return str(reason)
        return str(_("not counted toward the document"))


class RefundKind(models.TextChoices):
    """What a refund does to the document's balance (Balance = total - payments + refunds).

    A reversal undoes (part of) the payment: the money stops counting toward the document, so
    its balance goes back up by the amount (a payment made in error, work that won't be done).
    A goodwill refund gives money back as a gesture while the bill stands settled: it is booked
    as the refund plus a credit of the same amount, which cancel out, so the balance does not
    move and a paid invoice stays paid."""

    REVERSAL = "reversal", _("Reverse the payment")
    GOODWILL = "goodwill", _("Goodwill refund")


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Refunded")
    FAILED = "failed", _("Failed")


class Refund(TenantModel):
    """Money given back on one payment: through Stripe for card payments, by hand otherwise."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="refunds")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = money_field(_("amount"))
    status = models.CharField(
        max_length=10, choices=RefundStatus.choices, default=RefundStatus.PENDING
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    kind = models.CharField(
        _("effect on the balance"),
        max_length=10,
        choices=RefundKind.choices,
        default=RefundKind.REVERSAL,
    )
    # Made by the system (a duplicate payment the company asked us to refund), not a person.
    automatic = models.BooleanField(default=False)
    stripe_refund_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    failure_message = models.CharField(max_length=300, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    # Claimed once, after commit, by the task that emails the customer their refund notice.
    notice_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("refund")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"refund {self.amount} ({self.status})"


class IssueKind(models.TextChoices):
    AMOUNT_MISMATCH = "amount", _("Amount differs from what was asked")
    CURRENCY_MISMATCH = "currency", _("Paid in another currency")
    DOCUMENT_VOID = "void", _("Paid after the invoice was voided")
    OVERPAID = "overpaid", _("Paid after the balance was already paid")
    DOCUMENT_CLOSED = "closed", _("Deposit paid after the estimate was invoiced")


class PaymentIssue(TenantModel):
    """A payment Stripe took that was not applied, for a person to resolve. Never silent."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="payment_issues")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="issues")
    kind = models.CharField(max_length=10, choices=IssueKind.choices)
    details = models.JSONField(default=dict, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolution = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("payment issue")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["payment", "kind"], name="one_issue_per_kind"),
        ]
        indexes = [models.Index(fields=["company", "resolved_at"])]

    def __str__(self) -> str:
        return f"{self.kind} on payment {self.payment_id}"


class EventStatus(models.TextChoices):
    """Where a stored Stripe event stands. ``received``: stored by the webhook, waiting for the
    worker (or for its retry time); ``processing``: claimed by a worker; the rest are final."""

    RECEIVED = "received", _("Received")
    PROCESSING = "processing", _("Processing")
    APPLIED = "applied", _("Applied")
    IGNORED = "ignored", _("Ignored")
    REJECTED = "rejected", _("Rejected")
    FAILED = "failed", _("Failed")


EVENT_OPEN = (EventStatus.RECEIVED, EventStatus.PROCESSING)


class StripeEvent(models.Model):
    """Every Stripe event we accepted, by its Stripe id (unique): the guard against processing a
    redelivered event twice, the queue the worker processes (``status``), and the audit of what
    Stripe told us and what we did with it (``status``, ``last_error``)."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    account = models.CharField(max_length=64, blank=True)
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    payment = models.ForeignKey(
        Payment, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    stripe_created = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        _("status"), max_length=12, choices=EventStatus.choices, default=EventStatus.RECEIVED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # A transient failure (Stripe unreachable) waits until then; null: due now.
    retry_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # When beat last handed the row to the broker (not again before a while: a long backlog).
    requeued_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("Stripe event")
        ordering = ["-received_at", "-id"]
        indexes = [
            # The sweep's query: only the few rows not processed yet are in this index.
            models.Index(
                fields=["received_at"],
                condition=Q(status__in=EVENT_OPEN),
                name="billing_event_open_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class PaymentTransfer(TenantModel):
    """A payment moved from the invoice it landed on to another open invoice of the same
    customer: the ledger's record of the move (amounts and both invoices, who and why)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="transfers")
    from_invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="+")
    to_invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="+")
    amount = money_field(_("amount"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("payment transfer")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"move {self.amount} of payment {self.payment_id}"


class SavedCard(TenantModel):
    """A card a customer saved, with explicit consent on the pay page, for future invoices from
    one company: a Stripe Customer and PaymentMethod on the company's connected account.
    Removed cards keep their row (``removed_at``) for the charges that used them."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="saved_cards")
    stripe_account_id = models.CharField(max_length=64)
    stripe_customer_id = models.CharField(max_length=64)
    stripe_payment_method_id = models.CharField(max_length=64)
    brand = models.CharField(max_length=30, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    consent_text = models.CharField(max_length=300)
    consent_at = models.DateTimeField()
    consent_payment = models.ForeignKey(
        Payment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    autopay = models.BooleanField(_("charge sent invoices on their due date"), default=False)
    autopay_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("saved card")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(removed_at__isnull=True),
                name="one_saved_card_per_customer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.brand} ····{self.last4}"

    @property
    def label(self) -> str:
        return f"{self.brand.title() or _('Card')} ····{self.last4}"


class StripeCustomer(models.Model):
    """Our customer's Stripe Customer on the company's connected account (made when they first
    save a card)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    stripe_account_id = models.CharField(max_length=64)
    stripe_customer_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "stripe_account_id"], name="one_stripe_customer_per_account"
            )
        ]

    def __str__(self) -> str:
        return self.stripe_customer_id


# QuickBooks models live in their own module; importing them here registers them with the app.
from billing.quickbooks.models import (  # noqa: E402, F401
    QuickBooksConnection,
    SyncLog,
    SyncRecord,
    TaxMapping,
)
