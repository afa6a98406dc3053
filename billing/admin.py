from __future__ import annotations

from django.contrib import admin

from billing.models import (
    Payment,
    PaymentIssue,
    PaymentTransfer,
    QuickBooksConnection,
    Refund,
    SavedCard,
    StripeAccount,
    StripeCustomer,
    StripeEvent,
    SyncLog,
    SyncRecord,
    TaxMapping,
)
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
    """What Stripe told us and what the worker did with it: a ``failed`` or ``rejected`` row
    says why in ``last_error``."""

    list_display = [
        "event_id",
        "type",
        "account",
        "payment",
        "status",
        "attempts",
        "last_error",
        "received_at",
    ]
    list_filter = ["status", "type"]
    search_fields = ["event_id", "account"]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "company", "payment", "amount", "kind", "status", "created_at"]
    list_filter = ["status", "kind", "automatic"]
    search_fields = ["public_id", "stripe_refund_id"]


@admin.register(PaymentTransfer)
class PaymentTransferAdmin(ReadOnlyAdmin):
    """Moves of a payment between invoices: ledger evidence, made by billing.services."""

    list_display = ["public_id", "company", "payment", "from_invoice", "to_invoice", "amount"]
    search_fields = ["public_id", "company__name"]


@admin.register(SavedCard)
class SavedCardAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "company", "customer", "brand", "last4", "autopay", "removed_at"]
    list_filter = ["autopay"]
    search_fields = ["public_id", "customer__name", "company__name"]


@admin.register(StripeCustomer)
class StripeCustomerAdmin(ReadOnlyAdmin):
    list_display = ["customer", "stripe_account_id", "stripe_customer_id", "created_at"]
    search_fields = ["stripe_customer_id", "customer__name"]


@admin.register(QuickBooksConnection)
class QuickBooksConnectionAdmin(ReadOnlyAdmin):
    """The encrypted tokens never show, even encrypted."""

    list_display = ["company", "realm_id", "environment", "status", "last_sync_at"]
    list_filter = ["status", "environment"]
    search_fields = ["company__name", "realm_id"]
    exclude = ["access_token_encrypted", "refresh_token_encrypted"]


@admin.register(TaxMapping)
class TaxMappingAdmin(ReadOnlyAdmin):
    list_display = ["company", "tax_key", "tax_code_id"]
    search_fields = ["company__name", "tax_key"]


@admin.register(SyncRecord)
class SyncRecordAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "company", "kind", "label", "status", "qbo_id", "synced_at"]
    list_filter = ["status", "kind"]
    search_fields = ["public_id", "label", "qbo_id", "company__name"]


@admin.register(SyncLog)
class SyncLogAdmin(ReadOnlyAdmin):
    list_display = ["at", "company", "level", "message"]
    list_filter = ["level"]
    search_fields = ["message", "company__name"]
