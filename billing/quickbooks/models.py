"""QuickBooks connection, per-record sync state (the claim row) and the sync log.

Imported by ``billing.models`` so that Django finds these models in the billing app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crewcommand.models import Company, TenantModel


class ConnectionStatus(models.TextChoices):
    CONNECTED = "connected", _("Connected")
    NEEDS_RECONNECT = "reconnect", _("Needs reconnecting")
    DISCONNECTED = "disconnected", _("Disconnected")


class QuickBooksConnection(models.Model):
    """One company's link to one QuickBooks company (realm). Tokens are Fernet-encrypted."""

    company = models.OneToOneField(
        Company, on_delete=models.CASCADE, related_name="quickbooks_connection"
    )
    realm_id = models.CharField(max_length=64, blank=True)
    environment = models.CharField(max_length=20, blank=True)
    status = models.CharField(
        max_length=20, choices=ConnectionStatus.choices, default=ConnectionStatus.DISCONNECTED
    )
    access_token_encrypted = models.TextField(blank=True)
    refresh_token_encrypted = models.TextField(blank=True)
    access_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_expires_at = models.DateTimeField(null=True, blank=True)
    company_name = models.CharField(max_length=200, blank=True)
    item_id = models.CharField(max_length=64, blank=True)
    # The company's QuickBooks tax codes, read at connect time and on "Refresh the list":
    # [{"id": "4", "name": "GST", "rates": ["5"]}, ...]. Pages read this, never QuickBooks.
    tax_codes = models.JSONField(default=list, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_pull_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("QuickBooks connection")

    def __str__(self) -> str:
        return f"QuickBooks {self.realm_id or '-'} ({self.status})"

    @property
    def is_connected(self) -> bool:
        return self.status == ConnectionStatus.CONNECTED


class TaxMapping(models.Model):
    """Which QuickBooks tax code a CrewCommand tax situation (``ON:all``, ``QC:federal``,
    ``exempt``) uses. A missing row means "not chosen yet": such invoices need attention."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    tax_key = models.CharField(max_length=20)
    tax_code_id = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "tax_key"], name="qbo_tax_mapping_unique")
        ]

    def __str__(self) -> str:
        return f"{self.tax_key} -> {self.tax_code_id}"


class RecordKind(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    INVOICE = "invoice", _("Invoice")
    PAYMENT = "payment", _("Payment")
    REFUND = "refund", _("Refund")


class SyncStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SYNCING = "syncing", _("Syncing")
    SYNCED = "synced", _("Synced")
    ERROR = "error", _("Error")
    ATTENTION = "attention", _("Needs attention")


CLAIMABLE = (SyncStatus.PENDING, SyncStatus.ERROR)


class SyncRecord(TenantModel):
    """The sync state of one local record, and the claim row workers take.

    A worker pushes a record only after moving it PENDING/ERROR -> SYNCING with one
    conditional UPDATE, so two workers never push the same record at once."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=RecordKind.choices)
    local_id = models.BigIntegerField()
    label = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=SyncStatus.choices, default=SyncStatus.PENDING)
    qbo_id = models.CharField(max_length=64, blank=True)
    sync_token = models.CharField(max_length=32, blank=True)
    message = models.CharField(max_length=1000, blank=True)
    # Ambiguous customer matches: [{"id": "12", "name": "…", "email": "…"}].
    candidates = models.JSONField(default=list, blank=True)
    create_new = models.BooleanField(default=False)
    # Changed while a worker was pushing it: pushed again when that push ends.
    dirty = models.BooleanField(default=False)
    # True when the record came from QuickBooks (a payment entered there): never pushed back.
    from_quickbooks = models.BooleanField(default=False)
    # A deposit (a payment on an estimate, pushed unapplied: a credit on the customer's account)
    # remembers the QuickBooks invoice it was applied to once the invoice exists there.
    applied_to = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "kind", "local_id"], name="qbo_record_unique"
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="qbo_record_due_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.local_id} ({self.status})"

    @property
    def badge_status(self) -> str:
        """The shared badge colour for this status (colour plus word, never colour alone)."""
        return BADGE_STATUS[self.status]


BADGE_STATUS: dict[str, str] = {
    SyncStatus.PENDING: "processing",
    SyncStatus.SYNCING: "processing",
    SyncStatus.SYNCED: "paid",
    SyncStatus.ERROR: "failed",
    SyncStatus.ATTENTION: "overdue",
}


class SyncLog(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey(
        SyncRecord, on_delete=models.SET_NULL, null=True, blank=True, related_name="log"
    )
    at = models.DateTimeField(auto_now_add=True)
    level = models.CharField(max_length=10, default="info")
    message = models.CharField(max_length=1000)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["company", "-at"], name="qbo_log_company_at_idx")]

    def __str__(self) -> str:
        return self.message
