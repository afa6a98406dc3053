from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from documents.models import (
    DocumentSequence,
    Estimate,
    EstimateRevision,
    EstimateStatus,
    Invoice,
    LineItem,
)
from documents.services import LINE_FIELDS

# What a customer was sent, and above all what they signed, is evidence: the admin shows it and
# never changes or deletes it. A sent revision is frozen (its PDF is cached on that promise); a
# signed estimate's status, accepted revision and options change only through the portal.


def _is_signed(estimate: Estimate | None) -> bool:
    return estimate is not None and (
        estimate.accepted_revision_id is not None or estimate.status == EstimateStatus.ACCEPTED
    )


def _frozen_line(line: LineItem | None) -> bool:
    return line is not None and line.revision_id is not None and line.revision.is_frozen


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
        return not _frozen_line(obj) and super().has_delete_permission(request, obj)


@admin.register(DocumentSequence)
class DocumentSequenceAdmin(admin.ModelAdmin):
    list_display = ["company", "kind", "next_number"]
    list_filter = ["kind"]
    search_fields = ["company__name"]
    list_select_related = ["company"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False
