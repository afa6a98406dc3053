from __future__ import annotations

from django.contrib import admin

from crewcommand.admin import ReadOnlyAdmin
from reviews.models import ReviewOptOut, ReviewRequest, ReviewSettings


@admin.register(ReviewRequest)
class ReviewRequestAdmin(ReadOnlyAdmin):
    """Requests are made from the dashboard; staff can read them here. Neither the token's hash
    nor its nonce is shown (with SECRET_KEY, the nonce gives the link)."""

    list_display = [
        "customer",
        "company",
        "created_at",
        "sent_at",
        "open_count",
        "click_count",
        "first_clicked_at",
    ]
    search_fields = ["customer__name", "company__name", "sent_to"]
    list_select_related = ["company", "customer"]
    exclude = ["token_hash", "token_nonce"]


@admin.register(ReviewSettings)
class ReviewSettingsAdmin(ReadOnlyAdmin):
    list_display = ["company", "request_every_days", "updated_at"]
    list_select_related = ["company"]


@admin.register(ReviewOptOut)
class ReviewOptOutAdmin(ReadOnlyAdmin):
    list_display = ["customer", "company", "created_at"]
    list_select_related = ["company", "customer"]
