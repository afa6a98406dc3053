"""Core models: the tenant (Company), who works there (Member), their customers and jobs, and the
activity log every service writes to."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower, Upper
from django.urls import reverse
from django.utils.timezone import now as timezone_now
from django.utils.translation import gettext_lazy as _

from crewcommand.lib.ids import new_public_id


class Province(models.TextChoices):
    AB = "AB", _("Alberta")
    BC = "BC", _("British Columbia")
    MB = "MB", _("Manitoba")
    NB = "NB", _("New Brunswick")
    NL = "NL", _("Newfoundland and Labrador")
    NS = "NS", _("Nova Scotia")
    NT = "NT", _("Northwest Territories")
    NU = "NU", _("Nunavut")
    ON = "ON", _("Ontario")
    PE = "PE", _("Prince Edward Island")
    QC = "QC", _("Quebec")
    SK = "SK", _("Saskatchewan")
    YT = "YT", _("Yukon")


CANADIAN_TIMEZONES = [
    ("America/St_Johns", _("Newfoundland")),
    ("America/Halifax", _("Atlantic")),
    ("America/Toronto", _("Eastern")),
    ("America/Winnipeg", _("Central")),
    ("America/Regina", _("Saskatchewan")),
    ("America/Edmonton", _("Mountain")),
    ("America/Vancouver", _("Pacific")),
    ("America/Whitehorse", _("Yukon")),
]

hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Enter a colour like #1d4ed8."))
postal_code = RegexValidator(
    r"^[A-Za-z]\d[A-Za-z][ -]?\d[A-Za-z]\d$", _("Enter a Canadian postal code like K1A 0B1.")
)


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(tz)s"), params={"tz": value})


class Language(models.TextChoices):
    """The languages customers can be served in (``settings.LANGUAGES``)."""

    ENGLISH = "en-ca", _("English")
    FRENCH = "fr-ca", _("French")


class PreferredChannel(models.TextChoices):
    """How a customer likes to get their messages (``Customer.preferred_channel``)."""

    SMS = "sms", _("Text (SMS)")
    EMAIL = "email", _("Email")
    BOTH = "both", _("Text and email")


def customer_language(customer: Customer, company: Company | None = None) -> str:
    """The language a customer is served in: their own choice, else their company's default
    (``company``, when the caller has it loaded, saves reading ``customer.company``)."""
    return customer.language or (company or customer.company).default_language


class Company(models.Model):
    public_id = models.CharField(max_length=20, unique=True, default=new_public_id, editable=False)
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("booking address"), max_length=60, unique=True)
    province = models.CharField(_("province"), max_length=2, choices=Province.choices)
    timezone = models.CharField(
        _("time zone"),
        max_length=40,
        choices=CANADIAN_TIMEZONES,
        default="America/Toronto",
        validators=[validate_timezone],
    )
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    website = models.URLField(_("website"), blank=True)
    address_line1 = models.CharField(_("address"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    postal_code = models.CharField(
        _("postal code"), max_length=7, blank=True, validators=[postal_code]
    )
    logo = models.ImageField(_("logo"), upload_to="logos/", blank=True)
    brand_color = models.CharField(
        _("brand colour"), max_length=7, default="#1d4ed8", validators=[hex_colour]
    )
    google_review_url = models.URLField(_("Google review link"), blank=True)
    gst_number = models.CharField(_("GST/HST number"), max_length=30, blank=True)
    qst_number = models.CharField(_("QST number"), max_length=30, blank=True)
    payment_instructions = models.TextField(
        _("other ways to pay"),
        blank=True,
        help_text=_(
            "Shown to customers when online payment is not available, e.g. Interac e-Transfer."
        ),
    )
    portal_link_days = models.PositiveSmallIntegerField(
        _("portal links expire after (days)"), default=60
    )
    # Blank or 0: never. Read by portal.models.PortalLink (closed documents: documents.models).
    portal_closed_link_days = models.PositiveSmallIntegerField(
        _("links to closed documents expire after (days)"),
        null=True,
        blank=True,
        default=90,
        help_text=_(
            "Days after an invoice is paid or voided, or an estimate declined, when its links "
            "stop opening it. Leave empty for never."
        ),
    )
    default_language = models.CharField(
        _("customers' language"),
        max_length=5,
        choices=Language.choices,
        default=Language.ENGLISH,
        help_text=_("Used for customers who have not chosen a language."),
    )
    # Messaging (crewcommand.messaging): the company's own Twilio sender, else the platform's.
    sms_from_number = models.CharField(
        _("SMS sender number"),
        max_length=16,
        blank=True,
        validators=[RegexValidator(r"^\+[1-9]\d{6,14}$", _("Enter a number like +16135550123."))],
        help_text=_("Your Twilio number, like +16135550123. Leave empty to use ours."),
    )
    sms_messaging_service_sid = models.CharField(
        _("Twilio messaging service"),
        max_length=34,
        blank=True,
        validators=[
            RegexValidator(r"^MG[0-9a-fA-F]{32}$", _("A messaging service id starts with MG."))
        ],
        help_text=_("Used instead of the sender number when set (starts with MG)."),
    )
    quiet_hours_start = models.TimeField(
        _("no texts from"),
        default=dt.time(21, 0),
        help_text=_("Texts due in quiet hours wait until they end (your time zone)."),
    )
    quiet_hours_end = models.TimeField(_("no texts until"), default=dt.time(9, 0))
    # Step-up: a one-time code sent to the link's contact before signing or paying (portal).
    step_up_required = models.BooleanField(
        _("ask for a one-time code before signing or paying"),
        default=False,
        help_text=_(
            "Customers get a 6-digit code by text or email before they sign an estimate or "
            "pay an invoice."
        ),
    )
    step_up_above = models.DecimalField(
        _("only above (CAD)"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Leave empty to ask for every estimate and invoice."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TenantModel(models.Model):
    """A row owned by one company, addressed in URLs by a random public id."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    public_id = models.CharField(max_length=20, unique=True, default=new_public_id, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    OFFICE = "office", _("Office")
    TECHNICIAN = "technician", _("Technician")


class Member(models.Model):
    """A user's role in a company. One company per user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="members")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    public_id = models.CharField(max_length=20, unique=True, default=new_public_id, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("member")
        ordering = ["user__first_name", "user__email"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.user.get_full_name() or self.user.email or self.user.username

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER


class Invitation(models.Model):
    """An owner's invitation for someone to join the company. The link carries a signed,
    expiring reference to this row; accepting it once makes it unusable."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="invitations")
    public_id = models.CharField(max_length=20, unique=True, default=new_public_id, editable=False)
    email = models.EmailField(_("email"))
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.OFFICE)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} → {self.company}"


class Customer(TenantModel):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="customers")
    name = models.CharField(_("name"), max_length=150)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("mobile phone"), max_length=30, blank=True)
    address_line1 = models.CharField(_("service address"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    province = models.CharField(_("province"), max_length=2, choices=Province.choices, blank=True)
    postal_code = models.CharField(
        _("postal code"), max_length=7, blank=True, validators=[postal_code]
    )
    notes = models.TextField(_("notes"), blank=True, max_length=5000)
    # Blank: the company's default (``customer_language``).
    language = models.CharField(_("language"), max_length=5, choices=Language.choices, blank=True)
    # Where messages that can go either way go (a document sent, reminders): see
    # ``crewcommand.messaging.consent.customer_channels``. Consent and opt-outs still win.
    preferred_channel = models.CharField(
        _("preferred channel"),
        max_length=5,
        choices=PreferredChannel.choices,
        default=PreferredChannel.BOTH,
        help_text=_(
            "Estimates, invoices and reminders go this way; the other way only when this one "
            "can't be used (no address, or opted out)."
        ),
    )
    # CASL: transactional messages need no consent; marketing needs express consent, recorded.
    marketing_consent_at = models.DateTimeField(_("marketing consent given"), null=True, blank=True)
    marketing_consent_source = models.CharField(max_length=200, blank=True)
    sms_opted_out_at = models.DateTimeField(_("SMS opted out"), null=True, blank=True)
    email_opted_out_at = models.DateTimeField(_("email opted out"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer")
        ordering = ["name"]
        indexes = [
            models.Index(Lower("name"), "company", name="customer_company_name_idx"),
            # Search by name (``icontains`` is ``UPPER(name) LIKE UPPER('%q%')``): trigrams,
            # led by the company so one index scan stays within the tenant. PostgreSQL only
            # (pg_trgm, btree_gin); the migration skips it on SQLite.
            GinIndex(
                "company",
                OpClass(Upper("name"), name="gin_trgm_ops"),
                name="customer_company_name_trgm",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("dashboard:customer_detail", args=[self.public_id])

    @property
    def address(self) -> str:
        parts = [self.address_line1, self.city, self.province, self.postal_code]
        return ", ".join(p for p in parts if p)


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")


class ContactRole(models.TextChoices):
    HOMEOWNER = "homeowner", _("Homeowner")
    SPOUSE = "spouse", _("Spouse or partner")
    TENANT = "tenant", _("Tenant")
    PROPERTY_MANAGER = "property_manager", _("Property manager")
    ACCOUNTS_PAYABLE = "accounts_payable", _("Accounts payable")
    OTHER = "other", _("Other")


class Contact(TenantModel):
    """A person at a customer who may receive documents, links and codes: a spouse, a tenant, a
    property manager, an accounts-payable clerk. Every customer has one primary contact, which
    mirrors the customer's own name, email and phone (made with the customer, kept in step by
    ``services.customer_update`` and ``services.contact_save``). Removed contacts are kept
    (``removed_at``): signatures and links still name them."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=150)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("mobile phone"), max_length=30, blank=True)
    role = models.CharField(
        _("role"), max_length=20, choices=ContactRole.choices, default=ContactRole.HOMEOWNER
    )
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=10, choices=Channel.choices, blank=True
    )
    email_consent = models.BooleanField(_("agreed to receive emails"), default=True)
    sms_consent = models.BooleanField(_("agreed to receive texts"), default=True)
    # Blank: the customer's language (``contact_language``).
    language = models.CharField(_("language"), max_length=5, choices=Language.choices, blank=True)
    is_primary = models.BooleanField(_("primary contact"), default=False)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("contact")
        ordering = ["-is_primary", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=models.Q(is_primary=True),
                name="contact_one_primary_per_customer",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.removed_at is None

    def can_email(self) -> bool:
        return bool(self.email) and self.email_consent

    def can_text(self) -> bool:
        return bool(self.phone) and self.sms_consent

    def send_channel(self) -> str:
        """How Send delivers a document's link: a text only when asked for, else email."""
        if self.preferred_channel == Channel.SMS and self.can_text():
            return Channel.SMS
        return Channel.EMAIL if self.can_email() else ""

    def best_channel(self) -> str:
        """How to reach this contact: their preference when it can be used, else email, else
        text; "" when neither is on file (or allowed)."""
        if self.preferred_channel == Channel.SMS and self.can_text():
            return Channel.SMS
        if self.preferred_channel == Channel.EMAIL and self.can_email():
            return Channel.EMAIL
        if self.can_email():
            return Channel.EMAIL
        return Channel.SMS if self.can_text() else ""


def contact_language(contact: Contact, customer: Customer, company: Company) -> str:
    return contact.language or customer.language or company.default_language


class JobStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    SCHEDULED = "scheduled", _("Scheduled")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class Job(TenantModel):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="jobs")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="jobs")
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True, max_length=10000)
    address = models.CharField(_("address"), max_length=300, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=JobStatus.choices, default=JobStatus.REQUESTED
    )
    scheduled_start = models.DateTimeField(_("starts"), null=True, blank=True)
    scheduled_end = models.DateTimeField(_("ends"), null=True, blank=True)
    assigned = models.ManyToManyField(
        Member, blank=True, related_name="jobs", verbose_name=_("crew")
    )
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("job")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scheduled_end__isnull=True)
                | models.Q(scheduled_start__isnull=True)
                | models.Q(scheduled_end__gt=models.F("scheduled_start")),
                name="job_window_ordered",
            )
        ]
        indexes = [models.Index(fields=["company", "status", "scheduled_start"])]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("dashboard:job_detail", args=[self.public_id])


class ActorKind(models.TextChoices):
    MEMBER = "member", _("Team member")
    CUSTOMER = "customer", _("Customer")
    SYSTEM = "system", _("System")


class Activity(models.Model):
    """Who did what to which object. Written by services through ``crewcommand.lib.activity``;
    read by timelines. Rows are never edited."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="activities")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    verb = models.CharField(max_length=60)
    target_type = models.ForeignKey(
        ContentType, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    target_id = models.PositiveBigIntegerField(null=True, blank=True)
    target = GenericForeignKey("target_type", "target_id")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="activities"
    )
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activity")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id", "-created_at"]),
            models.Index(fields=["company", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.verb} by {self.actor_label or self.actor_kind}"

    @property
    def description(self) -> str:
        from crewcommand.lib.activity import describe

        return describe(self)


# --- Messaging (crewcommand.messaging): the outbox, consent and opt-outs -----------------------


class MessageKind(models.TextChoices):
    # CASL: what the customer asked for (an estimate, an invoice, a receipt, appointment
    # details) needs no consent; anything promoting the business (review requests, rebooking
    # reminders) needs consent, express or implied.
    TRANSACTIONAL = "transactional", _("Transactional")
    COMMERCIAL = "commercial", _("Commercial")


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    BLOCKED = "blocked", _("Blocked")


class Message(TenantModel):
    """One outgoing email or SMS: the outbox row. Written by ``crewcommand.messaging.queue`` in
    the transaction of the change that caused it, sent by ``crewcommand.tasks.send_message``.

    ``subject``/``body``/``html`` are the readable copies shown in the message log, with every
    secret link redacted (``crewcommand.lib.logging.redact``); when the text held a secret link
    the full text is kept only in ``sealed`` (Fernet, ``crewcommand.lib.sealed``) and opened by
    the worker at send time."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="messages")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    to = models.CharField(_("to"), max_length=254)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("message"))
    html = models.TextField(blank=True)
    sealed = models.TextField(blank=True)
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    concerning_type = models.ForeignKey(
        ContentType, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    concerning_id = models.PositiveBigIntegerField(null=True, blank=True)
    concerning = GenericForeignKey("concerning_type", "concerning_id")
    kind = models.CharField(
        _("kind"), max_length=15, choices=MessageKind.choices, default=MessageKind.TRANSACTIONAL
    )
    template = models.CharField(max_length=60, blank=True)
    # Idempotency: a second queue() with the same non-empty key for the company returns the
    # first row instead of writing another.
    key = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    send_after = models.DateTimeField(_("due"), default=timezone_now)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Written just before an SMS is handed to Twilio and kept until its outcome is recorded: a
    # row claimed again with it set may already be at Twilio, which is asked before resending.
    handed_at = models.DateTimeField(null=True, blank=True)
    # When beat's requeue last handed this row to the broker: it is not handed again while that
    # task may still be waiting in a long queue (``outbox.requeue_again``).
    requeued_at = models.DateTimeField(null=True, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(max_length=100, blank=True)
    error_code = models.CharField(max_length=20, blank=True)
    last_error = models.TextField(blank=True)
    blocked_reason = models.CharField(max_length=300, blank=True)
    unsubscribe_hash = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "key"],
                condition=~models.Q(key=""),
                name="message_company_key_unique",
            )
        ]
        indexes = [
            models.Index(fields=["company", "-created_at"]),
            models.Index(fields=["customer", "-created_at"]),
            models.Index(fields=["status", "send_after"]),
            models.Index(fields=["provider_id"]),
            models.Index(fields=["unsubscribe_hash"]),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("messages:message_detail", args=[self.public_id])


class ConsentKind(models.TextChoices):
    EXPRESS = "express", _("Express")
    IMPLIED = "implied", _("Implied")


class Consent(models.Model):
    """A customer's CASL consent to commercial messages on one channel. Express consent lasts
    until withdrawn; implied consent (a purchase) expires two years after ``given_at``."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    kind = models.CharField(max_length=10, choices=ConsentKind.choices)
    source = models.CharField(max_length=200, blank=True)
    given_at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("consent")
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "channel"], name="consent_customer_channel_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.channel} {self.kind}"


class SmsOptOut(models.Model):
    """A number that replied STOP. ``company`` is the company whose sender got the reply, or
    null when it came to the platform's shared sender (then no company may text the number).
    Opted-out numbers are never sent to; START removes the row."""

    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    phone = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("SMS opt-out")
        constraints = [
            # One row per company and number, and one per number for the shared sender (no
            # company: NULL, distinct in a unique index, hence the partial one; SQLite, the
            # laptop default, has no NULLS NOT DISTINCT).
            models.UniqueConstraint(
                fields=["company", "phone"],
                name="smsoptout_company_phone_unique",
            ),
            models.UniqueConstraint(
                fields=["phone"],
                condition=models.Q(company__isnull=True),
                name="smsoptout_platform_phone_unique",
            ),
        ]
        indexes = [models.Index(fields=["phone"])]

    def __str__(self) -> str:
        return self.phone
