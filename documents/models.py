"""Estimates and invoices.

An estimate is a numbered container; its content lives in revisions. Editing an estimate that
has been sent makes a new revision, so what a customer saw (and signed) never changes. An invoice
has no revisions: it is edited while a draft, and after sending it is voided, never deleted.
Totals are computed by ``documents.tax.compute_totals`` and cached on the row for lists.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crewcommand.lib.fields import money_field
from crewcommand.lib.money import ZERO
from crewcommand.models import Company, Customer, Job, Province, TenantModel

if TYPE_CHECKING:
    from documents.totals import EstimateFigures


class DocumentKind(models.TextChoices):
    ESTIMATE = "estimate", _("Estimate")
    INVOICE = "invoice", _("Invoice")


class DocumentSequence(models.Model):
    """The next number per company and kind. Taken under a row lock inside the creating
    transaction, so numbers are consecutive and a rolled-back creation returns its number."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=DocumentKind.choices)
    next_number = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "kind"], name="one_sequence_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.company_id}:{self.kind}→{self.next_number}"


class EstimateStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENT = "sent", _("Sent")
    VIEWED = "viewed", _("Viewed")
    # The customer asked for changes from the portal; it ends when a revised version is sent
    # or the customer accepts or declines (the message is on the estimate, ``changes_message``).
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    EXPIRED = "expired", _("Expired")


# Sent estimates the customer may still answer (accept, decline, ask for changes).
OPEN_ESTIMATE_STATUSES = (
    EstimateStatus.SENT,
    EstimateStatus.VIEWED,
    EstimateStatus.CHANGES_REQUESTED,
)
# Closed: the customer has nothing left to do on it. Links to a closed document stop opening it
# some days after it closed (the company's ``portal_closed_link_days``, see portal.models). An
# accepted estimate is not closed: it is the signed record the customer keeps, and the work
# (and its invoice) still lie ahead.
CLOSED_ESTIMATE_STATUSES = (EstimateStatus.DECLINED,)


class DepositKind(models.TextChoices):
    NONE = "none", _("No deposit")
    PERCENT = "percent", _("Percentage of total")
    FIXED = "fixed", _("Fixed amount")


class Estimate(TenantModel):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="estimates")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="estimates")
    job = models.ForeignKey(
        Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="estimates"
    )
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=20, choices=EstimateStatus.choices, default=EstimateStatus.DRAFT
    )
    # Null only inside estimate_create, which sets it in the same transaction: typed as always set.
    current_revision: models.ForeignKey[EstimateRevision | None, EstimateRevision] = (
        models.ForeignKey("EstimateRevision", on_delete=models.PROTECT, null=True, related_name="+")
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    viewed_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(blank=True, max_length=2000)
    # The customer's open request for changes (status CHANGES_REQUESTED, or DRAFT while the
    # contractor revises in answer to it); cleared when the next version is sent or the customer
    # answers. Every request stays in the activity log.
    changes_message = models.TextField(blank=True, max_length=2000)
    changes_requested_at = models.DateTimeField(null=True, blank=True)
    # What the customer accepted: the revision and their picks (see documents.totals.Selection).
    accepted_revision = models.ForeignKey(
        "EstimateRevision", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    accepted_selection = models.JSONField(default=dict, blank=True)
    # Not a column: set on fetched rows for a page (portal.selectors.home_context).
    shown_total: Decimal | None

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["company", "number"], name="estimate_number_unique")
        ]
        indexes = [models.Index(fields=["company", "status"])]

    def __str__(self) -> str:
        return self.display_number

    @property
    def display_number(self) -> str:
        return f"EST-{self.number:04d}"

    def get_absolute_url(self) -> str:
        return reverse("documents:estimate_detail", args=[self.public_id])

    @property
    def display_status(self) -> str:
        """The status a person should see: open estimates (``OPEN_ESTIMATE_STATUSES``) past
        their date are expired."""
        revision = self.current_revision
        if (
            self.status in OPEN_ESTIMATE_STATUSES
            and revision is not None
            and revision.valid_until
            and revision.valid_until < timezone.localdate()
        ):
            return EstimateStatus.EXPIRED
        return self.status

    @property
    def display_status_label(self) -> str:
        return str(EstimateStatus(self.display_status).label)

    @property
    def closed_at(self) -> dt.datetime | None:
        """When the estimate closed (``CLOSED_ESTIMATE_STATUSES``): declined; None while open."""
        return self.decided_at if self.status in CLOSED_ESTIMATE_STATUSES else None

    @property
    def open_change_request(self) -> bool:
        """The customer asked for changes and no new version has answered it yet."""
        return self.changes_requested_at is not None and self.status in {
            EstimateStatus.CHANGES_REQUESTED,
            EstimateStatus.DRAFT,
        }

    @property
    def figures(self) -> EstimateFigures | None:
        """Total and deposit as they stand: the customer's choices once accepted, else the
        current revision's defaults (``documents.totals.estimate_figures``, the one rule every
        contractor page uses). Lists prefetch the lines it reads (``selectors.with_figures``)."""
        from documents.totals import estimate_figures

        if self.current_revision_id is None and self.accepted_revision_id is None:
            return None
        return estimate_figures(self)


class EstimateRevision(models.Model):
    """One version of an estimate's content. Frozen once sent; a signature binds to one."""

    estimate = models.ForeignKey(Estimate, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveSmallIntegerField(default=1)
    province = models.CharField(_("tax province"), max_length=2, choices=Province.choices)
    issue_date = models.DateField(_("date"), default=timezone.localdate)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True, max_length=5000)
    terms = models.TextField(_("terms"), blank=True, max_length=10000)
    deposit_kind = models.CharField(
        _("deposit"), max_length=10, choices=DepositKind.choices, default=DepositKind.NONE
    )
    deposit_value = models.DecimalField(
        _("deposit amount or %"),
        max_digits=12,
        decimal_places=2,
        default=ZERO,
        validators=[MinValueValidator(ZERO)],
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Cached from compute_totals with the default selection, for lists and sums.
    subtotal = money_field(default=ZERO)
    tax_total = money_field(default=ZERO)
    total = money_field(default=ZERO)

    class Meta:
        ordering = ["estimate", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["estimate", "number"], name="revision_number_unique"),
            models.CheckConstraint(
                condition=~models.Q(deposit_kind="percent") | models.Q(deposit_value__lte=100),
                name="deposit_percent_at_most_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.estimate} r{self.number}"

    @property
    def is_frozen(self) -> bool:
        return self.sent_at is not None


class LineKind(models.TextChoices):
    STANDARD = "standard", _("Included")
    OPTIONAL = "optional", _("Optional add-on")
    CHOICE = "choice", _("Package option")


class TaxParts(models.TextChoices):
    """Which taxes apply to a taxable line (``documents.tax.LineIn.parts``): every tax, only the
    federal one (GST, or HST in a harmonized province) or only the provincial one (PST, RST,
    QST). A line with ``taxable`` off has no tax at all, whatever this says."""

    ALL = "all", _("All taxes")
    FEDERAL = "federal", _("Federal only (GST)")
    PROVINCIAL = "provincial", _("Provincial only (PST/QST)")


class LineItem(models.Model):
    """A line on an estimate revision or an invoice (exactly one of the two)."""

    revision = models.ForeignKey(
        EstimateRevision, on_delete=models.CASCADE, null=True, blank=True, related_name="lines"
    )
    invoice = models.ForeignKey(
        "Invoice", on_delete=models.CASCADE, null=True, blank=True, related_name="lines"
    )
    position = models.PositiveIntegerField(default=0)
    description = models.CharField(_("description"), max_length=500)
    quantity = models.DecimalField(
        _("quantity"),
        max_digits=12,
        decimal_places=3,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.001")), MaxValueValidator(Decimal("999999.999"))],
    )
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    taxable = models.BooleanField(_("taxable"), default=True)
    # Added after ``taxable``: every row before it means "all taxes" (or none, with taxable off),
    # which the default keeps, so old documents and signed snapshots keep their meaning.
    tax_parts = models.CharField(
        _("taxes"), max_length=10, choices=TaxParts.choices, default=TaxParts.ALL
    )
    kind = models.CharField(max_length=10, choices=LineKind.choices, default=LineKind.STANDARD)
    # Package options share a group name ("Water heater"); the customer picks one per group.
    group = models.CharField(_("package"), max_length=100, blank=True)
    selected_by_default = models.BooleanField(_("selected by default"), default=True)
    public_id = models.CharField(max_length=20, unique=True, editable=False)
    # Not a column: set on fetched rows for a page (portal.selectors.estimate_context).
    is_picked: bool

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(revision__isnull=False, invoice__isnull=True)
                | models.Q(revision__isnull=True, invoice__isnull=False),
                name="line_belongs_to_one_document",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="choice") | ~models.Q(group=""),
                name="choice_line_has_group",
            ),
        ]

    def __str__(self) -> str:
        return self.description

    def save(self, *args, **kwargs) -> None:
        if not self.public_id:
            from crewcommand.lib.ids import new_public_id

            self.public_id = new_public_id()
        super().save(*args, **kwargs)

    @property
    def amount(self) -> Decimal:
        """Quantity times unit price, rounded by the one rule (documents.tax.line_amount)."""
        from documents.tax import line_amount

        return line_amount(self.as_line_in())

    def as_line_in(self):
        """This line as ``documents.tax.compute_totals`` takes it."""
        from documents.tax import LineIn

        return LineIn(self.quantity, self.unit_price, self.taxable, self.tax_parts)

    @property
    def applies_all_taxes(self) -> bool:
        return self.taxable and self.tax_parts == TaxParts.ALL


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENT = "sent", _("Sent")
    VIEWED = "viewed", _("Viewed")
    PARTIALLY_PAID = "partially_paid", _("Partially paid")
    PAID = "paid", _("Paid")
    VOID = "void", _("Void")


OPEN_INVOICE_STATUSES = (InvoiceStatus.SENT, InvoiceStatus.VIEWED, InvoiceStatus.PARTIALLY_PAID)
# Paid or void: see CLOSED_ESTIMATE_STATUSES.
CLOSED_INVOICE_STATUSES = (InvoiceStatus.PAID, InvoiceStatus.VOID)


class PaymentTerms(models.TextChoices):
    DUE_ON_RECEIPT = "receipt", _("Due on receipt")
    NET_15 = "net15", _("Net 15")
    NET_30 = "net30", _("Net 30")
    CUSTOM = "custom", _("Custom date")


TERM_DAYS: dict[str, int] = {
    PaymentTerms.DUE_ON_RECEIPT: 0,
    PaymentTerms.NET_15: 15,
    PaymentTerms.NET_30: 30,
}


class Invoice(TenantModel):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="invoices")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    job = models.ForeignKey(
        Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="invoices"
    )
    estimate = models.ForeignKey(
        Estimate, on_delete=models.SET_NULL, null=True, blank=True, related_name="invoices"
    )
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=20, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    province = models.CharField(_("tax province"), max_length=2, choices=Province.choices)
    issue_date = models.DateField(_("date"), default=timezone.localdate)
    terms = models.CharField(
        _("payment terms"),
        max_length=10,
        choices=PaymentTerms.choices,
        default=PaymentTerms.DUE_ON_RECEIPT,
    )
    due_date = models.DateField(_("due date"))
    notes = models.TextField(_("notes"), blank=True, max_length=5000)
    terms_text = models.TextField(_("terms and conditions"), blank=True, max_length=10000)
    sent_at = models.DateTimeField(null=True, blank=True)
    viewed_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    # When the balance last reached zero (billing.services.ledger keeps it; null while not paid).
    paid_at = models.DateTimeField(null=True, blank=True)
    subtotal = money_field(default=ZERO)
    tax_total = money_field(default=ZERO)
    total = money_field(default=ZERO)
    # Maintained by billing services inside the payment's transaction.
    amount_paid = money_field(default=ZERO)
    deposit_credit = money_field(default=ZERO)
    # The tax point of a deposit paid on the estimate before this invoice's date (set once, at
    # conversion): its share of each tax stays at the rate in force the day it was paid
    # (documents.tax.compute_totals, ``prepaid``). Zero / null: no such deposit.
    prepaid_amount = money_field(default=ZERO)
    prepaid_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["company", "number"], name="invoice_number_unique"),
            models.CheckConstraint(
                condition=models.Q(due_date__gte=models.F("issue_date")),
                name="invoice_due_after_issue",
            ),
        ]
        indexes = [models.Index(fields=["company", "status", "due_date"])]

    def __str__(self) -> str:
        return self.display_number

    @property
    def display_number(self) -> str:
        return f"INV-{self.number:04d}"

    def get_absolute_url(self) -> str:
        return reverse("documents:invoice_detail", args=[self.public_id])

    @property
    def balance(self) -> Decimal:
        if self.status == InvoiceStatus.VOID:
            return ZERO
        return max(ZERO, self.total - self.deposit_credit - self.amount_paid)

    def status_from_money(self) -> str:
        """The status its money gives: paid when nothing is left and something covered it (a
        payment or the estimate's deposit), partly paid when something was paid, and back to
        where it was (viewed, sent, draft) when refunds take everything back. A draft with no
        payment stays a draft, and a void invoice stays void. billing's ``recompute_invoice``
        sets it from the rows; ``invoice_send`` from the deposit credited at conversion."""
        if self.status == InvoiceStatus.VOID:
            return InvoiceStatus.VOID
        if self.status == InvoiceStatus.DRAFT and self.amount_paid <= 0:
            return InvoiceStatus.DRAFT
        if (
            self.total > 0
            and self.balance <= 0
            and (self.amount_paid > 0 or self.deposit_credit > 0)
        ):
            return InvoiceStatus.PAID
        if self.amount_paid > 0:
            return InvoiceStatus.PARTIALLY_PAID
        if self.viewed_at:
            return InvoiceStatus.VIEWED
        return InvoiceStatus.SENT if self.sent_at else InvoiceStatus.DRAFT

    @property
    def is_overdue(self) -> bool:
        return (
            self.status in OPEN_INVOICE_STATUSES
            and self.balance > 0
            and self.due_date < timezone.localdate()
        )

    @property
    def display_status(self) -> str:
        return "overdue" if self.is_overdue else self.status

    @property
    def closed_at(self) -> dt.datetime | None:
        """When the invoice closed (``CLOSED_INVOICE_STATUSES``): paid or voided; None while
        open."""
        if self.status == InvoiceStatus.VOID:
            return self.voided_at
        return self.paid_at if self.status == InvoiceStatus.PAID else None

    @property
    def display_status_label(self) -> str:
        return str(_("Overdue") if self.is_overdue else InvoiceStatus(self.status).label)

    @staticmethod
    def due_date_for(issue_date: dt.date, terms: str) -> dt.date:
        return issue_date + dt.timedelta(days=TERM_DAYS.get(terms, 0))
