"""Service requests (from the public booking page or the portal) and each company's booking
settings (the services it offers, its business hours).

Booking settings live here, one row per company created on first save, rather than on core's
``Company``: the core never learns about booking. A company without a row gets the defaults
(``DEFAULT_OPEN_DAYS``, 8:00 to 17:00, no services listed but "Other").
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from crewcommand.lib.ids import new_public_id
from crewcommand.models import Company, Customer, Job, Language, Member, TenantModel

DEFAULT_OPEN_DAYS = [0, 1, 2, 3, 4]  # Monday to Friday (date.weekday())
DEFAULT_OPENS_AT = dt.time(8)
DEFAULT_CLOSES_AT = dt.time(17)
MAX_SERVICES = 30


def validate_open_days(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(d, int) and 0 <= d <= 6 for d in value):
        raise ValidationError(_("Choose the days you work."))


class BookingSettings(models.Model):
    """What the company's booking page offers. Edited by owners (``booking.settings``)."""

    company = models.OneToOneField(
        Company, on_delete=models.CASCADE, related_name="booking_settings"
    )
    enabled = models.BooleanField(
        _("booking page is on"),
        default=True,
        help_text=_("When off, the booking page answers “not found”."),
    )
    services = models.TextField(
        _("services you offer"),
        blank=True,
        max_length=3000,
        help_text=_("One per line, e.g. “Water heater repair”. Customers can also choose “Other”."),
    )
    open_days = models.JSONField(
        _("days you work"), default=list, blank=True, validators=[validate_open_days]
    )
    opens_at = models.TimeField(_("opens at"), default=DEFAULT_OPENS_AT)
    closes_at = models.TimeField(_("closes at"), default=DEFAULT_CLOSES_AT)
    intro = models.CharField(
        _("welcome line"),
        max_length=200,
        blank=True,
        help_text=_("Shown at the top of the booking page, e.g. “Serving the GTA since 1998.”"),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("booking settings")
        verbose_name_plural = _("booking settings")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes_at__gt=models.F("opens_at")),
                name="booking_hours_ordered",
            )
        ]

    def __str__(self) -> str:
        return f"Booking settings of {self.company_id}"

    def clean(self) -> None:
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValidationError({"closes_at": _("Closing time must be after opening time.")})

    @property
    def service_list(self) -> list[str]:
        seen: list[str] = []
        for line in self.services.splitlines():
            name = line.strip()
            if name and name not in seen:
                seen.append(name[:100])
        return seen[:MAX_SERVICES]


class RequestStatus(models.TextChoices):
    NEW = "new", _("New")
    CONVERTED = "converted", _("Converted")
    DISMISSED = "dismissed", _("Dismissed")


class RequestSource(models.TextChoices):
    BOOKING_PAGE = "booking_page", _("Booking page")
    PORTAL = "portal", _("Customer portal")


class Window(models.TextChoices):
    MORNING = "morning", _("Morning")
    AFTERNOON = "afternoon", _("Afternoon")
    ANY = "any", _("Any time")


class ServiceRequest(TenantModel):
    """A request for service: contact, address, what is needed, preferred times. Becomes a job
    (converted) or is dismissed with a reason; never deleted by the app."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=20, choices=RequestSource.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=RequestStatus.choices, default=RequestStatus.NEW
    )
    # Set for portal requests (the link's customer) and once converted.
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    name = models.CharField(_("name"), max_length=150)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    address = models.CharField(_("service address"), max_length=300)
    service = models.CharField(_("service"), max_length=100)
    description = models.TextField(_("description"), max_length=4000, blank=True)
    # [{"date": "2026-12-03", "window": "morning"}, …] in the company's time zone.
    preferred = models.JSONField(default=list, blank=True)
    marketing_email = models.BooleanField(default=False)
    marketing_sms = models.BooleanField(default=False)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    # The language of the booking page the requester used (their browser's): their
    # confirmation email is in it, and so is the customer made from the request.
    language = models.CharField(
        _("language"), max_length=5, choices=Language.choices, default=Language.ENGLISH
    )
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    handled_by = models.ForeignKey(
        Member, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    dismiss_reason = models.CharField(_("reason"), max_length=300, blank=True)
    # Exactly-once claims for the two emails (booking.notifications).
    requester_notified_at = models.DateTimeField(null=True, blank=True)
    company_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("service request")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["company", "status", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="converted") | models.Q(job__isnull=False),
                name="service_request_converted_has_job",
            )
        ]

    def __str__(self) -> str:
        return f"{self.service} for {self.name}"

    @property
    def is_open(self) -> bool:
        return self.status == RequestStatus.NEW

    @property
    def preferred_times(self) -> list[tuple[dt.date, str]]:
        """The preferred days and windows, readable (anything malformed left out)."""
        found = []
        for entry in self.preferred or []:
            try:
                day = dt.date.fromisoformat(entry["date"])
            except (KeyError, TypeError, ValueError):
                continue
            window = entry.get("window")
            label = Window(window).label if window in Window.values else Window.ANY.label
            found.append((day, str(label)))
        return found


class ServiceRequestPhoto(models.Model):
    """A photo attached to a request: re-encoded by ``booking.photos`` (no metadata), stored
    through Django's storage API."""

    request = models.ForeignKey(ServiceRequest, on_delete=models.CASCADE, related_name="photos")
    public_id = models.CharField(max_length=20, unique=True, default=new_public_id, editable=False)
    file = models.FileField(upload_to="booking/", max_length=200)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.file.name
