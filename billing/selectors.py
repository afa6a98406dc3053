"""Reads for payments: what a document still asks for, lists with totals, and summaries for the
invoice, estimate and job pages. Each list runs a fixed number of queries whatever its length."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.db import connections
from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    StringAgg,
    Subquery,
    Sum,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.models import (
    STRIPE_MAXIMUM_CAD,
    STRIPE_MINIMUM_CAD,
    Payment,
    PaymentIssue,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    Refund,
    RefundKind,
    StripeAccount,
)
from crewcommand.lib.money import ZERO
from crewcommand.lib.pagecache import row_state
from crewcommand.models import Company, Job
from documents.models import Estimate, EstimateStatus, Invoice, InvoiceStatus
from documents.totals import estimate_figures
from portal import stepup

if TYPE_CHECKING:
    from typing import TypedDict

    from django_stubs_ext import WithAnnotations

    class JobPaymentStatus(TypedDict):
        """What ``job_payment_status`` annotates on each job."""

        invoiced: Decimal
        settled: Decimal
        payment_state: str


MONEY = DecimalField(max_digits=14, decimal_places=2)


def _sum(expression) -> Coalesce:
    return Coalesce(Sum(expression), Value(ZERO), output_field=MONEY)


# --- Stripe connection -------------------------------------------------------------------------


def stripe_account_for(*, company: Company) -> StripeAccount | None:
    """The company's Stripe row. Free when the caller loaded it with
    ``select_related("company__stripe_account")`` (the portal's link lookup can)."""
    relation = Company.stripe_account.related
    if relation.is_cached(company):
        return cast("StripeAccount | None", relation.get_cached_value(company))
    return StripeAccount.objects.filter(company=company).first()


def online_payment_ready(*, account: StripeAccount | None) -> bool:
    """Card payments work only with the platform key set and the company's account able to
    take charges; otherwise the portal shows the company's other payment instructions."""
    return bool(settings.STRIPE_SECRET_KEY and account is not None and account.is_ready)


# --- The portal's cached pages ------------------------------------------------------------------
#
# Billing's portal slots (portal.slots, filled keyed from BillingConfig.ready()) are rendered
# into the cached page: its key holds everything they read beyond the page's own rows. The
# link's one query brings the document's payments (every field of every row) and whether its
# estimate has been invoiced; ``portal_slot_state`` adds the company's Stripe row (loaded with
# the link) and whether the platform takes card payments at all.


class _Text(Value):
    """A short constant written into the SQL itself rather than as a parameter: the state
    query below has two per column, and psycopg re-parses (uncached) a long statement for
    every parameter on every run."""

    def __init__(self, text: str) -> None:
        if "'" in text or "%" in text:
            raise ValueError(text)
        super().__init__(text, output_field=TextField())

    def as_sql(self, compiler, connection):
        return f"'{self.value}'", []


class _Joined(Func):
    """``a || b || …`` of texts that are never NULL (``Concat`` wraps each part in one more
    COALESCE with a parameter)."""

    template = "(%(expressions)s)"
    arg_joiner = " || "
    output_field = TextField()


def _row_text(model) -> _Joined:
    """Every concrete field of a row as one text (NULL as ``~``), for a state digest."""
    parts: list = []
    for field in model._meta.concrete_fields:
        if parts:
            parts.append(_Text("|"))
        text = Cast(F(field.attname), TextField())
        parts.append(Coalesce(text, _Text("~"), output_field=TextField()))
    return _Joined(*parts)


def link_payments_state() -> Subquery:
    """An expression over ``PortalLink``: every payment of the link's invoice or estimate, and
    of the estimate the invoice was made from (its deposit), each row in full, in id order;
    NULL when there are none. Any new payment, status, return from Stripe, refund or edit
    changes it. In id order where the database can order an aggregate (PostgreSQL; not SQLite
    before 3.44, where the order is the scan's: another order would only be a miss)."""
    ordered = connections["default"].features.supports_aggregate_order_by_clause
    order: dict[str, Any] = {"order_by": "id"} if ordered else {}
    rows = (
        Payment.objects.filter(
            Q(invoice_id=OuterRef("invoice_id"))
            | Q(estimate_id=OuterRef("estimate_id"))
            | Q(estimate_id=OuterRef("invoice__estimate_id"))
        )
        .order_by()
        .values("company_id")
        .annotate(
            state=StringAgg(_row_text(Payment), _Text(";"), output_field=TextField(), **order)
        )
        .values("state")[:1]
    )
    return Subquery(rows, output_field=TextField())


def link_invoiced_state() -> Exists:
    """An expression over ``PortalLink``: the link's estimate has an invoice that is not void
    (its deposit is then paid on the invoice: ``deposit_payable``)."""
    return Exists(
        Invoice.objects.filter(estimate_id=OuterRef("estimate_id")).exclude(
            status=InvoiceStatus.VOID
        )
    )


def portal_slot_state(link) -> tuple:
    """What billing's keyed portal slots read beyond the page's rows and the link's
    annotations (``link_payments_state``, ``link_invoiced_state``): the company's Stripe row
    (balance limits, partial payments, tips, bank debit, connected or not) and whether the
    platform's key is set."""
    account = stripe_account_for(company=link.company)
    return (
        bool(settings.STRIPE_SECRET_KEY),
        row_state(account),
        getattr(link, "billing_payments", None),
        getattr(link, "billing_invoiced", None),
    )


# --- What a document asks for ------------------------------------------------------------------


@dataclass(frozen=True)
class Payable:
    """What a customer can pay now on one document, computed from the same rows the services
    lock. ``due`` is what the Pay button charges; ``closed`` says why nothing can be paid."""

    purpose: str
    document: Invoice | Estimate
    label: str
    asked: Decimal
    paid: Decimal
    due: Decimal
    allow_partial: bool
    minimum: Decimal
    online: bool
    closed: str = ""
    # A card payment that may have taken money but is not confirmed yet: paying again needs
    # the customer's explicit confirmation.
    unconfirmed: Payment | None = None
    # The company takes pre-authorized debit (CAD invoices) beside cards.
    bank_debit: bool = False
    # The company takes optional tips on invoices paid online.
    tips: bool = False
    # The company asks for a one-time code before this invoice is paid (portal.stepup).
    step_up: bool = False

    @property
    def held(self) -> bool:
        """A bank payment is processing (days, at Stripe): no Pay button, no new payment,
        until it succeeds or fails."""
        return self.unconfirmed is not None and self.unconfirmed.status == PaymentStatus.PROCESSING

    @property
    def over_card_limit(self) -> bool:
        """More is due than Stripe can take in one charge (``STRIPE_MAXIMUM_CAD``)."""
        return self.due > STRIPE_MAXIMUM_CAD

    @property
    def card_maximum(self) -> Decimal:
        """The most one card payment can be: the amount due, capped at Stripe's maximum."""
        return min(self.due, STRIPE_MAXIMUM_CAD)

    @property
    def can_pay_online(self) -> bool:
        """The whole amount due can be paid by card now (the Pay button)."""
        return (
            self.online
            and not self.closed
            and not self.held
            and STRIPE_MINIMUM_CAD <= self.due <= STRIPE_MAXIMUM_CAD
        )

    @property
    def can_pay_in_parts_only(self) -> bool:
        """Too much for one card payment, but the company takes partial payments: the customer
        can pay by card in parts of at most ``card_maximum``."""
        return (
            self.online
            and not self.closed
            and not self.held
            and self.over_card_limit
            and self.partial_allowed
        )

    @property
    def partial_allowed(self) -> bool:
        return self.allow_partial and self.due > self.minimum


def unconfirmed_payment(*, document: Invoice | Estimate) -> Payment | None:
    """The newest card attempt on a document that may have taken money without being recorded
    yet, or None: the customer came back from Stripe's success page (``returned_at``) and it
    is not confirmed, or a bank payment is still processing. One query."""
    if isinstance(document, Invoice):
        belongs = Q(invoice_id=document.pk, purpose=PaymentPurpose.INVOICE)
    else:
        belongs = Q(estimate_id=document.pk, purpose=PaymentPurpose.DEPOSIT)
    waiting = Q(status=PaymentStatus.PROCESSING) | Q(
        status=PaymentStatus.CREATED, returned_at__isnull=False
    )
    return (
        Payment.objects.filter(belongs, waiting, method=PaymentMethod.CARD)
        .order_by("-created_at", "-id")
        .first()
    )


def applied_net(payments: QuerySet[Payment]) -> Decimal:
    """Money applied to a document: succeeded, applied payments net of the refunds that reverse
    them. A goodwill refund is a refund plus an equal credit (``RefundKind``), so it leaves the
    net, and with it the balance, where it was."""
    return payments.filter(status=PaymentStatus.SUCCEEDED, applied=True).aggregate(
        net=_sum(F("amount") - F("amount_refunded") + F("amount_refunded_goodwill"))
    )["net"]


def deposit_paid(*, estimate_id: int) -> Decimal:
    return applied_net(
        Payment.objects.filter(estimate_id=estimate_id, purpose=PaymentPurpose.DEPOSIT)
    )


def deposit_asked(*, estimate: Estimate) -> Decimal:
    """The deposit on what the customer accepted: their revision with their options
    (``estimate_figures``, the rule every page uses); nothing before acceptance."""
    if estimate.status != EstimateStatus.ACCEPTED or estimate.accepted_revision_id is None:
        return ZERO
    return estimate_figures(estimate).deposit


def invoice_payable(*, invoice: Invoice, account: StripeAccount | None = None) -> Payable:
    account = account if account is not None else stripe_account_for(company=invoice.company)
    online = online_payment_ready(account=account)
    closed = ""
    if invoice.status == InvoiceStatus.VOID:
        closed = _("This invoice was cancelled.")
    elif invoice.status == InvoiceStatus.DRAFT:
        closed = _("This invoice has not been sent yet.")
    elif invoice.balance <= 0:
        closed = _("This invoice is paid in full.")
    return Payable(
        purpose=PaymentPurpose.INVOICE,
        document=invoice,
        label=_("Invoice %(number)s") % {"number": invoice.display_number},
        asked=invoice.total - invoice.deposit_credit,
        paid=invoice.amount_paid,
        due=invoice.balance,
        allow_partial=bool(account and account.allow_partial_payments),
        minimum=account.minimum_partial_amount if account else STRIPE_MINIMUM_CAD,
        online=online,
        closed=closed,
        # Only gates the Pay button: without online payment there is none to gate.
        unconfirmed=unconfirmed_payment(document=invoice) if online and not closed else None,
        bank_debit=bool(online and account and account.accept_bank_debit),
        tips=bool(online and account and account.tips_enabled),
        step_up=stepup.needed(invoice.company, invoice.balance),
    )


def deposit_payable(*, estimate: Estimate, account: StripeAccount | None = None) -> Payable:
    account = account if account is not None else stripe_account_for(company=estimate.company)
    online = online_payment_ready(account=account)
    asked = deposit_asked(estimate=estimate)
    paid = deposit_paid(estimate_id=estimate.pk)
    due = max(ZERO, asked - paid)
    closed = ""
    if estimate.status != EstimateStatus.ACCEPTED:
        closed = _("The deposit can be paid once the estimate is signed.")
    elif asked <= 0:
        closed = _("This estimate asks for no deposit.")
    elif estimate.invoices.exclude(status=InvoiceStatus.VOID).exists():
        closed, due = _("This estimate has been invoiced; pay the invoice instead."), ZERO
    elif due <= 0:
        closed = _("The deposit is paid.")
    return Payable(
        purpose=PaymentPurpose.DEPOSIT,
        document=estimate,
        label=_("Deposit for estimate %(number)s") % {"number": estimate.display_number},
        asked=asked,
        paid=paid,
        due=due,
        allow_partial=False,
        minimum=due,
        online=online,
        closed=closed,
        unconfirmed=unconfirmed_payment(document=estimate) if online and not closed else None,
    )


# --- Lists -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentFilters:
    status: str = ""
    method: str = ""
    start: dt.date | None = None
    end: dt.date | None = None


# Attempts that never took money are noise in a ledger; the list shows them only on request.
LEDGER_STATUSES = (PaymentStatus.SUCCEEDED, PaymentStatus.PROCESSING)


def payment_list(*, company: Company, filters: PaymentFilters) -> QuerySet[Payment]:
    qs = (
        Payment.objects.filter(company=company)
        .select_related("customer", "invoice", "estimate")
        .prefetch_related("issues", "refunds")  # why a payment is not applied
    )
    if filters.status in PaymentStatus.values:
        qs = qs.filter(status=filters.status)
    elif filters.status == "refunded":
        qs = qs.filter(status=PaymentStatus.SUCCEEDED, amount_refunded__gt=0)
    else:
        qs = qs.filter(status__in=LEDGER_STATUSES)
    if filters.method in PaymentMethod.values:
        qs = qs.filter(method=filters.method)
    if filters.start:
        qs = qs.filter(created_at__date__gte=filters.start)
    if filters.end:
        qs = qs.filter(created_at__date__lte=filters.end)
    return qs.order_by("-created_at", "-id")


def payment_totals(*, payments: QuerySet[Payment]) -> dict[str, Decimal]:
    """Collected, refunded and net over a filtered list, in one query."""
    succeeded = Q(status=PaymentStatus.SUCCEEDED)
    totals = payments.order_by().aggregate(
        collected=Coalesce(Sum("amount", filter=succeeded), Value(ZERO), output_field=MONEY),
        refunded=Coalesce(
            Sum("amount_refunded", filter=succeeded), Value(ZERO), output_field=MONEY
        ),
        count=Count("id"),
    )
    totals["net"] = totals["collected"] - totals["refunded"]
    return totals


def tips_report(
    *, company: Company, start: dt.date | None = None, end: dt.date | None = None
) -> tuple[QuerySet[Payment], Decimal]:
    """Tips customers added to payments that went through, newest first, and their total.
    Tips are kept apart from invoices: not in any document's total, taxes or balance."""
    qs = Payment.objects.filter(
        company=company, status=PaymentStatus.SUCCEEDED, tip_amount__gt=0
    ).select_related("customer", "invoice")
    if start:
        qs = qs.filter(succeeded_at__date__gte=start)
    if end:
        qs = qs.filter(succeeded_at__date__lte=end)
    total = qs.order_by().aggregate(t=_sum("tip_amount"))["t"]
    return qs.order_by("-succeeded_at", "-id"), total


def payment_get(*, company: Company, public_id: str) -> Payment:
    return get_object_or_404(
        Payment.objects.select_related(
            "customer", "invoice", "estimate", "created_by"
        ).prefetch_related("issues", "refunds"),
        company=company,
        public_id=public_id,
    )


@dataclass(frozen=True)
class RefundEffect:
    """What a refund would do, for the confirmation page: the figure that moves (an invoice's
    balance due, or an estimate's deposit paid) before and after."""

    document: Invoice | Estimate
    measure: str  # "balance" or "deposit_paid"
    before: Decimal
    after: Decimal
    applied: bool  # False: the payment never counted toward the document

    @property
    def changes(self) -> bool:
        return self.before != self.after


def refund_effect(*, payment: Payment, amount: Decimal, kind: str) -> RefundEffect:
    """The effect of refunding ``amount`` of ``kind`` (``RefundKind``) on ``payment``,
    computed with the same rule the services apply (``applied_net``)."""
    reverses = payment.applied and kind == RefundKind.REVERSAL
    back = amount if reverses else ZERO
    invoice = payment.invoice
    if invoice is not None and invoice.status != InvoiceStatus.VOID:
        before = invoice.balance
        if payment.purpose == PaymentPurpose.INVOICE:
            paid, credit = invoice.amount_paid - back, invoice.deposit_credit
        else:
            deposit = deposit_paid(estimate_id=cast(int, payment.estimate_id)) - back
            paid, credit = invoice.amount_paid, min(deposit, invoice.total)
        after = max(ZERO, invoice.total - credit - paid)
        return RefundEffect(invoice, "balance", before, after, payment.applied)
    if payment.purpose == PaymentPurpose.DEPOSIT:
        before = deposit_paid(estimate_id=cast(int, payment.estimate_id))
        return RefundEffect(
            cast(Estimate, payment.estimate), "deposit_paid", before, before - back, payment.applied
        )
    return RefundEffect(payment.document, "balance", ZERO, ZERO, payment.applied)


def payment_refunds(*, payment: Payment) -> QuerySet[Refund]:
    return payment.refunds.order_by("-created_at", "-id")


def issue_list(*, company: Company, open_only: bool = True) -> QuerySet[PaymentIssue]:
    qs = (
        PaymentIssue.objects.filter(company=company)
        .select_related("payment__customer", "payment__invoice", "payment__estimate")
        .prefetch_related("payment__refunds")  # what is left to refund (``refundable``)
    )
    if open_only:
        qs = qs.filter(resolved_at=None)
    return qs.order_by("-created_at", "-id")


def open_issue_count(*, company: Company) -> int:
    return PaymentIssue.objects.filter(company=company, resolved_at=None).count()


def issue_get(*, company: Company, public_id: str) -> PaymentIssue:
    # No join: its one caller hands the issue to ``issue_resolve``, which reads it again with
    # its payment, under a lock.
    return get_object_or_404(PaymentIssue, company=company, public_id=public_id)


# --- Documents ---------------------------------------------------------------------------------


def invoice_payments(*, invoice: Invoice) -> list[Payment]:
    """Payments that took or may take money on an invoice (its deposit included), with their
    refunds, newest first. Abandoned checkout attempts are left out."""
    belongs = Q(invoice=invoice)
    if invoice.estimate_id:
        belongs |= Q(estimate_id=invoice.estimate_id, purpose=PaymentPurpose.DEPOSIT)
    return list(
        Payment.objects.filter(belongs)
        .exclude(status__in=[PaymentStatus.CREATED, PaymentStatus.CANCELLED])
        .prefetch_related("issues", "refunds")
        .order_by("-created_at", "-id")
    )


def estimate_deposit_payments(*, estimate: Estimate) -> list[Payment]:
    return list(
        Payment.objects.filter(estimate=estimate, purpose=PaymentPurpose.DEPOSIT)
        .exclude(status__in=[PaymentStatus.CREATED, PaymentStatus.CANCELLED])
        .prefetch_related("issues", "refunds")
        .order_by("-created_at", "-id")
    )


# Invoices that count as billed: sent and not void (a draft is not a bill yet).
BILLED = ~Q(invoices__status__in=[InvoiceStatus.VOID, InvoiceStatus.DRAFT])
PAYMENT_STATE_LABELS = {
    "paid": gettext_lazy("Paid"),
    "partially_paid": gettext_lazy("Partially paid"),
    "unpaid": gettext_lazy("Unpaid"),
}


@dataclass(frozen=True)
class JobMoney:
    invoiced: Decimal
    paid: Decimal
    state: str  # "none", "unpaid", "partially_paid" or "paid": see job_payment_status

    @property
    def outstanding(self) -> Decimal:
        return max(ZERO, self.invoiced - self.paid)


def job_payment_status(*, jobs: QuerySet[Job]) -> QuerySet[WithAnnotations[Job, JobPaymentStatus]]:
    """Annotate jobs with ``invoiced``, ``settled`` (paid plus deposits credited) and
    ``payment_state`` over their billed invoices, in the same query: the one rule for whether a
    job is paid, used by the job list and the job page."""
    zero = Value(ZERO, output_field=MONEY)
    return jobs.annotate(
        invoiced=Coalesce(Sum("invoices__total", filter=BILLED), zero, output_field=MONEY),
        settled=Coalesce(
            Sum(F("invoices__amount_paid") + F("invoices__deposit_credit"), filter=BILLED),
            zero,
            output_field=MONEY,
        ),
    ).annotate(
        payment_state=Case(
            When(invoiced=ZERO, then=Value("none")),
            When(settled__gte=F("invoiced"), then=Value("paid")),
            When(settled__gt=ZERO, then=Value("partially_paid")),
            default=Value("unpaid"),
            output_field=CharField(),
        )
    )


def job_money(*, job: Job) -> JobMoney:
    row = (
        job_payment_status(jobs=Job.objects.filter(pk=job.pk))
        .values("invoiced", "settled", "payment_state")
        .get()
    )
    return JobMoney(invoiced=row["invoiced"], paid=row["settled"], state=row["payment_state"])


# --- Customer side -----------------------------------------------------------------------------


def customer_payment_state(*, payment: Payment, session_status: str = "") -> str:
    """What the customer's return page says about one card attempt. ``session_status`` is
    what Stripe last said about its session (``billing.services.attempt_return``): "open"
    tells "unpaid" (they came back without paying) from "confirming" (paid, not recorded yet)."""
    if payment.status == PaymentStatus.SUCCEEDED:
        return "paid" if payment.applied else "received"
    if payment.status == PaymentStatus.PROCESSING:
        return "processing"
    if payment.status == PaymentStatus.FAILED:
        return "failed"
    if payment.status == PaymentStatus.CANCELLED or session_status == "expired":
        return "expired"
    if session_status == "open":
        return "unpaid"
    return "confirming"


def document_payments(*, document: Invoice | Estimate) -> list[Payment]:
    """Money received on a document, for the customer's receipt list: payments that went
    through (deposit included on an invoice made from the estimate), with their refunds."""
    if isinstance(document, Invoice):
        belongs = Q(invoice=document)
        if document.estimate_id:
            belongs |= Q(estimate_id=document.estimate_id, purpose=PaymentPurpose.DEPOSIT)
    else:
        belongs = Q(estimate=document, purpose=PaymentPurpose.DEPOSIT)
    return list(
        Payment.objects.filter(belongs, status=PaymentStatus.SUCCEEDED, applied=True).order_by(
            "succeeded_at", "id"
        )
    )


def payment_link(*, token: str, document: Invoice | Estimate | None = None) -> str:
    """``{payment_link}`` for SMS and email: a stable portal URL whose page makes a fresh
    Checkout Session for the current balance when the customer taps Pay. Without a document,
    the link's own document (``/p/<token>/pay/``)."""
    from django.urls import reverse

    if isinstance(document, Invoice):
        path = reverse("billing_portal:pay_invoice", args=[token, document.public_id])
    elif isinstance(document, Estimate):
        path = reverse("billing_portal:pay_deposit", args=[token, document.public_id])
    else:
        path = reverse("billing_portal:pay", args=[token])
    return settings.SITE_URL + path
