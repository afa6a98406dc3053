"""Review requests: a tracked link that thanks a customer and sends them on to the company's
Google review page.

Everyone gets the same path to Google: the page never asks "how did we do?" first (Google
forbids review gating). A request's secret token is never stored: only its SHA-256 is
(``token_hash``), and the raw token is re-derived from the row when the link is sent again
(see ``reviews.tokens``).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from crewcommand.models import Company, Customer, Job, TenantModel

DEFAULT_REQUEST_EVERY_DAYS = 90


class ReviewSettings(models.Model):
    """A company's review settings, beside the core ``Company`` row (which keeps the Google
    review link itself). A company without a row gets the defaults."""

    company = models.OneToOneField(
        Company, on_delete=models.CASCADE, related_name="review_settings"
    )
    request_every_days = models.PositiveSmallIntegerField(
        _("ask the same customer at most once every (days)"),
        default=DEFAULT_REQUEST_EVERY_DAYS,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("A customer who already followed a review link is never asked again."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("review settings")
        verbose_name_plural = _("review settings")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(request_every_days__gte=1, request_every_days__lte=3650),
                name="review_settings_days_in_range",
            )
        ]

    def __str__(self) -> str:
        return str(self.company)


class ReviewOptOut(models.Model):
    """A customer who asked not to be asked for reviews. The customer's own
    ``email_opted_out_at`` also stops review emails; this one stops review requests on every
    channel."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, related_name="review_opt_out"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("review opt-out")

    def __str__(self) -> str:
        return str(self.customer)


class ReviewRequest(TenantModel):
    """One request for a review: at most one per customer per throttle window. Sending again
    inside the window is refused; ``review_link_for`` reuses the row (and its link)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="review_requests")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="review_requests")
    job = models.ForeignKey(
        Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="review_requests"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # Random per row; with SECRET_KEY it re-derives the raw token (reviews.tokens). Useless alone.
    token_nonce = models.CharField(max_length=32, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)
    sent_to = models.CharField(_("sent to"), max_length=254, blank=True)
    send_count = models.PositiveIntegerField(_("times sent"), default=0)
    first_opened_at = models.DateTimeField(_("first opened"), null=True, blank=True)
    last_opened_at = models.DateTimeField(_("last opened"), null=True, blank=True)
    open_count = models.PositiveIntegerField(_("opens"), default=0)
    first_clicked_at = models.DateTimeField(_("first click"), null=True, blank=True)
    last_clicked_at = models.DateTimeField(_("last click"), null=True, blank=True)
    click_count = models.PositiveIntegerField(_("clicks"), default=0)
    # Optional private feedback, beside the Google button (never instead of it).
    feedback = models.TextField(_("private feedback"), blank=True, max_length=2000)
    feedback_at = models.DateTimeField(_("feedback given"), null=True, blank=True)

    class Meta:
        verbose_name = _("review request")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["company", "customer", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.customer} ({self.created_at:%Y-%m-%d})" if self.created_at else "—"

    def in_window(self, now: dt.datetime, days: int) -> bool:
        """Whether this request still covers the customer: clicked (never ask again), or
        made or last sent less than ``days`` ago."""
        cutoff = now - dt.timedelta(days=days)
        recent_send = self.sent_at is not None and self.sent_at > cutoff
        return self.click_count > 0 or self.created_at > cutoff or recent_send
