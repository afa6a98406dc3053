from __future__ import annotations

from django.contrib import admin

from crewcommand.admin import ReadOnlyAdmin
from portal.models import CodeChallenge, PortalLink, Signature


@admin.register(PortalLink)
class PortalLinkAdmin(ReadOnlyAdmin):
    """Links are made and revoked from the dashboard (the raw token exists only there, once);
    staff can read them here. The token hash is not shown."""

    list_display = [
        "reference",
        "company",
        "customer",
        "estimate",
        "invoice",
        "channel",
        "created_at",
        "expires_at",
        "revoked_at",
        "view_count",
    ]
    list_filter = ["channel", "last_device"]
    search_fields = ["reference", "customer__name", "company__name", "sent_to"]
    list_select_related = ["company", "customer", "estimate", "invoice"]
    exclude = ["token_hash"]


@admin.register(Signature)
class SignatureAdmin(ReadOnlyAdmin):
    list_display = ["estimate", "signer_name", "company", "signed_at", "link_reference", "method"]
    list_filter = ["method"]
    search_fields = ["signer_name", "company__name", "link_reference", "content_sha256"]
    list_select_related = ["estimate", "company"]


@admin.register(CodeChallenge)
class CodeChallengeAdmin(ReadOnlyAdmin):
    """One-time codes: when, for which link, by which channel, tries and use. The code's HMAC
    and salt are not shown."""

    list_display = ["link", "purpose", "channel", "created_at", "expires_at", "tries", "used_at"]
    list_filter = ["purpose", "channel"]
    search_fields = ["link__reference", "company__name"]
    list_select_related = ["link"]
    exclude = ["code_hash", "salt"]
