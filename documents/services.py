"""State changes of estimates and invoices. Each runs in one transaction, locks the document row
it changes, keeps cached totals in step with ``documents.totals``, and writes an activity row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from crewcommand.errors import ServiceError
from crewcommand.lib import activity
from crewcommand.lib.activity import Actor
from crewcommand.lib.ids import new_public_id
from crewcommand.lib.money import format_cad
from crewcommand.models import Company, Customer, Job
from documents.models import (
    DocumentKind,
    DocumentSequence,
    Estimate,
    EstimateRevision,
    EstimateStatus,
    Invoice,
    InvoiceStatus,
    LineItem,
    LineKind,
    PaymentTerms,
)
from documents.tax import Totals
from documents.totals import (
    MAX_DOCUMENT_TOTAL,
    estimate_figures,
    exceeds_limit,
    invoice_totals,
    revision_totals,
    selected_lines,
)

DEFAULT_VALID_DAYS = 30
LINE_FIELDS = (
    "description",
    "quantity",
    "unit_price",
    "taxable",
    "tax_parts",
    "kind",
    "group",
    "selected_by_default",
)
MAX_LINES = 200


def next_number(*, company: Company, kind: str) -> int:
    """Take the next number for the company under a row lock (call inside a transaction).

    Concurrent creators queue on the lock, so numbers are distinct and consecutive; a
    rolled-back creation never consumed its number."""
    DocumentSequence.objects.bulk_create(
        [DocumentSequence(company=company, kind=kind)], ignore_conflicts=True
    )
    sequence = DocumentSequence.objects.select_for_update().get(company=company, kind=kind)
    number = sequence.next_number
    DocumentSequence.objects.filter(pk=sequence.pk).update(next_number=F("next_number") + 1)
    return number


def _check_parties(company: Company, customer: Customer, job: Job | None) -> None:
    if customer.company_id != company.pk or (job is not None and job.company_id != company.pk):
        raise ServiceError(_("That customer or job is not in your company."))
    if job is not None and job.customer_id != customer.pk:
        raise ServiceError(_("That job belongs to another customer."))


# --- Estimates ---------------------------------------------------------------------------------


@transaction.atomic
def estimate_create(
    *, company: Company, customer: Customer, actor: Actor, job: Job | None = None
) -> Estimate:
    _check_parties(company, customer, job)
    estimate = Estimate.objects.create(
        company=company,
        customer=customer,
        job=job,
        number=next_number(company=company, kind=DocumentKind.ESTIMATE),
    )
    today = timezone.localdate()
    revision = EstimateRevision.objects.create(
        estimate=estimate,
        province=company.province,
        issue_date=today,
        valid_until=today + dt.timedelta(days=DEFAULT_VALID_DAYS),
    )
    estimate.current_revision = revision
    estimate.save(update_fields=["current_revision"])
    activity.record_about(estimate, "estimate.created", actor)
    return estimate


def _lock_estimate(estimate: Estimate) -> Estimate:
    # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of the outer join.
    return (
        Estimate.objects.select_for_update(of=("self",))
        .select_related("current_revision")
        .get(pk=estimate.pk)
    )


def _editable_revision(estimate: Estimate, actor: Actor) -> EstimateRevision:
    """The revision edits go to: the current one while unsent; otherwise a new copy of it, so a
    sent or signed revision never changes. Call with the estimate row locked."""
    if estimate.status == EstimateStatus.ACCEPTED:
        raise ServiceError(_("This estimate was accepted; duplicate it to make changes."))
    current = estimate.current_revision
    if not current.is_frozen:
        return current
    lines = list(current.lines.all())
    revision = EstimateRevision.objects.get(pk=current.pk)
    revision.pk = None
    revision.number = current.number + 1
    revision.sent_at = None
    revision.issue_date = timezone.localdate()
    revision.save(force_insert=True)
    _copy_lines(lines, revision=revision)
    estimate.current_revision = revision
    estimate.status = EstimateStatus.DRAFT
    estimate.save(update_fields=["current_revision", "status", "updated_at"])
    activity.record_about(estimate, "estimate.revised", actor, data={"revision": revision.number})
    return revision


def _copy_lines(lines: list[LineItem], **owner: Any) -> None:
    LineItem.objects.bulk_create(
        [
            LineItem(
                position=i,
                public_id=new_public_id(),
                **owner,
                **{name: getattr(line, name) for name in LINE_FIELDS},
            )
            for i, line in enumerate(lines)
        ]
    )


def _check_limit(lines: list[LineItem], *, province: str, on: dt.date) -> None:
    """Refuse a change that could take the document past ``MAX_DOCUMENT_TOTAL`` (the caller's
    transaction rolls it back), rather than overflow a money column."""
    if exceeds_limit(lines, province=province, on=on):
        raise ServiceError(
            _("This document's total would exceed %(limit)s. Split the work into several.")
            % {"limit": format_cad(MAX_DOCUMENT_TOTAL)}
        )


def totals_refresh(*, owner: EstimateRevision | Invoice, check_limit: bool = True) -> None:
    """Store the cached totals of the lines' owner (an estimate's revision, or an invoice) again
    from its lines. Call it after the lines or the figures change, and (``check_limit=False``,
    the lines did not change) after billing sets an invoice's deposit tax point. Refuses, with the
    caller's transaction to roll back, a total past the document limit (``check_limit``) and an
    invoice total below the deposit credited on it."""
    totals = totals_check(owner=owner, lines=list(owner.lines.all()), check_limit=check_limit)
    stamp = ["updated_at"] if isinstance(owner, Invoice) else []  # a revision has none
    owner.subtotal, owner.tax_total, owner.total = totals.subtotal, totals.tax_total, totals.total
    owner.save(update_fields=["subtotal", "tax_total", "total", *stamp])


def totals_check(
    *, owner: EstimateRevision | Invoice, lines: list[LineItem], check_limit: bool = True
) -> Totals:
    """The totals ``lines`` give ``owner`` (which need not be saved, nor the lines): raises the
    ``ServiceError`` that ``totals_refresh`` would, so a form can refuse before anything is
    written (the admin's change forms do)."""
    if check_limit:
        _check_limit(lines, province=owner.province, on=owner.issue_date)
    if isinstance(owner, Invoice):
        totals = invoice_totals(owner, lines)
        _check_deposit_credit(owner, totals.total)
        return totals
    return revision_totals(owner, lines=lines)


def _check_deposit_credit(invoice: Invoice, total: Decimal) -> None:
    if invoice.deposit_credit > total:
        # The credit is money the customer already paid: a total below it would swallow the
        # difference (the balance stops at zero). Give it back first, then lower the invoice.
        raise ServiceError(
            _(
                "A deposit of %(credit)s is credited on this invoice, so its total can't go "
                "below that. Refund the part of the deposit that is no longer owed first."
            )
            % {"credit": format_cad(invoice.deposit_credit)}
        )


@transaction.atomic
def estimate_update(*, estimate: Estimate, actor: Actor, fields: dict[str, Any]) -> Estimate:
    estimate = _lock_estimate(estimate)
    revision = _editable_revision(estimate, actor)
    for name, value in fields.items():
        setattr(revision, name, value)
    revision.full_clean(exclude=["estimate"])
    revision.save()
    totals_refresh(owner=revision)
    activity.record_about(estimate, "estimate.updated", actor, fold=True)
    return estimate


@transaction.atomic
def estimate_revise(*, estimate: Estimate, actor: Actor) -> Estimate:
    """Start a new revision of a sent estimate (a no-op while the current one is a draft)."""
    estimate = _lock_estimate(estimate)
    _editable_revision(estimate, actor)
    return estimate


@transaction.atomic
def estimate_send(*, estimate: Estimate, actor: Actor) -> Estimate:
    """Freeze the current revision and mark the estimate sent (the portal and automations
    deliver it). Sending again re-sends the same revision."""
    estimate = _lock_estimate(estimate)
    revision = estimate.current_revision
    if estimate.status in {EstimateStatus.ACCEPTED, EstimateStatus.DECLINED}:
        raise ServiceError(_("This estimate already has the customer's answer."))
    if not revision.lines.exists():
        raise ServiceError(_("Add at least one line before sending."))
    now = timezone.now()
    if revision.sent_at is None:
        revision.sent_at = now
        revision.save(update_fields=["sent_at"])
    estimate.sent_at = now
    if estimate.status == EstimateStatus.DRAFT:
        # A new version goes out: it answers the customer's request for changes, if any.
        estimate.status = EstimateStatus.SENT
        estimate.changes_message, estimate.changes_requested_at = "", None
    estimate.save(
        update_fields=["sent_at", "status", "changes_message", "changes_requested_at", "updated_at"]
    )
    activity.record_about(estimate, "estimate.sent", actor)
    return estimate


@transaction.atomic
def estimate_duplicate(*, estimate: Estimate, actor: Actor) -> Estimate:
    source = estimate.current_revision
    copy = estimate_create(
        company=estimate.company, customer=estimate.customer, job=estimate.job, actor=actor
    )
    revision = copy.current_revision
    for name in ("province", "notes", "terms", "deposit_kind", "deposit_value"):
        setattr(revision, name, getattr(source, name))
    revision.save()
    _copy_lines(list(source.lines.all()), revision=revision)
    totals_refresh(owner=revision)
    activity.record_about(
        copy, "estimate.duplicated", actor, data={"source": estimate.display_number}
    )
    return copy


@transaction.atomic
def estimate_convert(
    *,
    estimate: Estimate,
    actor: Actor,
    on_created: Callable[[Invoice, Estimate], object] | None = None,
) -> Invoice:
    """Make an invoice from an accepted estimate with the options the customer chose.
    Idempotent: converting again returns the invoice already made.

    ``on_created(invoice, estimate)`` is a step a higher layer runs on a newly made invoice, in
    this transaction, once its totals are set and before the conversion is recorded (the
    estimate is the locked row). The app converts through ``billing.services.estimate_convert``,
    which credits a deposit paid on the estimate this way."""
    estimate = _lock_estimate(estimate)
    if estimate.status != EstimateStatus.ACCEPTED:
        raise ServiceError(_("Only an accepted estimate can become an invoice."))
    if existing := estimate.invoices.exclude(status=InvoiceStatus.VOID).first():
        return existing
    revision = estimate.accepted_revision or estimate.current_revision
    lines = list(revision.lines.all())
    # The customer's own choices, by the one rule every page and the signed PDF use.
    selection = estimate_figures(estimate, revision, lines).selection
    invoice = invoice_create(
        company=estimate.company,
        customer=estimate.customer,
        job=estimate.job,
        actor=actor,
        estimate=estimate,
        province=revision.province,
        notes=revision.notes,
        terms_text=revision.terms,
    )
    chosen = selected_lines(lines, selection)
    _copy_lines(chosen, invoice=invoice)
    LineItem.objects.filter(invoice=invoice).update(kind=LineKind.STANDARD, group="")
    totals_refresh(owner=invoice)
    if on_created is not None:
        on_created(invoice, estimate)
    activity.record_about(
        estimate, "estimate.converted", actor, data={"invoice": invoice.display_number}
    )
    return invoice


# --- Invoices ----------------------------------------------------------------------------------


@transaction.atomic
def invoice_create(
    *,
    company: Company,
    customer: Customer,
    actor: Actor,
    job: Job | None = None,
    estimate: Estimate | None = None,
    **fields: Any,
) -> Invoice:
    _check_parties(company, customer, job)
    today = timezone.localdate()
    fields.setdefault("province", company.province)
    fields.setdefault("terms", PaymentTerms.DUE_ON_RECEIPT)
    invoice = Invoice.objects.create(
        company=company,
        customer=customer,
        job=job,
        estimate=estimate,
        number=next_number(company=company, kind=DocumentKind.INVOICE),
        issue_date=today,
        due_date=Invoice.due_date_for(today, fields["terms"]),
        **fields,
    )
    activity.record_about(invoice, "invoice.created", actor)
    return invoice


def _lock_invoice(invoice: Invoice) -> Invoice:
    return Invoice.objects.select_for_update().get(pk=invoice.pk)


def _require_draft(invoice: Invoice) -> None:
    if invoice.status != InvoiceStatus.DRAFT:
        raise ServiceError(_("A sent invoice can't be edited. Void it and make a new one."))


@transaction.atomic
def invoice_update(*, invoice: Invoice, actor: Actor, fields: dict[str, Any]) -> Invoice:
    invoice = _lock_invoice(invoice)
    _require_draft(invoice)
    for name, value in fields.items():
        setattr(invoice, name, value)
    if invoice.terms != PaymentTerms.CUSTOM:
        invoice.due_date = Invoice.due_date_for(invoice.issue_date, invoice.terms)
    invoice.full_clean()
    invoice.save()
    totals_refresh(owner=invoice)
    activity.record_about(invoice, "invoice.updated", actor, fold=True)
    return invoice


@transaction.atomic
def invoice_send(*, invoice: Invoice, actor: Actor) -> Invoice:
    invoice = _lock_invoice(invoice)
    if invoice.status == InvoiceStatus.VOID:
        raise ServiceError(_("A void invoice can't be sent."))
    if not invoice.lines.exists():
        raise ServiceError(_("Add at least one line before sending."))
    invoice.sent_at = timezone.now()
    if invoice.status == InvoiceStatus.DRAFT:
        # Sent, or paid already: an invoice its estimate's deposit covers in full (credited at
        # conversion) goes out paid, not as $0.00 still to pay.
        invoice.status = InvoiceStatus.SENT
        invoice.status = invoice.status_from_money()
        if invoice.status == InvoiceStatus.PAID and invoice.paid_at is None:
            invoice.paid_at = invoice.sent_at
    invoice.save(update_fields=["sent_at", "status", "paid_at", "updated_at"])
    activity.record_about(invoice, "invoice.sent", actor)
    return invoice


@transaction.atomic
def invoice_void(*, invoice: Invoice, actor: Actor) -> Invoice:
    """Void instead of delete: the number stays used and the row stays readable."""
    invoice = _lock_invoice(invoice)
    if invoice.status == InvoiceStatus.VOID:
        return invoice
    if invoice.amount_paid > 0:
        raise ServiceError(_("Refund the payments on this invoice before voiding it."))
    invoice.status = InvoiceStatus.VOID
    invoice.voided_at = timezone.now()
    invoice.save(update_fields=["status", "voided_at", "updated_at"])
    activity.record_about(invoice, "invoice.voided", actor)
    return invoice


@transaction.atomic
def invoice_duplicate(*, invoice: Invoice, actor: Actor) -> Invoice:
    copy = invoice_create(
        company=invoice.company,
        customer=invoice.customer,
        job=invoice.job,
        actor=actor,
        province=invoice.province,
        terms=invoice.terms if invoice.terms != PaymentTerms.CUSTOM else PaymentTerms.NET_30,
        notes=invoice.notes,
        terms_text=invoice.terms_text,
    )
    _copy_lines(list(invoice.lines.all()), invoice=copy)
    totals_refresh(owner=copy)
    activity.record_about(
        copy, "invoice.duplicated", actor, data={"source": invoice.display_number}
    )
    return copy


# --- Lines (both kinds of document) ------------------------------------------------------------


def _line_owner(doc: Estimate | Invoice, actor: Actor) -> tuple[Estimate | Invoice, dict[str, Any]]:
    """Lock the document and return it with the filter naming where its editable lines live."""
    if isinstance(doc, Estimate):
        doc = _lock_estimate(doc)
        return doc, {"revision": _editable_revision(doc, actor)}
    doc = _lock_invoice(doc)
    _require_draft(doc)
    return doc, {"invoice": doc}


def _after_lines_changed(
    doc: Estimate | Invoice, owner: dict[str, Any], *, removed: bool = False
) -> None:
    """Recompute the cached totals; a change that would push the total below zero, or (unless
    a line was ``removed``, which can only lower the limit's bound) past the document limit, is
    refused (the caller's transaction rolls it back)."""
    try:
        if "revision" in owner:
            totals_refresh(owner=owner["revision"], check_limit=not removed)
        else:
            totals_refresh(owner=owner["invoice"], check_limit=not removed)
    except ValueError as error:
        raise ServiceError(_("The document total can't go below zero.")) from error


def _validate_line(fields: dict[str, Any]) -> None:
    if fields.get("kind") == LineKind.CHOICE and not (fields.get("group") or "").strip():
        raise ServiceError(_("Give the package a name so the customer can choose one option."))
    if fields.get("kind") != LineKind.CHOICE:
        fields["group"] = ""


@transaction.atomic
def line_save(
    *, doc: Estimate | Invoice, actor: Actor, fields: dict[str, Any], line_id: str | None = None
) -> LineItem:
    """Add a line (``line_id`` None) or change one. Lines of a sent estimate revision are copied
    into a new revision first, so the change lands there, matched by position."""
    doc, owner = _line_owner(doc, actor)
    _validate_line(fields)
    lines = LineItem.objects.filter(**owner)
    if line_id is None:
        if lines.count() >= MAX_LINES:
            raise ServiceError(_("A document can have at most %(n)s lines.") % {"n": MAX_LINES})
        position = (lines.aggregate(m=Max("position"))["m"] or 0) + 1
        line = LineItem(**owner, position=position)
    else:
        line = _find_line(doc, owner, line_id)
    for name, value in fields.items():
        setattr(line, name, value)
    line.full_clean(exclude=["revision", "invoice", "public_id"])
    line.save()
    _after_lines_changed(doc, owner)
    activity.record_about(
        doc,
        "estimate.updated" if isinstance(doc, Estimate) else "invoice.updated",
        actor,
        fold=True,
    )
    return line


def _find_line(doc: Estimate | Invoice, owner: dict[str, Any], line_id: str) -> LineItem:
    """A line by id in the editable lines; after a new revision was cut, the same line is the
    copy at the same position as the original."""
    line = LineItem.objects.filter(**owner, public_id=line_id).first()
    if line is not None:
        return line
    if isinstance(doc, Estimate):
        original = LineItem.objects.filter(revision__estimate=doc, public_id=line_id).first()
        if original is not None:
            ordered = list(cast(EstimateRevision, original.revision).lines.all())
            index = ordered.index(original)
            copies = list(LineItem.objects.filter(**owner))
            if index < len(copies):
                return copies[index]
    raise ServiceError(_("That line no longer exists. Reload the page."))


@transaction.atomic
def line_delete(*, doc: Estimate | Invoice, actor: Actor, line_id: str) -> None:
    doc, owner = _line_owner(doc, actor)
    _find_line(doc, owner, line_id).delete()
    _after_lines_changed(doc, owner, removed=True)


@transaction.atomic
def line_move(*, doc: Estimate | Invoice, actor: Actor, line_id: str, offset: int) -> None:
    """Move a line up (-1) or down (+1): the keyboard-friendly way to reorder."""
    doc, owner = _line_owner(doc, actor)
    lines = list(LineItem.objects.filter(**owner))
    line = _find_line(doc, owner, line_id)
    index = lines.index(line)
    target = max(0, min(len(lines) - 1, index + offset))
    lines.insert(target, lines.pop(index))
    for position, item in enumerate(lines):
        item.position = position
    LineItem.objects.bulk_update(lines, ["position"])
