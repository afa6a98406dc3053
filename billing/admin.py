from __future__ import annotations

from django.contrib import admin

from billing.models import Payment, PaymentIssue, Refund, StripeAccount, StripeEvent
from crewcommand.admin import ReadOnlyAdmin


@admin.register(StripeAccount)
class StripeAccountAdmin(admin.ModelAdmin):
    list_display = ["company", "account_id", "charges_enabled", "connected_at"]
    search_fields = ["company__name", "account_id"]
    readonly_fields = ["connected_at", "updated_at"]
    raw_id_fields = ["company", "connected_by"]


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    fields = ["public_id", "amount", "kind", "status", "stripe_refund_id", "reason", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    """Payments change only through billing.services (locks, recomputed totals, activity)."""

    list_display = ["public_id", "company", "method", "status", "amount", "applied", "created_at"]
    list_filter = ["status", "method", "purpose", "applied"]
    search_fields = [
        "public_id",
        "stripe_session_id",
        "stripe_payment_intent_id",
        "company__name",
        "customer__name",
    ]
    inlines = [RefundInline]


@admin.register(PaymentIssue)
class PaymentIssueAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "company", "kind", "created_at", "resolved_at"]
    list_filter = ["kind"]


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "account", "payment", "received_at"]
    list_filter = ["type"]
    search_fields = ["event_id", "account"]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "company", "payment", "amount", "kind", "status", "created_at"]
    list_filter = ["status", "kind", "automatic"]
    search_fields = ["public_id", "stripe_refund_id"]
