"""Automations: per company, a trigger (an event of the activity log or a point in time), a
channel, a recipient and a template with variables; and one row per time an automation fired
for an object, so nothing fires twice (``AutomationRun``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _

from crewcommand.models import Company, TenantModel


class Trigger(models.TextChoices):
    ESTIMATE_SENT = "estimate_sent", _("Estimate sent")
    ESTIMATE_UNANSWERED = "estimate_unanswered", _("Estimate not answered after a while")
    ESTIMATE_ACCEPTED = "estimate_accepted", _("Estimate accepted")
    INVOICE_SENT = "invoice_sent", _("Invoice sent")
    INVOICE_OVERDUE = "invoice_overdue", _("Invoice overdue for a while")
    PAYMENT_RECEIVED = "payment_received", _("Payment received")
    JOB_SCHEDULED = "job_scheduled", _("Job scheduled")
    JOB_REMINDER = "job_reminder", _("Before a scheduled job")
    JOB_COMPLETED = "job_completed", _("Job completed")
    SERVICE_REQUEST = "service_request", _("Service request received")


# Triggers that fire at a point in time (found by the beat scan, ``services.scan_due``); their
# wait is the N of "after N days" / "N hours before", not a delay.
TIMED_TRIGGERS = frozenset(
    {Trigger.ESTIMATE_UNANSWERED, Trigger.INVOICE_OVERDUE, Trigger.JOB_REMINDER}
)


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")
    BOTH = "both", _("SMS and email")
    PREFERRED = "preferred", _("The customer's preferred channel")


class Recipient(models.TextChoices):
    CUSTOMER = "customer", _("The customer")
    COMPANY = "company", _("Your company (its email and phone)")


class Kind(models.TextChoices):
    TRANSACTIONAL = "transactional", _("Transactional")
    COMMERCIAL = "commercial", _("Commercial (needs consent)")


class WaitUnit(models.TextChoices):
    HOURS = "hours", _("hours")
    DAYS = "days", _("days")


@dataclass(frozen=True)
class Texts:
    """The message an automation sends in one language: ``language`` is the one used (``"en"``
    or ``"fr"``); ``fallback`` says it is not the recipient's (theirs was left empty)."""

    language: str
    subject: str
    body: str
    fallback: bool


class Automation(TenantModel):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="automations")
    # Which default this is ("invoice_overdue_3"): lets the backfill and new companies get each
    # default once. Empty for automations the company made itself.
    key = models.SlugField(max_length=40, blank=True, editable=False)
    name = models.CharField(_("name"), max_length=120)
    trigger = models.CharField(_("when"), max_length=30, choices=Trigger.choices)
    wait = models.PositiveIntegerField(_("wait"), default=0)
    wait_unit = models.CharField(
        _("unit"), max_length=5, choices=WaitUnit.choices, default=WaitUnit.HOURS
    )
    # wait times unit, kept by save() so the beat scan compares it in SQL.
    offset = models.DurationField(default=dt.timedelta, editable=False)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    recipient = models.CharField(
        _("send to"), max_length=10, choices=Recipient.choices, default=Recipient.CUSTOMER
    )
    kind = models.CharField(
        _("kind of message"), max_length=15, choices=Kind.choices, default=Kind.TRANSACTIONAL
    )
    enabled = models.BooleanField(_("on"), default=True)
    # The message in English and in French: each customer gets the one in their language
    # (``crewcommand.models.customer_language``); an empty one falls back to the other.
    subject = models.CharField(_("email subject"), max_length=200, blank=True)
    body = models.TextField(_("message"), max_length=1600, blank=True)
    subject_fr = models.CharField(_("email subject (French)"), max_length=200, blank=True)
    body_fr = models.TextField(_("message (French)"), max_length=1600, blank=True)
    last_fired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("automation")
        ordering = ["trigger", "offset", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "key"],
                condition=~models.Q(key=""),
                name="automation_default_once",
            ),
            models.CheckConstraint(
                condition=models.Q(wait__lte=24 * 3650), name="automation_wait_bounded"
            ),
            models.CheckConstraint(
                condition=~models.Q(body="", body_fr=""), name="automation_has_a_message"
            ),
        ]
        indexes = [models.Index(fields=["trigger", "enabled"])]

    def __str__(self) -> str:
        return self.name

    @property
    def missing_languages(self) -> list[str]:
        """The languages (``"en"``, ``"fr"``) this automation has no message in."""
        return [code for code, body in (("en", self.body), ("fr", self.body_fr)) if not body]

    def texts(self, language: str) -> Texts:
        """The subject and body for a recipient served in ``language`` (``"fr-ca"``…): that
        language's, else the other one's (``fallback`` set)."""
        french = language.lower().startswith("fr")
        mine = (self.subject_fr, self.body_fr) if french else (self.subject, self.body)
        other = (self.subject, self.body) if french else (self.subject_fr, self.body_fr)
        if mine[1]:
            return Texts("fr" if french else "en", mine[0] or other[0], mine[1], False)
        return Texts("en" if french else "fr", other[0] or mine[0], other[1], True)

    @property
    def is_timed(self) -> bool:
        return self.trigger in TIMED_TRIGGERS

    def compute_offset(self) -> dt.timedelta:
        unit = dt.timedelta(days=1) if self.wait_unit == WaitUnit.DAYS else dt.timedelta(hours=1)
        return self.wait * unit

    def save(self, *args, **kwargs) -> None:
        self.offset = self.compute_offset()
        if kwargs.get("update_fields") is not None and "wait" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "offset"}
        super().save(*args, **kwargs)


class RunOutcome(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SKIPPED = "skipped", _("Skipped")


class AutomationRun(models.Model):
    """One firing of an automation for one object: an activity row (event triggers), an
    estimate or invoice (follow-ups), or a job at one start time (reminders; a rescheduled job
    gets a new reminder). The unique constraint is what makes a trigger fire once, however
    often the event is replayed or the beat scan runs, and by however many workers."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="runs")
    object_kind = models.CharField(max_length=20)
    object_id = models.PositiveBigIntegerField()
    occurrence = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=10, choices=RunOutcome.choices)
    reason = models.CharField(max_length=300, blank=True)
    messages = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Once per object and occurrence; an event's run has no occurrence (NULL), and NULLs
            # are distinct in a unique index, so a partial index holds those once too (SQLite,
            # the laptop default, has no NULLS NOT DISTINCT).
            models.UniqueConstraint(
                fields=["automation", "object_kind", "object_id", "occurrence"],
                name="automation_run_once",
            ),
            models.UniqueConstraint(
                fields=["automation", "object_kind", "object_id"],
                condition=models.Q(occurrence__isnull=True),
                name="automation_run_once_per_event",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.automation_id} {self.object_kind}:{self.object_id}"
