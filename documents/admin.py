from __future__ import annotations

import copy

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from crewcommand.errors import ServiceError
from documents.models import (
    DocumentSequence,
    Estimate,
    EstimateRevision,
    EstimateStatus,
    Invoice,
    InvoiceStatus,
    LineItem,
)
from documents.services import LINE_FIELDS, MAX_LINES, totals_check, totals_refresh

# What a customer was sent, and above all what they signed, is evidence: the admin shows it and
# never changes or deletes it. A sent revision is frozen (its PDF is cached on that promise); a
# signed estimate's status, accepted revision and options change only through the portal.
# A sent invoice is the same: its lines and what prices them (province, date) are read-only. What
# the admin may still change (a draft's lines, province or date) goes through the services'
# checks (the document limit, the deposit credited) and stores the totals again, as the
# dashboard's editor does: every screen, PDF and payment reads those stored totals.


def _is_signed(estimate: Estimate | None) -> bool:
    return estimate is not None and (
        estimate.accepted_revision_id is not None or estimate.status == EstimateStatus.ACCEPTED
    )


def _sent(invoice: Invoice | None) -> bool:
    return invoice is not None and invoice.status != InvoiceStatus.DRAFT


def _frozen_line(line: LineItem | None) -> bool:
    if line is None:
        return False
    if line.revision_id is not None:
        return line.revision.is_frozen
    return _sent(line.invoice)


def _refuse(form: forms.ModelForm, owner: EstimateRevision | Invoice, lines: list) -> None:
    """Add the services' refusal (document limit, deposit credit) to ``form``, if any."""
    try:
        totals_check(owner=owner, lines=lines)
    except ServiceError as error:
        form.add_error(None, str(error))


class LineInline(admin.TabularInline):
    model = LineItem
    extra = 0
    fields = [
        "position",
        "description",
        "quantity",
        "unit_price",
        "taxable",
        "tax_parts",
        "kind",
        "group",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        if isinstance(obj, EstimateRevision) and obj.is_frozen:
            return False
        if isinstance(obj, Invoice):
            return False  # a draft's lines are deleted one by one (their totals checked)
        return super().has_delete_permission(request, obj)


class RevisionInline(admin.TabularInline):
    model = EstimateRevision
    extra = 0
    fields = ["number", "province", "issue_date", "valid_until", "sent_at", "total"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Estimate)
class EstimateAdmin(admin.ModelAdmin):
    list_display = ["display_number", "company", "customer", "status", "sent_at", "decided_at"]
    list_filter = ["status"]
    search_fields = ["number", "customer__name", "company__name"]
    list_select_related = ["company", "customer"]
    readonly_fields = [
        "public_id",
        "number",
        "current_revision",
        "accepted_revision",
        "accepted_selection",
        "created_at",
    ]
    raw_id_fields = ["company", "customer", "job"]
    inlines = [RevisionInline]

    def has_change_permission(self, request, obj=None) -> bool:
        return not _is_signed(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return not _is_signed(obj) and super().has_delete_permission(request, obj)


@admin.register(EstimateRevision)
class EstimateRevisionAdmin(admin.ModelAdmin):
    """Revisions are the record of what a customer saw and signed: read-only here."""

    list_display = ["__str__", "province", "issue_date", "sent_at", "total"]
    list_filter = ["province"]
    search_fields = ["estimate__number", "estimate__customer__name"]
    list_select_related = ["estimate"]
    inlines = [LineInline]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return (obj is None or not obj.is_frozen) and super().has_delete_permission(request, obj)


class InvoiceForm(forms.ModelForm):
    class Meta:
        model = Invoice
        fields = ["province", "issue_date"]  # InvoiceAdmin gives the form its own fields

    def clean(self) -> dict:
        cleaned = super().clean()
        invoice = self.instance
        if invoice.pk is not None and not _sent(invoice) and not self.errors:
            # The totals the draft's lines would have in the new province, on the new date.
            draft = copy.copy(invoice)
            for name in ("province", "issue_date"):
                if name in cleaned:
                    setattr(draft, name, cleaned[name])
            _refuse(self, draft, list(invoice.lines.all()))
        return cleaned


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = [
        "display_number",
        "company",
        "customer",
        "status",
        "due_date",
        "total",
        "amount_paid",
    ]
    list_filter = ["status", "province"]
    search_fields = ["number", "customer__name", "company__name"]
    list_select_related = ["company", "customer"]
    readonly_fields = [
        "public_id",
        "number",
        "subtotal",
        "tax_total",
        "total",
        "amount_paid",
        "deposit_credit",
        # The deposit's tax point, set by billing with the deposit credit (a changed amount or
        # day would tax the invoice differently from its stored totals).
        "prepaid_amount",
        "prepaid_on",
        "created_at",
    ]
    raw_id_fields = ["company", "customer", "job", "estimate"]
    date_hierarchy = "issue_date"
    inlines = [LineInline]
    form = InvoiceForm

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if _sent(obj):
            fields += ["company", "customer", "province", "issue_date"]
        return fields

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        if change and {"province", "issue_date"} & set(form.changed_data):
            totals_refresh(owner=form.instance)  # checked by InvoiceForm


class LineItemForm(forms.ModelForm):
    class Meta:
        model = LineItem
        # The fields the editor's services change, plus where the line sits.
        fields = ["revision", "invoice", "position", *LINE_FIELDS]

    def clean_revision(self) -> EstimateRevision | None:
        revision = self.cleaned_data.get("revision")
        if revision is not None and revision.is_frozen:
            raise forms.ValidationError(
                _("This revision was sent to the customer: its lines can no longer change.")
            )
        return revision

    def clean_invoice(self) -> Invoice | None:
        invoice = self.cleaned_data.get("invoice")
        if _sent(invoice):
            raise forms.ValidationError(
                _("This invoice was sent to the customer: its lines can no longer change.")
            )
        return invoice

    def _post_clean(self) -> None:
        super()._post_clean()  # the line now holds the form's values
        line = self.instance
        owner = line.revision or line.invoice
        if owner is None or self.errors:
            return
        others = [other for other in owner.lines.all() if other.pk != line.pk]
        if len(others) >= MAX_LINES:
            self.add_error(None, _("A document can have at most %(n)s lines.") % {"n": MAX_LINES})
            return
        _refuse(self, owner, [*others, line])


def _refresh_owners(lines: list[LineItem]) -> None:
    owners = {(type(owner), owner.pk): owner for line in lines if (owner := _owner(line))}
    for owner in owners.values():
        # Fewer lines can't pass the limit, and a line with a deposit credited is kept
        # (LineItemAdmin.has_delete_permission).
        totals_refresh(owner=owner, check_limit=False)


def _owner(line: LineItem) -> EstimateRevision | Invoice | None:
    return line.revision if line.revision_id is not None else line.invoice


@admin.register(LineItem)
class LineItemAdmin(admin.ModelAdmin):
    """Lines of a sent (and so of a signed) revision are read-only; none can be added to one."""

    form = LineItemForm
    list_display = ["description", "revision", "invoice", "quantity", "unit_price", "kind"]
    list_filter = ["kind", "taxable"]
    search_fields = ["description"]
    list_select_related = ["revision__estimate", "invoice"]
    raw_id_fields = ["revision", "invoice"]

    def has_change_permission(self, request, obj=None) -> bool:
        return not _frozen_line(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.invoice_id is not None and obj.invoice.deposit_credit > 0:
            return False  # the total could fall below the deposit: the dashboard says why
        return not _frozen_line(obj) and super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        # A line stays on its document: moving it would change two documents' totals.
        return ["revision", "invoice"] if obj is not None else []

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        _refresh_owners([obj])  # checked by LineItemForm

    def delete_model(self, request, obj) -> None:
        super().delete_model(request, obj)
        _refresh_owners([obj])

    def delete_queryset(self, request, queryset: QuerySet[LineItem]) -> None:
        lines = list(queryset.select_related("revision", "invoice"))
        super().delete_queryset(request, queryset)
        _refresh_owners(lines)


@admin.register(DocumentSequence)
class DocumentSequenceAdmin(admin.ModelAdmin):
    list_display = ["company", "kind", "next_number"]
    list_filter = ["kind"]
    search_fields = ["company__name"]
    list_select_related = ["company"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False
