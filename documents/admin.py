from __future__ import annotations

from django.contrib import admin

from documents.models import DocumentSequence, Estimate, EstimateRevision, Invoice, LineItem


class LineInline(admin.TabularInline):
    model = LineItem
    extra = 0
    fields = ["position", "description", "quantity", "unit_price", "taxable", "kind", "group"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class RevisionInline(admin.TabularInline):
    model = EstimateRevision
    extra = 0
    fields = ["number", "province", "issue_date", "valid_until", "sent_at", "total"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Estimate)
class EstimateAdmin(admin.ModelAdmin):
    list_display = ["display_number", "company", "customer", "status", "sent_at", "decided_at"]
    list_filter = ["status"]
    search_fields = ["number", "customer__name", "company__name"]
    list_select_related = ["company", "customer"]
    readonly_fields = ["public_id", "number", "current_revision", "accepted_revision", "created_at"]
    raw_id_fields = ["company", "customer", "job"]
    inlines = [RevisionInline]


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
        "created_at",
    ]
    raw_id_fields = ["company", "customer", "job", "estimate"]
    date_hierarchy = "issue_date"
    inlines = [LineInline]


@admin.register(LineItem)
class LineItemAdmin(admin.ModelAdmin):
    list_display = ["description", "revision", "invoice", "quantity", "unit_price", "kind"]
    list_filter = ["kind", "taxable"]
    search_fields = ["description"]
    list_select_related = ["revision__estimate", "invoice"]
    raw_id_fields = ["revision", "invoice"]


@admin.register(DocumentSequence)
class DocumentSequenceAdmin(admin.ModelAdmin):
    list_display = ["company", "kind", "next_number"]
    list_filter = ["kind"]
    search_fields = ["company__name"]
    list_select_related = ["company"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False
